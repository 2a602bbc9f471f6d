"""Sending and submitting: the outbox side of the message pipeline (issue 5, guide §6.7, inventory A §9-§21,
seed 004).

- ``message_send`` / ``message_send_batch``: the public entry point of every sending feature. They validate,
  store ``queued`` Message rows (the transactional outbox) and enqueue one submit task per batch on commit.
  ``api_messages_send`` is the send API's form (origin ``api``, one ``ApiSend`` row per message).
- ``messages_submit``: the worker side. It claims queued rows with ``select_for_update(skip_locked=True)`` and a
  lease, submits them through the connections of the channel in priority order (circuit breaker, token bucket),
  and records the outcome through the state machine of ``channels_out.states``.
"""

from __future__ import annotations

import datetime
import logging
import time
import uuid
from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from channels_out import breaker, throttle
from channels_out.base import AdapterError, ChannelAdapter, OutboundMessage, SubmitResult
from channels_out.kinds import ChannelKind
from channels_out.models import Connection, Message, MessageEvent, SimulatedReport
from channels_out.services._common import Status, _apply_status, _event, _messages_write, _status_announce
from channels_out.services.connections import UnknownSenderError, _connections_for, adapter_for
from channels_out.services.reports import _reports_for, _reports_store, _unmatched_apply
from channels_out.sessions import sessions_reserve, sessions_submitted
from channels_out.tasks import messages_submit_bulk_task, messages_submit_realtime_task
from channels_out.validation import address_normalize, payload_text
from portal.tenants.models import Company

logger = logging.getLogger(__name__)

# -- sending --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OutgoingItem:
    """One message the product wants sent: ``payload`` holds ``text`` and the channel's typed fields."""

    channel: str
    sender_id: str
    to: str
    payload: Mapping[str, Any]
    client_reference: str | None = None


def message_send(
    *,
    company: Company,
    actor: Any,
    channel: str,
    sender_id: str,
    to: str,
    payload: Mapping[str, Any],
    origin: str,
    client_reference: str | None = None,
) -> Message:
    """Queue one message for sending and return its row.

    Side effects: inserts a ``queued`` Message and its first timeline event; on commit, enqueues the submit task
    (realtime queue, or bulk for broadcasts). A ``client_reference`` already used by the company returns the
    existing message instead (idempotent send).
    Errors: ValidationError for an invalid or non-mobile number, a bad e-mail address, or a text over the
    channel's limit; UnknownSenderError when no enabled connection serves ``sender_id`` on ``channel``. A message
    the session rules refuse (``channels_out.sessions``: Viber session limits, WhatsApp 24-hour window) is
    returned ``failed`` with the rule's error code and text, and never submitted.
    """
    item = OutgoingItem(channel, sender_id, to, payload, client_reference)
    return message_send_batch(company=company, actor=actor, origin=origin, items=[item])[0]


