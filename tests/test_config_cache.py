"""Configuration kept per process (helpdesk.config_cache): a change is seen by the next
ticket, in this process and in the others, and a change rolled back leaves nothing behind."""

from __future__ import annotations

from unittest import mock

import pytest
from django.core.cache import cache
from django.db import transaction

from helpdesk import config_cache
from helpdesk.config_cache import GENERATION_KEY, config_cached
from tests.factories import ticket_open
from tickets.models import Priority


class Loader:
    def __init__(self, value: object) -> None:
        self.value, self.calls = value, 0

    def __call__(self) -> object:
        self.calls += 1
        return self.value


def _default_name() -> str | None:
    return Priority.objects.filter(is_default=True).values_list("name", flat=True).first()


def _other_process_forgets() -> None:
    """What another process holds: only the generation it read, not our local values."""
    config_cache._local.update(generation=None, values={})


@pytest.mark.django_db(transaction=True)
def test_a_value_is_read_once_until_a_configuration_row_changes(karen) -> None:
    first = Loader("a")
    assert config_cached("probe", first) == "a"
    assert config_cached("probe", first) == "a"
    assert first.calls == 1
    generation = cache.get(GENERATION_KEY)
    Priority.objects.create(name="Probe priority", urgency=99)
    # Committed: the shared generation moved, so every process reads afresh.
    assert cache.get(GENERATION_KEY) != generation
    second = Loader("b")
    assert config_cached("probe", second) == "b"
    assert second.calls == 1


@pytest.mark.django_db(transaction=True)
def test_another_process_sees_a_change_once_it_commits() -> None:
    config_cached("probe", Loader("old"))
    with transaction.atomic():
        Priority.objects.create(name="Probe priority", urgency=99)
        # Not committed yet: others keep what they read (the generation has not moved)...
        saved = dict(config_cache._local)
        _other_process_forgets()
        config_cache._local.update(generation=cache.get(GENERATION_KEY), values={"probe": "old"})
        assert config_cache._local["values"]["probe"] == "old"
        # ...while this transaction reads its own view and keeps none of it.
        inside = Loader("mine")
        assert config_cached("probe", inside) == "mine"
        assert config_cached("probe", inside) == "mine"
        assert inside.calls == 2
        config_cache._local.update(saved)
    after = Loader("new")
    assert config_cached("probe", after) == "new"


@pytest.mark.django_db(transaction=True)
def test_a_change_rolled_back_leaves_no_trace() -> None:
    class Boom(Exception):
        pass

    with pytest.raises(Boom), transaction.atomic():
        Priority.objects.filter(is_default=True).update(is_default=False)
        Priority.objects.create(name="Phantom", urgency=98, is_default=True)
        assert config_cached("default-priority", _default_name) == "Phantom"
        raise Boom
    assert config_cached("default-priority", _default_name) != "Phantom"


@pytest.mark.django_db(transaction=True)
def test_a_new_default_priority_reaches_the_next_ticket(karen) -> None:
    assert ticket_open(karen, "Before").priority.is_default
    with transaction.atomic():
        Priority.objects.filter(is_default=True).update(is_default=False)
        urgent = Priority.objects.create(name="Urgent by default", urgency=97, is_default=True)
    assert ticket_open(karen, "After").priority_id == urgent.pk


@pytest.mark.django_db
def test_a_cache_that_is_down_costs_queries_not_answers() -> None:
    loader = Loader("fresh")
    with mock.patch.object(config_cache.cache, "get", side_effect=ConnectionError("down")):
        assert config_cached("probe-down", loader) == "fresh"
        assert config_cached("probe-down", loader) == "fresh"
    assert loader.calls == 2
