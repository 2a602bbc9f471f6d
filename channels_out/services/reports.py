"""Delivery reports: vendor callbacks, the simulator's scheduled reports and kept (unmatched) reports.

- ``callback_store`` / ``callback_ingest`` / ``delivery_events_apply``: raw callbacks stored first, then applied
  in batches; unknown vendor ids are kept (``UnmatchedEvent``) and applied when the message appears
  (``_unmatched_apply`` after a submit, ``unmatched_reconcile`` from the upkeep beat job).
- ``simulated_reports_deliver``: the simulator's future callbacks (``SimulatedReport``) posted into the same path.
"""

from __future__ import annotations

import datetime
import json
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from django.conf import settings
from django.db import connection as db_connection
from django.db import transaction
from django.utils import timezone

from channels_out.base import (
    CallbackItem,
    CallbackRejected,
    ChannelAdapter,
    DeliveryEvent,
    InboundMessage,
    PendingCallback,
    ReportStatus,
)
from channels_out.models import (
    CallbackPayload,
    Connection,
    Message,
    MessageEvent,
    SimulatedReport,
    UnmatchedEvent,
)
from channels_out.services._common import _apply_status, _messages_write, _status_announce
from channels_out.services.connections import adapter_for
from channels_out.services.inbound import _inbound_store
from channels_out.tasks import delivery_events_apply_task, simulated_reports_deliver_task
from portal.core.redis import redis_client

logger = logging.getLogger(__name__)

# Headers never stored with a raw callback: they carry the vendor's credentials.
SECRET_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization", "x-api-key"})
APPLY_SCHEDULED_KEY = "channels_out:apply-scheduled"

# -- simulated callbacks ----------------------------------------------------------------------------------------


def _reports_for(
    message: Message, connection: Connection, callbacks: Iterable[PendingCallback], now: datetime.datetime
) -> list[SimulatedReport]:
    return [
        SimulatedReport(
            company_id=message.company_id,
            connection=connection,
            due_at=now + datetime.timedelta(seconds=cb.delay_seconds),
            body=cb.body,
            headers=dict(cb.headers),
        )
        for cb in callbacks
    ]


def _reports_store(reports: list[SimulatedReport]) -> None:
    """Persist the simulator's future callbacks and schedule a task at each one's due time.

    The rows are the source of truth (they survive a restart; the beat job ``simulated_reports_due_task``
    delivers any whose countdown task was lost); the countdown tasks only make them punctual.
    """
    if not reports:
        return
    SimulatedReport.objects.bulk_create(reports)
    now = timezone.now()
    by_second: dict[int, list[int]] = defaultdict(list)
    for report in reports:
        by_second[max(0, int((report.due_at - now).total_seconds() + 0.999))].append(report.pk)
    for countdown in sorted(by_second):
        transaction.on_commit(
            lambda countdown=countdown: simulated_reports_deliver_task.apply_async(countdown=countdown)  # type: ignore[misc]
        )


def simulated_reports_deliver(*, limit: int = 1000) -> int:
    """Post the simulator's due callbacks into the callback path; return how many were delivered.

    Side effects: marks SimulatedReport rows sent and stores a CallbackPayload for each (through
    ``callback_store``, signature included); enqueues the apply task on commit.
    """
    now = timezone.now()
    with transaction.atomic():
        due = list(
            SimulatedReport.objects.select_for_update(skip_locked=True)
            .filter(sent_at__isnull=True, due_at__lte=now)
            .select_related("connection")
            .order_by("due_at", "id")[:limit]
        )
        for report in due:
            try:
                callback_store(connection=report.connection, body=bytes(report.body), headers=report.headers)
            except CallbackRejected:
                logger.warning("simulated callback %s was rejected", report.pk)
        SimulatedReport.objects.filter(pk__in=[r.pk for r in due]).update(sent_at=now)
    return len(due)


# -- callbacks ------------------------------------------------------------------------------------------------


def _safe_headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {k: ("[redacted]" if k.lower() in SECRET_HEADERS else v[:500]) for k, v in headers.items()}


def callback_store(*, connection: Connection, body: bytes, headers: Mapping[str, str]) -> int:
    """Check and store one vendor callback of ``connection`` exactly as it came; return the payload id.

    See ``callback_ingest``; this form builds the adapter from the row (simulated reports, tests).
    """
    return callback_ingest(
        company_id=connection.company_id, connection_id=connection.pk, adapter=adapter_for(connection),
        body=body, headers=headers,
    )  # fmt: skip


