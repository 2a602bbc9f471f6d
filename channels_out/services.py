"""Writes and workflows of the channel layer: connections, sending, submitting, reports and inbound messages.

This module owns the message pipeline of issue 5 (guide §6.7, inventory A §9-§21, seed 004):

- ``message_send`` / ``message_send_batch``: the public entry point of every sending feature. They validate,
  store ``queued`` Message rows (the transactional outbox) and enqueue one submit task per batch on commit.
- ``messages_submit``: the worker side. It claims queued rows with ``select_for_update(skip_locked=True)`` and a
  lease, submits them through the connections of the channel in priority order (circuit breaker, token bucket),
  and records the outcome through the state machine of ``channels_out.states``.
- ``callback_store`` / ``delivery_events_apply``: raw callbacks stored first, then applied in batches; unknown
  vendor ids are kept (``UnmatchedEvent``) and applied when the message appears.
- ``messages_inbound_dispatch``: every stored inbound message reaches ``channels_out.inbound`` once.

Adapters never touch the ORM (R6); they are built here with ``adapter_for`` from a Connection's config.
"""

from __future__ import annotations

import datetime
import json
import logging
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection as db_connection
from django.db import transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from channels_out import breaker, states, throttle
from channels_out.base import (
    AdapterError,
    CallbackItem,
    CallbackRejected,
    ChannelAdapter,
    DeliveryEvent,
    InboundMessage,
    OutboundMessage,
    PendingCallback,
    ReportStatus,
    SubmitResult,
)
from channels_out.errors import error_describe
from channels_out.inbound import InboundNotice, inbound_dispatch
from channels_out.kinds import ChannelKind
from channels_out.models import (
    CallbackPayload,
    Connection,
    Message,
    MessageEvent,
    SimulatedReport,
    SimulatorRule,
    UnmatchedEvent,
)
from channels_out.registry import adapters
from channels_out.sessions import sessions_inbound, sessions_reserve, sessions_submitted
from channels_out.status_hooks import StatusNotice, status_notify
from channels_out.tasks import (
    delivery_events_apply_task,
    inbound_dispatch_task,
    messages_submit_bulk_task,
    messages_submit_realtime_task,
    simulated_reports_deliver_task,
)
from channels_out.validation import address_normalize, payload_text
from portal.audit import actions
from portal.audit.services import audit_record
from portal.core.exceptions import ApplicationError
from portal.core.redis import redis_client
from portal.tenants.models import Company

logger = logging.getLogger(__name__)

Status = Message.Status
# Headers never stored with a raw callback: they carry the vendor's credentials.
SECRET_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization", "x-api-key"})
APPLY_SCHEDULED_KEY = "channels_out:apply-scheduled"


def _messages_write(messages: Sequence[Message], fields: Sequence[str]) -> None:
    """Write ``fields`` (and updated_at) of many messages in one ``UPDATE … FROM (VALUES …)`` statement.

    ``bulk_update`` builds a CASE expression per field and row in Python, which dominated the submit and report
    paths (bench/bench_channels.py); one joined UPDATE does the same write in a single round trip.
    """
    if not messages:
        return
    now = timezone.now()
    columns = [Message._meta.get_field(name) for name in [*fields, "updated_at"]]
    names = [c.column for c in columns]  # type: ignore[union-attr]
    types = [c.db_type(db_connection) for c in columns]  # type: ignore[union-attr]
    row_sql = "(%s::bigint, " + ", ".join(f"%s::{t}" for t in types) + ")"
    params: list[Any] = []
    for message in messages:
        message.updated_at = now
        params.append(message.pk)
        params.extend(c.get_db_prep_save(getattr(message, c.attname), db_connection) for c in columns)  # type: ignore[union-attr]
    table = Message._meta.db_table
    assignments = ", ".join(f'"{n}" = v."{n}"' for n in names)
    value_names = ", ".join(['"id"', *(f'"{n}"' for n in names)])
    sql = (
        f'UPDATE "{table}" AS m SET {assignments} FROM (VALUES {", ".join([row_sql] * len(messages))}) '  # noqa: S608  (column names come from the model, values are parameters)
        f'AS v({value_names}) WHERE m."id" = v."id"'
    )
    with db_connection.cursor() as cursor:
        cursor.execute(sql, params)


