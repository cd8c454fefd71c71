"""The reliability suite: real processes on PostgreSQL (and a private Redis), killed and
faulted on purpose, with every message, ticket and alert counted afterwards."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.db import connection

from tests import mailkit
from tests.support import need


@pytest.fixture(autouse=True)
def _postgres_only() -> None:
    # The processes share the test database: that needs a database server, not a file.
    need(connection.vendor == "postgresql", "PostgreSQL (DATABASE_URL=postgres://...)")


@pytest.fixture
def sink() -> Iterator[mailkit.SmtpSink]:
    with mailkit.smtp_sink() as server:
        yield server