_PAYLOAD_INSERT = (
    'INSERT INTO "channels_out_callbackpayload" ("company_id", "connection_id", "body", "headers", "state", '
    '"reason", "item_count", "applied_at", "created_at", "updated_at") '
    'VALUES (%s, %s, %s, %s::jsonb, %s, %s, %s, NULL, now(), now()) RETURNING "id"'
)


def callback_ingest(
    *,
    company_id: int,
    connection_id: int,
    adapter: ChannelAdapter,
    body: bytes,
    headers: Mapping[str, str],
    kick: Callable[[], None] | None = None,
) -> int:
    """Check and store one vendor callback exactly as it came, then schedule its application; return its id.

    The signature is verified and the body parsed once here so that a bad callback is refused with a 4xx; the
    raw body is what the worker applies later (stored first, issue 5 §5).
    Side effects: one INSERT of a CallbackPayload (also for rejected callbacks, with the reason), committed
    before this returns when no transaction is open (the hook view: every answered report is durable), and
    ``delivery_events_apply_task`` enqueued on commit (at most one waiting task at a time, see ``_schedule_apply``)
    through ``kick`` when given (the hook view's per-process debounce, ``hooks.apply_kick``).
    Raises CallbackRejected after recording the refusal.
    """
    safe = json.dumps(_safe_headers(headers))
    try:
        adapter.verify_signature(body, headers)
        items = adapter.parse_callback(body, headers)
    except CallbackRejected as exc:
        _payload_insert(
            [company_id, connection_id, body[:65536], safe, CallbackPayload.State.REJECTED.value,
             exc.reason[:500], 0]
        )  # fmt: skip
        raise
    # One statement (ORM compilation was a third of a report's time in bench/bench_callbacks.py).
    payload_id = _payload_insert(
        [company_id, connection_id, body, safe, CallbackPayload.State.RECEIVED.value, "", len(items)]
    )
    transaction.on_commit(kick or _schedule_apply)
    return payload_id


def _payload_insert(params: list[Any]) -> int:
    with db_connection.cursor() as cursor:
        cursor.execute(_PAYLOAD_INSERT, params)
        row = cursor.fetchone()
    return int(row[0])


def _schedule_apply() -> None:
    # One waiting apply task is enough: it drains every pending payload in batches.
    if redis_client().set(APPLY_SCHEDULED_KEY, 1, nx=True, ex=30):
        delivery_events_apply_task.delay()


def delivery_events_apply(*, batch_size: int | None = None, max_batches: int = 50) -> int:
    """Apply stored callbacks in batches (one transaction per batch, not per report); return payloads done.

    Side effects: Message status/timeline changes through the state machine, UnmatchedEvent rows for unknown
    vendor ids, MO Message rows for inbound messages (dispatch enqueued on commit), payload states.
    """
    redis_client().delete(APPLY_SCHEDULED_KEY)
    size = batch_size or settings.PORTAL_CALLBACK_BATCH_SIZE
    done = 0
    for _batch in range(max_batches):
        count = _apply_batch(size)
        done += count
        if count < size:
            break
    return done


def _apply_batch(size: int) -> int:
    now = timezone.now()
    with transaction.atomic():
        payloads = list(
            CallbackPayload.objects.select_for_update(skip_locked=True)
            .filter(state=CallbackPayload.State.RECEIVED)
            .select_related("connection")
            .order_by("id")[:size]
        )
        if not payloads:
            return 0
        built: dict[int, ChannelAdapter] = {}
        reports: dict[int, list[tuple[DeliveryEvent, CallbackPayload | None]]] = defaultdict(list)
        inbound: dict[int, list[InboundMessage]] = defaultdict(list)
        connections: dict[int, Connection] = {}
        for payload in payloads:
            connection = payload.connection
            connections[connection.pk] = connection
            if connection.pk not in built:
                built[connection.pk] = adapter_for(connection)
            try:
                items: list[CallbackItem] = built[connection.pk].parse_callback(
                    bytes(payload.body), payload.headers
                )
            except CallbackRejected as exc:
                payload.state, payload.reason = CallbackPayload.State.FAILED, exc.reason[:500]
                continue
            for item in items:
                if isinstance(item, DeliveryEvent):
                    reports[connection.pk].append((item, payload))
                else:
                    inbound[connection.pk].append(item)
            payload.state, payload.applied_at = CallbackPayload.State.APPLIED, now
        for connection_id, pairs in reports.items():
            _reports_apply(connections[connection_id], pairs)
        for connection_id, messages in inbound.items():
            _inbound_store(connections[connection_id], messages)
        # One UPDATE for the applied ones; bulk_update's CASE per row grows quadratically with the batch.
        applied = [p.pk for p in payloads if p.state == CallbackPayload.State.APPLIED]
        CallbackPayload.objects.filter(pk__in=applied).update(
            state=CallbackPayload.State.APPLIED, applied_at=now
        )
        failed = [p for p in payloads if p.state == CallbackPayload.State.FAILED]
        CallbackPayload.objects.bulk_update(failed, ["state", "reason", "updated_at"])
    return len(payloads)