class UnknownSenderError(ApplicationError):
    """No enabled connection of the company serves this sender ID on this channel."""


# -- connections ----------------------------------------------------------------------------------------------


def adapter_for(connection: Connection) -> ChannelAdapter:
    """Build the connection's adapter from its stored config (plus the simulator script for scripted adapters)."""
    adapter_cls = adapters.get(connection.adapter_key)
    config: dict[str, Any] = dict(connection.config)
    if getattr(adapter_cls, "scripted", False):
        config["script"] = simulator_script(connection=connection)
    # Adapters that put links to the portal into messages (the e-mail open pixel) need their public hook URL.
    config["callback_url"] = settings.PORTAL_PUBLIC_URL.rstrip("/") + reverse(
        "channels_out:callback", args=[connection.adapter_key, connection.uuid]
    )
    return adapter_cls(config)


def simulator_script(*, connection: Connection) -> list[dict[str, Any]]:
    """The enabled simulator rules of the connection's company that apply to ``connection``, as plain data."""
    rules = SimulatorRule.objects.filter(company_id=connection.company_id, enabled=True).filter(
        Q(connection__isnull=True) | Q(connection=connection)
    )
    fields = [
        f.name for f in SimulatorRule._meta.concrete_fields if f.name not in {"id", "company", "connection"}
    ]
    return list(rules.order_by("order", "id").values(*fields))


def connection_config_clean(
    *, adapter_key: str, config: Mapping[str, Any], channels: Iterable[str]
) -> dict[str, Any]:
    """Validate ``config`` with the adapter's config_form and ``channels`` against what the adapter serves.

    Raises ValidationError (field ``config`` or ``channels``) with the form's messages.
    """
    if adapter_key not in adapters:
        raise ValidationError({"adapter_key": _("Unknown adapter %(key)s.") % {"key": adapter_key}})
    adapter_cls = adapters.get(adapter_key)
    unsupported = sorted(set(channels) - {str(c) for c in adapter_cls.channels})
    if unsupported:
        raise ValidationError(
            {
                "channels": _("The %(key)s adapter cannot carry: %(list)s.")
                % {"key": adapter_key, "list": ", ".join(unsupported)}
            }
        )
    form = adapter_cls.config_form(data=dict(config))
    if not form.is_valid():
        raise ValidationError(
            {
                "config": [
                    f"{name}: {' '.join(str(e) for e in errors)}" for name, errors in form.errors.items()
                ]
            }
        )
    return dict(form.cleaned_data)


@transaction.atomic
def connection_save(*, company: Company, actor: Any, connection: Connection) -> Connection:
    """Validate and store a connection (back office).

    Side effects: writes the Connection, an audit entry ``connection.created``/``connection.changed`` that names
    the changed config keys but never their values (credentials). Raises ValidationError.
    """
    if not connection._state.adding and connection.company_id != company.pk:
        raise ValidationError(_("The connection belongs to another company."))
    connection.company = company
    connection.config = connection_config_clean(
        adapter_key=connection.adapter_key, config=connection.config, channels=connection.channels
    )
    is_new = connection.pk is None
    old = None if is_new else Connection.objects.filter(pk=connection.pk).first()
    connection.full_clean()
    connection.save()
    public = {
        "name": connection.name,
        "adapter_key": connection.adapter_key,
        "channels": list(connection.channels),
        "sender_ids": list(connection.sender_ids),
        "priority": connection.priority,
        "rate_limit": connection.rate_limit,
        "enabled": connection.enabled,
    }
    changed_keys = sorted(
        k for k in set(connection.config) | set(old.config if old else {})
        if old is None or old.config.get(k) != connection.config.get(k)
    )  # fmt: skip
    from portal.audit.services import Change

    audit_record(
        company=company,
        actor=actor,
        action=actions.CONNECTION_CREATED if is_new else actions.CONNECTION_CHANGED,
        target=connection,
        changes=[
            Change(
                table=Connection._meta.db_table,
                operation="insert" if is_new else "update",
                object_id=str(connection.pk),
                new={**public, "config_keys_changed": changed_keys},
            )
        ],
    )
    return connection


