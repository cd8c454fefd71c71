"""Sessions: Django's cached database sessions, kept through a lost database connection."""

from __future__ import annotations

from django.contrib.sessions.backends.base import UpdateError
from django.contrib.sessions.backends.cached_db import SessionStore as CachedDatabaseSessionStore
from django.db import InterfaceError, OperationalError, connections, router


class SessionStore(CachedDatabaseSessionStore):
    """Saving is tried once more on a fresh connection when the connection was lost.

    Django reports any database error while saving an existing session as "the session was
    deleted", which the person sees as a bare 400 Bad Request, after the change they asked
    for (a ticket opened) may already have been committed."""

    def save(self, must_create: bool = False) -> None:
        try:
            super().save(must_create=must_create)
        except (UpdateError, OperationalError, InterfaceError) as error:
            cause = error.__context__ if isinstance(error, UpdateError) else error
            if not isinstance(cause, OperationalError | InterfaceError):
                raise
            connections[router.db_for_write(self.model)].close()
            super().save(must_create=must_create)
