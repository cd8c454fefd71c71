"""The desk's small configuration rows, read once per process and kept until one changes.

Opening a ticket (through the web, the API or mail) reads the same few configuration rows
every time: the default department, priority and open status, the SLA plan with its targets,
the notifications switched off, the webhooks that listen. Each process keeps what it read
under a generation number held in the shared cache; saving or deleting any configuration
row bumps the number when its transaction commits, so that every process reads the rows
afresh on its next use. A transaction that changed configuration reads it from the database
until it commits (it alone sees its change), and nothing it reads is kept.

A cache that is down, or one shared by no one (the dummy cache), costs the queries, never
a stale answer.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Model

logger = logging.getLogger(__name__)
T = TypeVar("T")

GENERATION_KEY = "config:generation"
_local: dict[str, Any] = {"generation": None, "values": {}}
_state = threading.local()


def config_cached(name: str, load: Callable[[], T]) -> T:
    """`load()`, or what it returned before while no configuration has changed since."""
    if connection.in_atomic_block and getattr(_state, "changed", False):
        return load()
    try:
        generation = cache.get(GENERATION_KEY)
        if generation is None:
            cache.add(GENERATION_KEY, 1, timeout=None)
            generation = cache.get(GENERATION_KEY)
    except Exception:
        logger.warning("cache unavailable for the configuration", exc_info=True)
        return load()
    if generation is None:
        return load()
    values: dict[str, Any] = _local["values"]
    if _local["generation"] != generation:
        values = {}
        _local.update(generation=generation, values=values)
    if name not in values:
        values[name] = load()
    return values[name]  # type: ignore[no-any-return]


def _bump() -> None:
    _local.update(generation=None, values={})
    try:
        try:
            cache.incr(GENERATION_KEY)
        except ValueError:  # not set yet (or evicted): any new value differs from what was read
            cache.set(GENERATION_KEY, 1, timeout=None)
            cache.incr(GENERATION_KEY)
    except Exception:
        logger.warning("cache unavailable: the configuration generation was not bumped", exc_info=True)


def _committed() -> None:
    _state.changed = False
    _bump()


def config_changed(**kwargs: Any) -> None:
    """A signal receiver: a configuration row was saved or deleted."""
    _local.update(generation=None, values={})
    if connection.in_atomic_block:
        _state.changed = True
        transaction.on_commit(_committed)
    else:
        _bump()


def connect(*models: type[Model]) -> None:
    from django.db.models.signals import m2m_changed, post_delete, post_migrate, post_save

    for model in models:
        uid = f"config-cache:{model._meta.label}"
        post_save.connect(config_changed, sender=model, dispatch_uid=f"{uid}:save")
        post_delete.connect(config_changed, sender=model, dispatch_uid=f"{uid}:delete")
        for field in model._meta.many_to_many:
            m2m_changed.connect(config_changed, sender=field.remote_field.through, dispatch_uid=f"{uid}:{field.name}")
    # A migration or a flush (the tests' clean-up) rewrites tables without saving models.
    post_migrate.connect(config_changed, dispatch_uid="config-cache:migrate")
