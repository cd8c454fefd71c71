"""The dashboard: the agent's own load, the backlog, flow, SLA compliance and workload."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import render

from tickets.dashboard import Dashboard, dashboard_for, duration_label
from tickets.exports import csv_response
from tickets.views.staff.base import agent, agent_required

CHART_HEIGHT = 120
BAR_WIDTH = 8


def _flow_chart(board: Dashboard) -> dict[str, object]:
    """Bar geometry for the created-vs-resolved chart (an SVG drawn by the template)."""
    peak = max([1, *(max(d.created, d.resolved) for d in board.days)])
    bars = []
    for i, day in enumerate(board.days):
        x = i * (2 * BAR_WIDTH + 4)
        created = round(CHART_HEIGHT * day.created / peak)
        resolved = round(CHART_HEIGHT * day.resolved / peak)
        bars.append(
            {
                "day": day,
                "x": x,
                "x2": x + BAR_WIDTH,
                "created_y": CHART_HEIGHT - created,
                "created_h": created,
                "resolved_y": CHART_HEIGHT - resolved,
                "resolved_h": resolved,
                # Dates under the first and last bars and under Mondays not crowding them.
                "label": "start"
                if i == 0
                else "end"
                if i == len(board.days) - 1
                else "week"
                if day.day.weekday() == 0 and 3 <= i <= len(board.days) - 5
                else "",
            }
        )
    return {"bars": bars, "width": len(board.days) * (2 * BAR_WIDTH + 4), "height": CHART_HEIGHT, "peak": peak}


@agent_required
def dashboard(request: HttpRequest) -> HttpResponse:
    board = dashboard_for(user=agent(request))
    backlog_peak = max([1, *(r.total for r in board.backlog)])
    workload_peak = max([1, *(r.open for r in board.workload)])
    context = {
        "board": board,
        "flow": _flow_chart(board),
        "backlog": [(r, round(100 * r.total / backlog_peak)) for r in board.backlog],
        "workload": [(r, round(100 * r.open / workload_peak)) for r in board.workload],
        "first_response_median": duration_label(board.first_response_median),
        "resolution_median": duration_label(board.resolution_median),
    }
    return render(request, "staff/dashboard.html", context)


TABLES = ("backlog", "flow", "sla", "workload", "times")


@agent_required
def dashboard_export(request: HttpRequest, table: str) -> HttpResponseBase:
    if table not in TABLES:
        raise Http404("No such table.")
    board = dashboard_for(user=agent(request))
    header: Sequence[str]
    rows: list[Sequence[object]]
    if table == "backlog":
        header = ("Department", "Open", "Waiting on customer", "Unassigned", "Overdue")
        rows = [(r.department, r.open, r.waiting, r.unassigned, r.overdue) for r in board.backlog]
    elif table == "flow":
        header = ("Day", "Created", "Resolved")
        rows = [(d.day.isoformat(), d.created, d.resolved) for d in board.days]
    elif table == "sla":
        header = ("Target", "Met", "Missed", "Pending", "% met")
        rows = [(r.target, r.met, r.missed, r.pending, r.percent) for r in board.compliance]
    elif table == "workload":
        header = ("Agent", "Open", "Overdue", "Resolved (30 days)")
        rows = [(r.agent, r.open, r.overdue, r.resolved) for r in board.workload]
    else:
        header = ("Figure", "Hours")
        rows = [
            ("Median first response", _hours(board.first_response_median)),
            ("Median resolution", _hours(board.resolution_median)),
            ("Tickets created in the period", board.measured_tickets),
        ]
    return csv_response(f"dashboard-{table}.csv", header, rows)


def _hours(value: timedelta | None) -> float | None:
    return round(value.total_seconds() / 3600, 2) if isinstance(value, timedelta) else None
