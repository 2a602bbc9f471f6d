"""The one point where other sections learn that their messages changed status.

A section that sends through the channel layer (broadcasts' fallback engine, conversations, chatbots, the API's
customer webhooks) registers a callable for its message ``origin`` at start-up (``AppConfig.ready``). After the
transaction that applied submit results or delivery reports commits, the channel layer calls it ONCE per batch with
the status changes of that origin's messages. Subscribers run in the worker that applied the reports, so they must
be quick: enqueue a task with the ids, don't do the work inline. They must be idempotent (after a crash the same
change can be announced again) and must not raise for messages they do not own.
"""

from __future__ import annotations

import datetime
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.db import transaction

from portal.core.registry import Registry

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class StatusNotice:
    company_id: int
    message_id: int
    origin: str  # a channels_out.models.Message.Origin value
    status: str  # the new status (channels_out.states)
    occurred_at: datetime.datetime


StatusSubscriber = Callable[[list[StatusNotice]], None]

# Keyed by message origin ("broadcast", "api", "conversation", ...): one subscriber per origin.
status_subscribers: Registry[StatusSubscriber] = Registry()


def status_notify(notices: Iterable[StatusNotice]) -> None:
    """Hand the changes to their origin's subscriber after the current transaction commits."""
    by_origin: dict[str, list[StatusNotice]] = defaultdict(list)
    for notice in notices:
        if notice.origin in status_subscribers:
            by_origin[notice.origin].append(notice)
    for origin, batch in by_origin.items():
        transaction.on_commit(lambda origin=origin, batch=batch: _deliver(origin, batch))  # type: ignore[misc]


def _deliver(origin: str, batch: list[StatusNotice]) -> None:
    try:
        status_subscribers.get(origin)(batch)
    except Exception:
        # The change itself is committed; the subscriber's own sweep (e.g. the fallback timer) catches up.
        logger.exception("status subscriber for %s failed on %d changes", origin, len(batch))
