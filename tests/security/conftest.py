"""The security suite's dataset (tests/security/world.py), built on the seed cast."""

from __future__ import annotations

import pytest

from accounts.models import User
from tests.security.world import World, world_build


@pytest.fixture
def world(karen: User, ken: User, john: User, jane: User, viewer: User, admin: User) -> World:
    return world_build(karen=karen, ken=ken, john=john, jane=jane, viewer=viewer, admin=admin)