@transaction.atomic
def message_send_batch(
    *,
    company: Company,
    actor: Any,
    origin: str,
    items: Sequence[OutgoingItem],
    submit_apart: Collection[int] = (),
) -> list[Message]:
    """Queue many messages at once (broadcast fan-out, bulk API) and return their rows in ``items`` order.

    Side effects, errors: as ``message_send``; every item is checked before anything is written, and a
    ValidationError names the failing items by position (``"3.to"``). Submit tasks carry
    ``PORTAL_SUBMIT_BATCH_SIZE`` message ids each (one task per batch, not per message). The items at the
    positions in ``submit_apart`` get no submit task: the caller queues theirs (a broadcast's fallback hops go to
    the engine's own lane, ``broadcasts.engine._hops_submit_first``).
    """
    if origin not in Message.Origin.values or origin == Message.Origin.CONTACT:
        raise ValidationError(_("Unknown message origin %(origin)s.") % {"origin": origin})
    errors: dict[str, list[str]] = {}
    senders_ok: dict[tuple[str, str], bool] = {}
    rows: list[Message] = []
    positions: list[int] = []  # the item of each row
    references = [i.client_reference for i in items if i.client_reference]
    existing = {
        m.client_reference: m
        for m in Message.objects.filter(company=company, client_reference__in=references)
    }
    now = timezone.now()
    for index, item in enumerate(items):
        prefix = f"{index}." if len(items) > 1 else ""
        if item.client_reference and item.client_reference in existing:
            continue
        if item.channel not in ChannelKind.values:
            errors.setdefault(f"{prefix}channel", []).append(
                _("Unknown channel %(c)s.") % {"c": item.channel}
            )
            continue
        key = (item.channel, item.sender_id)
        if key not in senders_ok:
            senders_ok[key] = bool(_connections_for(company.pk, item.channel, item.sender_id))
        if not senders_ok[key]:
            if len(items) == 1:
                raise UnknownSenderError(
                    _("Sender ID %(sender)s is not set up for %(channel)s in your company's connections.")
                    % {"sender": item.sender_id, "channel": ChannelKind(item.channel).label}
                )
            errors.setdefault(f"{prefix}sender_id", []).append(
                _("Sender ID %(sender)s is not set up for %(channel)s.")
                % {"sender": item.sender_id, "channel": ChannelKind(item.channel).label}
            )
            continue
        try:
            address = address_normalize(item.channel, item.to, default_country=company.default_country)
        except ValidationError as exc:
            errors.setdefault(f"{prefix}to", []).extend(exc.messages)
            continue
        try:
            text = payload_text(item.channel, item.payload)
        except ValidationError as exc:
            errors.setdefault(f"{prefix}payload", []).extend(exc.messages)
            continue
        encoding, segments = "", 1
        if item.channel == ChannelKind.SMS:
            from channels_out.sms import sms_info

            info = sms_info(text)
            encoding, segments = info.encoding, info.segments
        positions.append(index)
        rows.append(
            Message(
                company=company,
                channel=item.channel,
                direction=Message.Direction.MT,
                traffic_type=Message.TrafficType.A2P,
                origin=origin,
                sender_id=item.sender_id,
                address=address.value,
                text=text,
                payload=dict(item.payload),
                status=Status.QUEUED,
                status_changed_at=now,
                client_reference=item.client_reference or uuid.uuid4().hex,
                country=address.country,
                operator=address.operator,
                encoding=encoding,
                segments=segments,
            )
        )
    if errors:
        raise ValidationError(errors)
    # Viber sessions and the WhatsApp 24-hour window (guide §12.2, §13.1): refused rows are stored failed.
    refusals = sessions_reserve(company_id=company.pk, messages=rows, now=now)
    for index, refusal in refusals.items():
        refused = rows[index]
        refused.status, refused.error_code, refused.error_text = (
            Status.FAILED,
            refusal.code,
            refusal.text[:500],
        )
    Message.objects.bulk_create(rows)
    events = [
        MessageEvent(
            company=company, message=m, status=m.status, source=MessageEvent.Source.PORTAL, occurred_at=now,
            error_code=m.error_code, note=m.error_text,
        )
        for m in rows
    ]  # fmt: skip
    MessageEvent.objects.bulk_create(events)
    if refusals:
        _status_announce(e for e in events if e.status == Status.FAILED)
    queued = [
        m.pk
        for m, index in zip(rows, positions, strict=True)
        if m.status == Status.QUEUED and index not in submit_apart
    ]
    _enqueue_submit(company.pk, queued, bulk=origin == Message.Origin.BROADCAST)
    created = iter(rows)
    return [
        existing[i.client_reference]
        if i.client_reference and i.client_reference in existing
        else next(created)
        for i in items
    ]


def _enqueue_submit(company_id: int, ids: list[int], *, bulk: bool) -> None:
    size = settings.PORTAL_SUBMIT_BATCH_SIZE
    task = messages_submit_bulk_task if bulk else messages_submit_realtime_task
    for start in range(0, len(ids), size):
        chunk = ids[start : start + size]
        transaction.on_commit(lambda chunk=chunk: task.delay(company_id, chunk))  # type: ignore[misc]


# -- submitting -----------------------------------------------------------------------------------------------


@dataclass
class _Outcome:
    message_id: int
    kind: str  # "submitted", "failed", "retry", "deferred"
    connection: Connection | None = None
    result: SubmitResult | None = None
    error: AdapterError | None = None
    retry_in: float = 0.0


@dataclass
class SubmitSummary:
    claimed: int = 0
    submitted: int = 0
    failed: int = 0
    retried: int = 0
    by_connection: dict[int, int] = field(default_factory=dict)


