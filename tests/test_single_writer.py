"""Only tickets/services.py assigns a ticket's status, department, assignee, priority or SLA plan."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GUARDED = {"status", "state", "department", "assignee", "priority", "sla_plan"}
GUARDED |= {f"{name}_id" for name in GUARDED}
ALLOWED = {ROOT / "tickets" / "services.py"}
SKIP_PARTS = {"migrations", "tests", ".venv", "var", "bench", "node_modules"}
# The receiver of a write names a ticket: `ticket.status`, `Ticket.objects…update(…)`, `self.ticket`.
TICKETISH = re.compile(r"(?<![A-Za-z_])(Ticket|ticket|tickets)(?![A-Za-z])")


def project_files() -> list[Path]:
    return [
        path
        for path in ROOT.rglob("*.py")
        if not SKIP_PARTS.intersection(path.relative_to(ROOT).parts) and path not in ALLOWED
    ]


def guarded_writes(source: str) -> list[tuple[int, str]]:
    """Attribute assignments (`x.status = …`) and `.update(status=…)` calls on guarded fields."""
    found = []
    for node in ast.walk(ast.parse(source)):
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AugAssign | ast.AnnAssign):
            targets = [node.target]
        for target in targets:
            for leaf in ast.walk(target):
                if (
                    isinstance(leaf, ast.Attribute)
                    and leaf.attr in GUARDED
                    and TICKETISH.search(ast.unparse(leaf.value))
                ):
                    found.append((node.lineno, leaf.attr))
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("update", "bulk_update")
            and TICKETISH.search(ast.unparse(node.func.value))
        ):
            found.extend((node.lineno, kw.arg) for kw in node.keywords if kw.arg in GUARDED)
            found.extend(
                (node.lineno, field) for arg in node.args for field in _string_constants(arg) if field in GUARDED
            )
    return found


def _string_constants(node: ast.expr) -> list[str]:
    return [leaf.value for leaf in ast.walk(node) if isinstance(leaf, ast.Constant) and isinstance(leaf.value, str)]


def test_the_checker_catches_each_kind_of_write() -> None:
    source = (
        "ticket.status = s\n"
        "Ticket.objects.filter(pk=1).update(assignee_id=2)\n"
        "self.ticket.priority_id = 3\n"
        "Ticket.objects.bulk_update(rows, ['department'])\n"
        "other.name = 'x'\n"
        "notification.state = 'sent'\n"
    )
    assert sorted(guarded_writes(source)) == [(1, "status"), (2, "assignee_id"), (3, "priority_id"), (4, "department")]


def test_no_module_but_the_ticket_services_writes_guarded_fields() -> None:
    offenders = []
    for path in project_files():
        for line, field in guarded_writes(path.read_text()):
            offenders.append(f"{path.relative_to(ROOT)}:{line} writes {field}")
    assert offenders == []
