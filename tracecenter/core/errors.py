"""Errors that services raise and views turn into messages on the right field."""

from __future__ import annotations


class DomainError(Exception):
    """A rule of the domain was broken; `field` names the input at fault, if one is."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class NotAllowed(Exception):
    """The acting user may not do this to this record."""
