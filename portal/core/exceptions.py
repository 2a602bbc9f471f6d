"""Domain errors raised by services; views and the API map them to messages and status codes."""

from __future__ import annotations

from typing import Any


class ApplicationError(Exception):
    """A rule of the product refused the operation. ``message`` is safe to show to the user."""

    def __init__(self, message: str, extra: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.extra = extra or {}


class PermissionDeniedError(ApplicationError):
    pass


class TransientError(Exception):
    """A failure that a retry may fix (network, lock contention); Celery tasks autoretry on it."""