def messages_submit(*, company_id: int, message_ids: Sequence[int]) -> SubmitSummary:
    """Submit the queued messages among ``message_ids`` exactly once (issue 5 §4).

    1. Claim: lock the still-queued rows whose lease is free with ``select_for_update(skip_locked=True)``, set a
       lease and count the attempt, commit. A row another worker holds, or that moved on, is skipped.
    2. Send each claimed message with its client reference through the channel's connections in priority order,
       skipping connections whose circuit breaker is open and waiting for the connection's token bucket.
    3. Record every outcome in one transaction through the state machine; store scripted simulator callbacks;
       apply reports that arrived before this submit response.

    A worker that dies between 2 and 3 leaves leased rows: after the lease they are claimed again and submitted
    with the same client reference, which the vendor recognises (no second message reaches the handset).
    Side effects: vendor calls, Message/MessageEvent/SimulatedReport writes, breaker and bucket state in Redis.
    """
    now = timezone.now()
    summary = SubmitSummary()
    with transaction.atomic():
        claimed = list(
            Message.objects.select_for_update(skip_locked=True)
            .filter(
                company_id=company_id,
                pk__in=list(message_ids),
                status=Status.QUEUED,
                direction=Message.Direction.MT,
            )
            .filter(Q(lease_until__isnull=True) | Q(lease_until__lte=now))
            .order_by("pk")
        )
        if not claimed:
            return summary
        lease = now + datetime.timedelta(seconds=settings.PORTAL_SUBMIT_LEASE_SECONDS)
        Message.objects.filter(pk__in=[m.pk for m in claimed]).update(
            lease_until=lease, attempts=F("attempts") + 1
        )
    summary.claimed = len(claimed)
    routes: dict[tuple[str, str], list[Connection]] = {}
    built: dict[int, ChannelAdapter] = {}
    outcomes: list[_Outcome] = []
    for message in claimed:
        key = (message.channel, message.sender_id)
        if key not in routes:
            routes[key] = _connections_for(company_id, *key)
        outcomes.append(_submit_one(message, routes[key], built))
    _submit_record(company_id=company_id, outcomes=outcomes, summary=summary)
    return summary


def _outbound(message: Message) -> OutboundMessage:
    return OutboundMessage(
        message_id=message.pk,
        client_reference=message.client_reference,
        channel=ChannelKind(message.channel),
        sender_id=message.sender_id,
        to=message.address,
        payload=message.payload,
        text=message.text,
        encoding=message.encoding,
        segments=message.segments,
    )


def _submit_one(message: Message, candidates: list[Connection], built: dict[int, ChannelAdapter]) -> _Outcome:
    outbound = _outbound(message)
    last_error: AdapterError | None = None
    for connection in candidates:
        if not breaker.breaker_allows(connection_id=connection.pk):
            continue
        wait = throttle.throttle_reserve(connection_id=connection.pk, rate=connection.rate_limit)
        if wait is None:
            # The bucket is booked further ahead than a worker should sleep: come back later.
            return _Outcome(message.pk, "deferred", retry_in=2.0)
        if wait > 0:
            time.sleep(wait)
        if connection.pk not in built:
            built[connection.pk] = adapter_for(connection)
        try:
            result = built[connection.pk].send(outbound)
        except AdapterError as exc:
            if exc.permanent:
                return _Outcome(message.pk, "failed", connection=connection, error=exc)
            last_error = exc
            breaker.breaker_record_failure(connection_id=connection.pk)
            continue
        except Exception as exc:
            # A bug or an unexpected library error in an adapter counts as a transient vendor failure.
            logger.exception("adapter %s raised for message %s", connection.adapter_key, message.pk)
            last_error = AdapterError(str(exc) or type(exc).__name__, permanent=False)
            breaker.breaker_record_failure(connection_id=connection.pk)
            continue
        breaker.breaker_record_success(connection_id=connection.pk)
        return _Outcome(message.pk, "submitted", connection=connection, result=result)
    return _Outcome(
        message.pk,
        "retry",
        error=last_error or AdapterError(_("No connection is available."), vendor_code="NO-CONNECTION"),
    )


