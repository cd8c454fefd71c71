"""GIN indexes for the staff search, on PostgreSQL only.

The expressions are exactly those tickets/search.py queries with (SearchVector with the
"english" configuration wraps the column in COALESCE), so the planner can use them. SQLite
has no such index: the search falls back to a plain substring match there.
"""

from django.db import migrations

INDEXES = {
    "ticket_subject_fts_idx": ("tickets_ticket", "subject"),
    "entry_body_fts_idx": ("tickets_threadentry", "body"),
}


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, (table, column) in INDEXES.items():
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {name} ON {table} "
            f"USING gin (to_tsvector('english'::regconfig, COALESCE({column}, '')))"
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("tickets", "0002_staff_queues_and_locks")]

    operations = [migrations.RunPython(create, drop)]
