"""What the ticket services refuse, and why. Views and the API map these to answers."""


class TicketActionError(Exception):
    """Base: the action was refused and nothing changed."""


class ActionNotAllowed(TicketActionError):
    """The actor may not do this to this ticket (403, or 404 where the ticket is not theirs to see)."""


class InvalidTransition(TicketActionError):
    """The ticket's state does not allow this change (409)."""


class StaleTicket(TicketActionError):
    """The ticket changed since the actor loaded it (409)."""


class InvalidInput(TicketActionError):
    """A value the action cannot take (400), with the field it concerns."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message