def _submit_record(*, company_id: int, outcomes: list[_Outcome], summary: SubmitSummary) -> None:
    now = timezone.now()
    with transaction.atomic():
        locked = {
            m.pk: m
            for m in Message.objects.select_for_update().filter(pk__in=[o.message_id for o in outcomes])
        }
        events: list[MessageEvent] = []
        reports: list[SimulatedReport] = []
        new_ids: dict[int, list[str]] = defaultdict(list)
        for outcome in outcomes:
            message = locked[outcome.message_id]
            if outcome.kind == "submitted":
                result, connection = outcome.result, outcome.connection
                if result is None or connection is None:
                    raise RuntimeError("a submitted outcome carries its connection and result")
                message.connection = connection
                message.vendor_message_id = result.vendor_message_id
                message.vendor_session_id = result.session_id or message.vendor_session_id
                message.lease_until = None
                _apply_status(
                    message,
                    Status.SUBMITTED,
                    now,
                    MessageEvent.Source.SUBMIT,
                    events,
                    raw_status=result.status,
                )
                new_ids[connection.pk].append(result.vendor_message_id)
                reports.extend(_reports_for(message, connection, result.pending_callbacks, now))
                summary.submitted += 1
                summary.by_connection[connection.pk] = summary.by_connection.get(connection.pk, 0) + 1
            elif outcome.kind == "failed":
                assert outcome.error is not None  # noqa: S101
                message.connection = outcome.connection
                message.lease_until = None
                _apply_status(
                    message, Status.FAILED, now, MessageEvent.Source.SUBMIT, events,
                    error_code=outcome.error.vendor_code or "", error_text=outcome.error.message,
                )  # fmt: skip
                summary.failed += 1
            elif outcome.kind == "retry" and message.attempts >= settings.PORTAL_SUBMIT_MAX_ATTEMPTS:
                assert outcome.error is not None  # noqa: S101
                message.lease_until = None
                _apply_status(
                    message, Status.FAILED, now, MessageEvent.Source.SUBMIT, events,
                    error_code=outcome.error.vendor_code or "NO-CONNECTION", error_text=outcome.error.message,
                )  # fmt: skip
                summary.failed += 1
            else:
                # Transient failure on every connection, or throttled: back off; the outbox sweeper resumes it.
                delay = outcome.retry_in or min(300, 2**message.attempts)
                message.lease_until = now + datetime.timedelta(seconds=delay)
                if outcome.error is not None:
                    events.append(_event(message, Status.QUEUED, now, MessageEvent.Source.SUBMIT, applied=False,
                                         error_code=outcome.error.vendor_code or "", note=outcome.error.message[:500]))  # fmt: skip
                summary.retried += 1
        _messages_write(
            list(locked.values()),
            ["connection", "vendor_message_id", "vendor_session_id", "lease_until", "status", "status_changed_at",
             "submitted_at", "delivered_at", "displayed_at", "error_code", "error_text"],
        )  # fmt: skip
        MessageEvent.objects.bulk_create(events)
        _status_announce(events)
        _reports_store(reports)
        sessions_submitted(
            company_id=company_id,
            issued=[
                (m.sender_id, m.address, m.vendor_session_id)
                for m in locked.values()
                if m.channel == ChannelKind.VIBER and m.vendor_session_id
            ],
        )
        for connection_id, vendor_ids in new_ids.items():
            _unmatched_apply(company_id=company_id, connection_id=connection_id, vendor_ids=vendor_ids)


# -- the send API ---------------------------------------------------------------------------------------------


@transaction.atomic
def api_messages_send(
    *, company: Company, access: Any, items: Sequence[OutgoingItem], custom: Sequence[str]
) -> tuple[uuid.UUID, list[Message]]:
    """Queue the messages of one send-API request (seed 004 §1.5-§1.9) and return its group id and rows.

    Side effects: as ``message_send_batch`` with origin ``api`` (traffic type A2P, told apart as API by the
    origin, guide §5), plus one ``ApiSend`` row per new message linking it to ``access`` (whose webhook gets its
    status changes), the batch's ``group_id`` and the caller's ``custom`` reference (same order as ``items``).
    A message returned again for a known client reference keeps its first ApiSend row.
    Errors: as ``message_send_batch``.
    """
    from channels_out.models import ApiSend

    group_id = uuid.uuid4()
    messages = message_send_batch(company=company, actor=None, origin=Message.Origin.API, items=items)
    ApiSend.objects.bulk_create(
        [
            ApiSend(company=company, message=m, access=access, group_id=group_id, custom=ref)
            for m, ref in zip(messages, custom, strict=True)
        ],
        ignore_conflicts=True,
    )
    return group_id, messages
