import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    """Drop the single-column indexes of foreign keys that a composite index already leads
    with (the composite serves the same lookups): each cost every INSERT a write.

    Only the indexes are dropped; the foreign keys stay as they are (re-adding them, as a
    plain AlterField would, re-checks every row of the biggest tables).
    """

    dependencies = [
        ("tickets", "0003_full_text_search_indexes"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(
                    'DROP INDEX IF EXISTS "tickets_threadentry_ticket_id_b7c75580"',
                    reverse_sql='CREATE INDEX "tickets_threadentry_ticket_id_b7c75580" ON "tickets_threadentry" ("ticket_id")',
                ),
                migrations.RunSQL(
                    'DROP INDEX IF EXISTS "tickets_ticket_assignee_id_3a5aa407"',
                    reverse_sql='CREATE INDEX "tickets_ticket_assignee_id_3a5aa407" ON "tickets_ticket" ("assignee_id")',
                ),
                migrations.RunSQL(
                    'DROP INDEX IF EXISTS "tickets_ticket_requester_id_2072a2f2"',
                    reverse_sql='CREATE INDEX "tickets_ticket_requester_id_2072a2f2" ON "tickets_ticket" ("requester_id")',
                ),
                migrations.RunSQL(
                    'DROP INDEX IF EXISTS "tickets_ticketevent_ticket_id_b572d14b"',
                    reverse_sql='CREATE INDEX "tickets_ticketevent_ticket_id_b572d14b" ON "tickets_ticketevent" ("ticket_id")',
                ),
            ],
            state_operations=[
                migrations.AlterField(
                    model_name="threadentry",
                    name="ticket",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="entries",
                        to="tickets.ticket",
                    ),
                ),
                migrations.AlterField(
                    model_name="ticket",
                    name="assignee",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="assigned_tickets",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                migrations.AlterField(
                    model_name="ticket",
                    name="requester",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="tickets",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                migrations.AlterField(
                    model_name="ticketevent",
                    name="ticket",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="events",
                        to="tickets.ticket",
                    ),
                ),
            ],
        ),
    ]