def _connections_for(company_id: int, channel: str, sender_id: str) -> list[Connection]:
    return list(
        Connection.objects.filter(
            company_id=company_id,
            enabled=True,
            channels__contains=[channel],
            sender_ids__contains=[sender_id],
        ).order_by("priority", "id")
    )


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
    *, company: Company, actor: Any, origin: str, items: Sequence[OutgoingItem]
) -> list[Message]:
    """Queue many messages at once (broadcast fan-out, bulk API) and return their rows in ``items`` order.

    Side effects, errors: as ``message_send``; every item is checked before anything is written, and a
    ValidationError names the failing items by position (``"3.to"``). Submit tasks carry
    ``PORTAL_SUBMIT_BATCH_SIZE`` message ids each (one task per batch, not per message).
    """
    if origin not in Message.Origin.values or origin == Message.Origin.CONTACT:
        raise ValidationError(_("Unknown message origin %(origin)s.") % {"origin": origin})
    errors: dict[str, list[str]] = {}
    senders_ok: dict[tuple[str, str], bool] = {}
    rows: list[Message] = []
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
    _enqueue_submit(
        company.pk, [m.pk for m in rows if m.status == Status.QUEUED], bulk=origin == Message.Origin.BROADCAST
    )
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


def _status_announce(events: Iterable[MessageEvent]) -> None:
    """Tell the messages' origins about every status change these events applied (after commit)."""
    status_notify(
        StatusNotice(e.company_id, e.message.pk, e.message.origin, e.status, e.occurred_at)
        for e in events
        if e.applied
    )


def _event(message: Message, status: str, at: datetime.datetime, source: str, *, applied: bool = True,
           raw_status: str = "", error_code: str = "", note: str = "") -> MessageEvent:  # fmt: skip
    return MessageEvent(
        company_id=message.company_id, message=message, status=status, source=source, occurred_at=at,
        applied=applied, raw_status=raw_status[:64], error_code=error_code[:32], note=note[:500],
    )  # fmt: skip


def _apply_status(
    message: Message,
    status: str,
    at: datetime.datetime,
    source: str,
    events: list[MessageEvent],
    *,
    raw_status: str = "",
    error_code: str = "",
    error_text: str = "",
) -> bool:
    """Move ``message`` to ``status`` if the state machine allows it; always add the timeline line."""
    applied = states.can_transition(message.status, status)
    if status == Status.DELIVERED and message.delivered_at is None:
        message.delivered_at = at  # recorded even when "displayed" came first (out of order)
    if applied:
        message.status = status
        message.status_changed_at = at
        if status == Status.SUBMITTED:
            message.submitted_at = message.submitted_at or at
        elif status == Status.DISPLAYED:
            message.displayed_at = at
        if status in (Status.UNDELIVERED, Status.FAILED, Status.EXPIRED):
            info = error_describe(message.channel, error_code, error_text)
            message.error_code = info.code[:32]
            message.error_text = info.text[:500]
        elif status in (Status.DELIVERED, Status.DISPLAYED):
            message.error_code = message.error_text = ""
    note = "" if applied else _("Ignored: the message is already %(status)s.") % {"status": message.status}
    events.append(
        _event(
            message,
            status,
            at,
            source,
            applied=applied,
            raw_status=raw_status,
            error_code=error_code,
            note=note,
        )
    )
    return applied


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


