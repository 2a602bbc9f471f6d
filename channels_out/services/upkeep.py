"""Periodic upkeep of the message pipeline (beat job ``channels_out.tasks.channels_upkeep_task``): resume stuck
queued messages, expire silent ones, kick stored callbacks whose apply task was lost.
"""

from __future__ import annotations

import datetime
from collections import defaultdict

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from channels_out.models import CallbackPayload, Message, MessageEvent
from channels_out.services._common import Status, _apply_status, _messages_write, _status_announce
from channels_out.services.reports import APPLY_SCHEDULED_KEY, _schedule_apply
from channels_out.tasks import messages_submit_bulk_task, messages_submit_realtime_task
from portal.core.redis import redis_client


def outbox_sweep(*, limit: int = 10_000) -> int:
    """Re-enqueue queued messages nobody is working on (lost enqueue, crashed worker, back-off over).

    Side effects: submit tasks enqueued, one per batch; returns the number of messages re-enqueued.
    """
    now = timezone.now()
    stale = now - datetime.timedelta(seconds=settings.PORTAL_SUBMIT_LEASE_SECONDS)
    rows = list(
        Message.objects.filter(status=Status.QUEUED, direction=Message.Direction.MT)
        .filter(
            Q(lease_until__lte=now)
            | Q(lease_until__isnull=True, created_at__lte=now - datetime.timedelta(seconds=30))
            | Q(lease_until__isnull=True, updated_at__lte=stale)
        )
        .values_list("company_id", "pk", "origin")
        .order_by("pk")[:limit]
    )
    groups: dict[tuple[int, bool], list[int]] = defaultdict(list)
    for company_id, pk, origin in rows:
        groups[(company_id, origin == Message.Origin.BROADCAST)].append(pk)
    size = settings.PORTAL_SUBMIT_BATCH_SIZE
    for (company_id, bulk), ids in groups.items():
        task = messages_submit_bulk_task if bulk else messages_submit_realtime_task
        for start in range(0, len(ids), size):
            task.delay(company_id, ids[start : start + size])
    return len(rows)


def messages_expire(*, limit: int = 5000) -> int:
    """Expire submitted messages with no final report within ``PORTAL_MESSAGE_VALIDITY_HOURS``; return count."""
    cutoff = timezone.now() - datetime.timedelta(hours=settings.PORTAL_MESSAGE_VALIDITY_HOURS)
    now = timezone.now()
    with transaction.atomic():
        rows = list(
            Message.objects.select_for_update(skip_locked=True)
            .filter(status=Status.SUBMITTED, submitted_at__lte=cutoff)
            .order_by("pk")[:limit]
        )
        events: list[MessageEvent] = []
        for message in rows:
            _apply_status(
                message, Status.EXPIRED, now, MessageEvent.Source.PORTAL, events, error_code="EXPIRED"
            )
        _messages_write(rows, ["status", "status_changed_at", "error_code", "error_text"])
        MessageEvent.objects.bulk_create(events)
        _status_announce(events)
    return len(rows)


def callbacks_pending_kick() -> bool:
    """Enqueue the apply task when stored callbacks wait (their on-commit enqueue was lost)."""
    if CallbackPayload.objects.filter(state=CallbackPayload.State.RECEIVED).exists():
        redis_client().delete(APPLY_SCHEDULED_KEY)
        _schedule_apply()
        return True
    return False
