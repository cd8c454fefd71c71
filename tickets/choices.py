"""The configuration lists every staff page offers in its menus, read in one query.

Priorities, statuses, departments, help topics, SLA plans, agents and who belongs where are
small tables read on every queue and ticket page. Read one by one they would cost a query
each; here they come back in one UNION ALL of (kind, id, name, order, extra) rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import CharField, F, IntegerField, Value
from django.db.models.functions import Cast

from accounts.models import DepartmentMembership, User
from sla.models import SLAPlan
from tickets.models import Department, HelpTopic, Priority, Status


@dataclass(frozen=True)
class Choice:
    id: int
    name: str
    extra: str = ""


@dataclass
class ReferenceData:
    priorities: list[Choice] = field(default_factory=list)
    statuses: list[Choice] = field(default_factory=list)  # extra: the status's state
    departments: list[Choice] = field(default_factory=list)
    help_topics: list[Choice] = field(default_factory=list)
    sla_plans: list[Choice] = field(default_factory=list)
    agents: list[Choice] = field(default_factory=list)  # extra: the user's kind
    # agent id -> the ids of the departments they belong to
    memberships: dict[int, set[int]] = field(default_factory=dict)
    _agents_by_id: dict[int, Choice] | None = field(default=None, repr=False, compare=False)

    def pairs(self, kind: str) -> list[tuple[int, str]]:
        return [(c.id, c.name) for c in getattr(self, kind)]

    def may_hold(self, agent_id: int, department_id: int) -> bool:
        """Whether the agent can be given tickets of the department (as the services decide)."""
        agent = self.agents_by_id.get(agent_id)
        return agent is not None and (
            agent.extra == User.Kind.ADMIN or department_id in self.memberships.get(agent_id, set())
        )

    @property
    def agents_by_id(self) -> dict[int, Choice]:
        # Built once: the transfer form asks for every agent and department (200 x 20 here).
        if self._agents_by_id is None or len(self._agents_by_id) != len(self.agents):
            self._agents_by_id = {a.id: a for a in self.agents}
        return self._agents_by_id

    def holders(self, department_id: int) -> list[Choice]:
        return [a for a in self.agents if self.may_hold(a.id, department_id)]


def _rows(queryset, kind: str, order: str | int, extra: str | None = None):  # type: ignore[no-untyped-def]
    return queryset.order_by().values_list(
        Value(kind, output_field=CharField()),
        "id",
        "name",
        Cast(F(order), IntegerField()) if isinstance(order, str) else Value(order, output_field=IntegerField()),
        Cast(F(extra), CharField()) if extra else Value("", output_field=CharField()),
    )


def reference_data() -> ReferenceData:
    members = (
        DepartmentMembership.objects.filter(agent__is_active=True)
        .order_by()
        .values_list(
            Value("member", output_field=CharField()),
            "agent_id",
            Value("", output_field=CharField()),
            Cast(F("department_id"), IntegerField()),
            Value("", output_field=CharField()),
        )
    )
    query = _rows(Priority.objects.all(), "priorities", "urgency", "color").union(
        _rows(Status.objects.all(), "statuses", "order", "state"),
        _rows(Department.objects.filter(is_active=True), "departments", 0),
        _rows(HelpTopic.objects.filter(is_active=True), "help_topics", 0),
        _rows(SLAPlan.objects.filter(is_active=True), "sla_plans", 0),
        _rows(User.objects.filter(is_active=True, kind__in=[User.Kind.AGENT, User.Kind.ADMIN]), "agents", 0, "kind"),
        members,
        all=True,
    )
    data = ReferenceData()
    for kind, pk, name, order, extra in sorted(query, key=lambda row: (row[0], row[3], row[2].lower(), row[1])):
        if kind == "member":
            data.memberships.setdefault(pk, set()).add(order)
        else:
            getattr(data, kind).append(Choice(pk, name, extra))
    return data