# -- inbound --------------------------------------------------------------------------------------------------


def _inbound_store(connection: Connection, items: list[InboundMessage]) -> None:
    """Store inbound messages as MO/P2A rows (a repeated vendor id is stored once) and enqueue their dispatch."""
    rows = []
    for item in items:
        country = operator = ""
        try:
            address = address_normalize(item.channel, item.from_address)
            from_address, country, operator = address.value, address.country, address.operator
        except ValidationError:
            from_address = item.from_address[:254]  # keep what the vendor said; an MO is never dropped
        rows.append(
            Message(
                company_id=connection.company_id, connection=connection, channel=item.channel,
                direction=Message.Direction.MO, traffic_type=Message.TrafficType.P2A,
                origin=Message.Origin.CONTACT, sender_id=item.sender_id[:64], address=from_address,
                text=item.text, payload=dict(item.payload), status=Status.DELIVERED,
                status_changed_at=item.received_at, delivered_at=item.received_at,
                client_reference=f"mo-{uuid.uuid4().hex}", vendor_message_id=item.vendor_message_id[:128],
                country=country, operator=operator,
            )
        )  # fmt: skip
    _suggestion_replies_link(connection, rows)
    Message.objects.bulk_create(rows, ignore_conflicts=True)
    stored = list(
        Message.objects.filter(
            company_id=connection.company_id, connection=connection, direction=Message.Direction.MO,
            vendor_message_id__in=[r.vendor_message_id for r in rows], dispatched_at__isnull=True,
        ).values_list("pk", flat=True)
    )  # fmt: skip
    known_events = set(
        MessageEvent.objects.filter(message_id__in=stored).values_list("message_id", flat=True)
    )
    MessageEvent.objects.bulk_create(
        [
            MessageEvent(company_id=connection.company_id, message_id=pk, status=Status.DELIVERED,
                         source=MessageEvent.Source.REPORT, occurred_at=timezone.now(), raw_status="MO")
            for pk in stored if pk not in known_events
        ]
    )  # fmt: skip
    sessions_inbound(
        company_id=connection.company_id,
        items=[(r.channel, r.sender_id, r.address, r.delivered_at or timezone.now()) for r in rows],
    )
    if stored:
        company_id = connection.company_id
        transaction.on_commit(lambda: inbound_dispatch_task.delay(company_id, stored))


def _suggestion_replies_link(connection: Connection, rows: list[Message]) -> None:
    """Link each RCS suggestion reply (a tapped reply or action chip) to the business message it answers.

    The vendor's ``reply_to`` id when it sends one (the simulator does); otherwise the latest RCS message our
    sender sent the contact before the tap (Google RBM names no original message). Two queries per batch.
    """
    replies = [r for r in rows if r.channel == ChannelKind.RCS and r.payload.get("postback_data")]
    if not replies:
        return
    by_vendor_id = {
        m.vendor_message_id: m.pk
        for m in Message.objects.filter(
            company_id=connection.company_id, connection=connection, direction=Message.Direction.MT,
            vendor_message_id__in={str(r.payload["reply_to"]) for r in replies if r.payload.get("reply_to")},
        ).only("pk", "vendor_message_id")
    }  # fmt: skip
    latest = {
        (m.sender_id, m.address): m.pk
        for m in Message.objects.filter(
            company_id=connection.company_id, channel=ChannelKind.RCS, direction=Message.Direction.MT,
            address__in={r.address for r in replies}, sender_id__in={r.sender_id for r in replies},
            created_at__lte=max(r.delivered_at or timezone.now() for r in replies),
        ).order_by("sender_id", "address", "-created_at", "-id").distinct("sender_id", "address").only(
            "pk", "sender_id", "address"
        )
    }  # fmt: skip
    for reply in replies:
        original = by_vendor_id.get(str(reply.payload.get("reply_to") or ""))
        reply.in_reply_to_id = original or latest.get((reply.sender_id, reply.address))


