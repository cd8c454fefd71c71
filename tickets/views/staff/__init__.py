"""The staff panel: where agents work the queue."""

from tickets.views.staff.base import agent_required

__all__ = ["agent_required"]