def _event_json(event: DeliveryEvent) -> dict[str, str]:
    return {
        "status": str(event.status),
        "occurred_at": event.occurred_at.isoformat(),
        "error_code": event.error_code,
        "raw_status": event.raw_status,
    }


def _reports_apply(connection: Connection, pairs: list[tuple[DeliveryEvent, CallbackPayload | None]]) -> None:
    ids = {event.vendor_message_id for event, _p in pairs}
    messages = {
        m.vendor_message_id: m
        for m in Message.objects.select_for_update().filter(
            company_id=connection.company_id, connection=connection, direction=Message.Direction.MT,
            vendor_message_id__in=ids,
        )
    }  # fmt: skip
    events: list[MessageEvent] = []
    unmatched: list[UnmatchedEvent] = []
    touched: dict[int, Message] = {}
    for event, payload in sorted(pairs, key=lambda p: p[0].occurred_at):
        message = messages.get(event.vendor_message_id)
        if message is None:
            unmatched.append(
                UnmatchedEvent(
                    company_id=connection.company_id, connection=connection, payload=payload,
                    vendor_message_id=event.vendor_message_id, event=_event_json(event),
                )
            )  # fmt: skip
            continue
        _apply_status(
            message, str(event.status), event.occurred_at, MessageEvent.Source.REPORT, events,
            raw_status=event.raw_status, error_code=event.error_code,
        )  # fmt: skip
        touched[message.pk] = message
    _messages_write(
        list(touched.values()),
        [
            "status",
            "status_changed_at",
            "submitted_at",
            "delivered_at",
            "displayed_at",
            "error_code",
            "error_text",
        ],
    )
    MessageEvent.objects.bulk_create(events)
    _status_announce(events)
    UnmatchedEvent.objects.bulk_create(unmatched)


def _unmatched_apply(*, company_id: int, connection_id: int, vendor_ids: Sequence[str]) -> int:
    """Apply kept reports whose message is now known (DLR before the submit response); return how many."""
    pending = list(
        UnmatchedEvent.objects.select_for_update(skip_locked=True, of=("self",))
        .filter(
            company_id=company_id,
            connection_id=connection_id,
            vendor_message_id__in=list(vendor_ids),
            resolved_at__isnull=True,
        )
        .select_related("connection", "payload")
    )
    if not pending:
        return 0
    pairs = [
        (
            DeliveryEvent(
                vendor_message_id=u.vendor_message_id,
                status=ReportStatus(u.event["status"]),
                occurred_at=datetime.datetime.fromisoformat(u.event["occurred_at"]),
                error_code=u.event.get("error_code", ""),
                raw_status=u.event.get("raw_status", ""),
            ),
            u.payload,
        )
        for u in pending
    ]
    known = set(
        Message.objects.filter(
            company_id=company_id,
            connection_id=connection_id,
            direction=Message.Direction.MT,
            vendor_message_id__in=list(vendor_ids),
        ).values_list("vendor_message_id", flat=True)
    )
    ready = [(e, p) for e, p in pairs if e.vendor_message_id in known]
    if not ready:
        return 0
    _reports_apply(pending[0].connection, ready)
    UnmatchedEvent.objects.filter(pk__in=[u.pk for u in pending if u.vendor_message_id in known]).update(
        resolved_at=timezone.now()
    )
    return len(ready)


def unmatched_reconcile(*, limit: int = 1000) -> int:
    """Apply kept reports whose message has appeared since (a race the submit path cannot see); return count."""
    applied = 0
    with transaction.atomic():
        rows = list(
            UnmatchedEvent.objects.filter(resolved_at__isnull=True)
            .values_list("company_id", "connection_id", "vendor_message_id")
            .order_by("id")[:limit]
        )
        groups: dict[tuple[int, int], list[str]] = defaultdict(list)
        for company_id, connection_id, vendor_id in rows:
            groups[(company_id, connection_id)].append(vendor_id)
        for (company_id, connection_id), vendor_ids in groups.items():
            applied += _unmatched_apply(
                company_id=company_id, connection_id=connection_id, vendor_ids=vendor_ids
            )
    return applied
