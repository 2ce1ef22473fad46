"""Domain exceptions; the API maps each to a problem+json status."""

from __future__ import annotations


class DomainError(Exception):
    """Base class. ``field`` names the request field at fault, when there is one."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class NotFound(DomainError):
    """The site, thread or comment does not exist (or is not visible to the caller)."""


class Invalid(DomainError):
    """The request is well-formed but its content breaks a rule (HTTP 422)."""


class Conflict(DomainError):
    """The request cannot apply to the current state (HTTP 409), e.g. a hidden parent."""