def messages_inbound_dispatch(*, company_id: int, message_ids: Sequence[int]) -> int:
    """Hand each stored inbound message to ``channels_out.inbound.inbound_dispatch`` once; return how many.

    The row is locked (skip_locked), dispatched and marked in one transaction, so a duplicate task finds it
    marked and does nothing; a worker dying mid-dispatch leaves it unmarked for the next try (subscribers are
    idempotent, as ``inbound`` requires). Side effects: whatever the subscribers do; the API accesses' webhook
    deliveries (``webhooks.api_inbound_deliveries_create``); ``dispatched_at`` set.
    """
    from channels_out.webhooks import api_inbound_deliveries_create  # webhooks imports this module's tasks

    dispatched = 0
    for message_id in message_ids:
        with transaction.atomic():
            message = (
                Message.objects.select_for_update(skip_locked=True)
                .filter(
                    company_id=company_id,
                    pk=message_id,
                    direction=Message.Direction.MO,
                    dispatched_at__isnull=True,
                )
                .first()
            )
            if message is None:
                continue
            notice = (
                InboundNotice(
                    company_id=company_id, message_id=message.pk, channel=message.channel,
                    sender_id=message.sender_id, from_address=message.address, text=message.text,
                    received_at=message.delivered_at or message.created_at,
                    postback_data=str(message.payload.get("postback_data") or ""),
                    in_reply_to_id=message.in_reply_to_id,
                )
            )  # fmt: skip
            inbound_dispatch(notice)
            # After the sections' subscribers (opt-out words first): the API customers' webhooks (issue 5 §6).
            api_inbound_deliveries_create(notice)
            Message.objects.filter(pk=message.pk).update(dispatched_at=timezone.now())
            dispatched += 1
    return dispatched


# -- periodic upkeep ------------------------------------------------------------------------------------------


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


def rcs_capability_check(*, company: Company, sender_id: str, to: str) -> bool:
    """Ask the RCS connection of ``sender_id`` whether ``to`` can receive RCS (guide §6.7 capability check).

    Returns True when the adapter cannot tell. Raises UnknownSenderError or ValidationError (bad number).
    """
    address = address_normalize(ChannelKind.RCS, to, default_country=company.default_country)
    candidates = _connections_for(company.pk, ChannelKind.RCS, sender_id)
    if not candidates:
        raise UnknownSenderError(_("Sender ID %(sender)s is not set up for RCS.") % {"sender": sender_id})
    adapter = adapter_for(candidates[0])
    check = getattr(adapter, "check_capability", None)
    return True if check is None else bool(check(ChannelKind.RCS, address.value))


def simulator_rule_save(*, company: Company, actor: Any, rule: SimulatorRule) -> SimulatorRule:
    """Validate and store one line of the simulator's script (back office).

    Side effects: writes the SimulatorRule; the next submit to a matching recipient follows it. Raises
    ValidationError when the rule's connection belongs to another company.
    """
    rule.company = company
    if rule.connection is not None and rule.connection.company_id != company.pk:
        raise ValidationError(_("The connection belongs to another company."))
    rule.full_clean()
    rule.save()
    return rule


def simulator_connection_create(
    *,
    company: Company,
    actor: Any,
    name: str = "Simulator",
    channels: Sequence[str] = tuple(ChannelKind.values),
    sender_ids: Sequence[str] = ("ACME",),
    priority: int = 100,
    rate_limit: int = 0,
) -> Connection:
    """Create a simulator connection with a fresh callback secret (development, tests, demos).

    Side effects: as ``connection_save``.
    """
    connection = Connection(
        company=company, name=name, adapter_key="simulator", channels=list(channels), sender_ids=list(sender_ids),
        priority=priority, rate_limit=rate_limit, config={"callback_secret": uuid.uuid4().hex},
    )  # fmt: skip
    return connection_save(company=company, actor=actor, connection=connection)


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
