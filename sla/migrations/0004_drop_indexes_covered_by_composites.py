import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    """Drop the single-column indexes of foreign keys that a composite index already leads
    with (the composite serves the same lookups): each cost every INSERT a write.

    Only the indexes are dropped; the foreign keys stay as they are (re-adding them, as a
    plain AlterField would, re-checks every row of the biggest tables).
    """

    dependencies = [
        ("sla", "0003_clock_met_index"),
        ("tickets", "0004_drop_indexes_covered_by_composites"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(
                    'DROP INDEX IF EXISTS "sla_ticketclock_ticket_id_95bd28fb"',
                    reverse_sql='CREATE INDEX "sla_ticketclock_ticket_id_95bd28fb" ON "sla_ticketclock" ("ticket_id")',
                ),
            ],
            state_operations=[
                migrations.AlterField(
                    model_name="ticketclock",
                    name="ticket",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="clocks",
                        to="tickets.ticket",
                    ),
                ),
            ],
        ),
    ]
