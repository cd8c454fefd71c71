"""The seed story's cast and configuration (../PRODUCT.md), so that anyone can replay it.

Idempotent: a second run changes nothing but the passwords it is asked to set.
"""

from __future__ import annotations

import secrets
from datetime import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

from accounts.models import DepartmentMembership, Role, User
from api.models import ApiKey
from api.services import api_key_create
from sla.models import Schedule, ScheduleInterval, SLAPlan
from tickets import services
from tickets.models import Department, HelpTopic, Priority, Status, Ticket, TicketSource, TicketState

CAST = [
    # email, name, kind, department, role
    ("karen@example.com", "Karen Doe", User.Kind.END_USER, None, None),
    ("ken@example.com", "Ken Doe", User.Kind.END_USER, None, None),
    ("john@example.com", "John Doe", User.Kind.AGENT, "Support", "Agent"),
    ("jane@example.com", "Jane Doe", User.Kind.AGENT, "Online Banking", "Agent"),
    ("admin@example.com", "Alex Admin", User.Kind.ADMIN, "Support", "Manager"),
]


class Command(BaseCommand):
    help = "Create the demo cast and configuration of the seed story (idempotent)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--password", help="Password for every demo login (default: generated and printed).")
        parser.add_argument("--api-key", help="Also create an API key with this value, allowed from 127.0.0.1.")
        parser.add_argument("--no-tickets", action="store_true", help="Do not open the sample tickets.")

    def handle(self, *args: Any, **options: Any) -> None:
        password = options["password"]
        with transaction.atomic():
            created_users = self.configure(password)
            if options["api_key"]:
                self.api_key(options["api_key"])
        if not options["no_tickets"] and not Ticket.objects.exists():
            self.sample_tickets()
        shown = password or (created_users and created_users[1])
        self.stdout.write(self.style.SUCCESS("Demo data ready."))
        for email, name, kind, _, _ in CAST:
            self.stdout.write(f"  {User.Kind(kind).label:9} {name:11} {email}")
        if shown:
            self.stdout.write(f"  password for all: {shown}")
        else:
            self.stdout.write("  passwords unchanged (pass --password to set them)")

    def configure(self, password: str | None) -> tuple[list[str], str] | None:
        roles = {
            "Agent": Role.objects.get_or_create(name="Agent", defaults={"can_delete": False})[0],
            "Manager": Role.objects.get_or_create(name="Manager", defaults={"can_delete": True})[0],
        }
        Role.objects.get_or_create(
            name="Read only",
            defaults={
                "can_reply": False,
                "can_assign": False,
                "can_transfer": False,
                "can_edit": False,
                "can_close": False,
            },
        )
        statuses = {}
        for order, (name, state) in enumerate(
            [
                ("Open", TicketState.OPEN),
                ("Waiting on customer", TicketState.WAITING),
                ("Resolved", TicketState.RESOLVED),
                ("Closed", TicketState.CLOSED),
            ]
        ):
            statuses[state] = Status.objects.get_or_create(
                name=name, defaults={"state": state, "is_default": True, "order": order}
            )[0]
        priorities = {}
        # Created Low first, so that the ids match osTicket's stock priorities (1 Low, 2 Normal,
        # 3 High, 4 Emergency): scripts that post `"priority": 4` keep meaning Emergency.
        for urgency, name, color in [
            (4, "Low", "secondary"),
            (3, "Normal", "primary"),
            (2, "High", "warning"),
            (1, "Emergency", "danger"),
        ]:
            priorities[name] = Priority.objects.get_or_create(
                name=name, defaults={"urgency": urgency, "color": color, "is_default": name == "Normal"}
            )[0]
        office, made = Schedule.objects.get_or_create(
            name="Office hours (Mon-Fri 09:00-17:00)", defaults={"timezone": "UTC"}
        )
        if made:
            ScheduleInterval.objects.bulk_create(
                ScheduleInterval(schedule=office, weekday=day, start=time(9), end=time(17)) for day in range(5)
            )
        plans = {}
        for name, minutes, is_default in [
            ("Default SLA", 18 * 60, True),
            ("Sev-A", 60, False),
            ("Sev-B", 4 * 60, False),
        ]:
            plan, made = SLAPlan.objects.get_or_create(
                name=name, defaults={"resolution_minutes": minutes, "is_default": is_default, "warn_at_percent": 75}
            )
            if made:
                plan.pause_statuses.add(statuses[TicketState.WAITING])
            plans[name] = plan
        created: list[str] = []
        generated = password or secrets.token_urlsafe(9)
        users = {}
        for email, name, kind, _, _ in CAST:
            user = User.objects.filter(email=email).first()
            if user is None:
                user = User.objects.create_user(email, generated, name=name, kind=kind)
                user.email_verified_at = user.date_joined
                user.save(update_fields=["email_verified_at"])
                created.append(email)
            elif password:
                user.set_password(password)
                user.save(update_fields=["password"])
            users[email] = user
        admin = users["admin@example.com"]
        departments = {}
        for name in ("Support", "Online Banking"):
            departments[name] = Department.objects.get_or_create(
                name=name, defaults={"manager": admin, "default_sla_plan": plans["Default SLA"]}
            )[0]
        for email, _, _, department, role in CAST:
            if department and role:
                DepartmentMembership.objects.get_or_create(
                    agent=users[email],
                    department=departments[department],
                    defaults={"role": roles[role], "is_primary": True},
                )
        for name in ("Report a Problem", "General Inquiry", "Access Request"):
            HelpTopic.objects.get_or_create(
                name=name,
                defaults={
                    "department": departments["Support"],
                    "priority": priorities["Normal"],
                    "sla_plan": plans["Default SLA"],
                },
            )
        return (created, generated) if created else None

    def api_key(self, key: str) -> None:
        if not ApiKey.objects.filter(key_hash=ApiKey.hash_key(key)).exists():
            api_key_create(name="Demo monitoring", allowed_addresses="127.0.0.1 ::1", key=key)

    def sample_tickets(self) -> None:
        """The seed story's practice tickets, worked and resolved by John."""
        john = User.objects.get(email="john@example.com")
        sev_b = SLAPlan.objects.get(name="Sev-B")
        topic = HelpTopic.objects.get(name="Report a Problem")
        for email, subject, body, reply in [
            (
                "ken@example.com",
                "Accounting department needs Adobe upgrade",
                "Accounting needs the new Adobe release on four machines.",
                "The upgrade is installed on all four machines.",
            ),
            (
                "ken@example.com",
                "Excel not working",
                "Excel closes as soon as I open the budget workbook.",
                "Office was repaired; the workbook opens again.",
            ),
            (
                "karen@example.com",
                "CFO's laptop not powering on",
                "The CFO's laptop shows no light and does not start.",
                "The charger had failed; we replaced it and the laptop starts.",
            ),
        ]:
            requester = User.objects.get(email=email)
            ticket = services.ticket_create(
                requester=requester, subject=subject, body=body, help_topic=topic, source=TicketSource.WEB
            )
            services.ticket_set_sla_plan(ticket=ticket, actor=john, sla_plan=sev_b)
            services.ticket_assign(ticket=ticket, actor=john, assignee=john)
            services.ticket_reply(ticket=ticket, actor=john, body=reply)
            services.ticket_resolve(ticket=ticket, actor=john)
