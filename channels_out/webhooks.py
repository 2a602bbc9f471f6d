"""Customer webhooks of the send API: status callbacks to an API access's webhook URL (issue 5 §6).

This module owns the durable delivery of those callbacks:

- ``api_inbound_deliveries_create`` (called by ``services.messages_inbound_dispatch`` after the sections'
  inbound subscribers) stores a delivery per inbound message for the webhook of every API access that may use
  the sender the contact wrote to (seed 004 §2.9 ``…:message:in``).
- ``api_status_subscriber`` is the ``status_subscribers`` entry for messages of origin ``api`` (registered in
  ``ChannelsOutConfig.ready``); it only enqueues ``webhook_deliveries_create_task``.
- ``webhook_deliveries_create`` turns status changes into ``WebhookDelivery`` rows (one per message and status:
  a repeated notice adds nothing) with the exact JSON body, then enqueues the sender.
- ``webhook_deliveries_send`` posts due deliveries, logs every try as a ``WebhookAttempt`` (status, latency,
  response excerpt) and schedules the next try, or moves the delivery to the dead-letter list.
- ``webhook_delivery_replay`` / ``webhook_deliveries_replay_dead`` start a fresh retry cycle from the portal.

Decisions (seed 004 §2.8, §5.9):

- **Body**: ``{"event": "<name>", "payload": {...}}`` with the event names of §2.9 (``sms:message:status``,
  ``viber:message:status``, ``whatsapp:message:status``, ``voice:message:out``, else ``<channel>:message:status``).
- **Retry schedule** (§2.8.1 read as "t0, +10 s, +100 s, then give up"): an attempt fails on a non-2xx answer or
  no answer within ``PORTAL_WEBHOOK_TIMEOUT_MS`` (3 s); the next tries wait ``PORTAL_WEBHOOK_RETRY_DELAYS``
  (10, 100 s). After the last one the delivery is ``dead``.
- **Signature** (§5.9 instead of §2.8.2's "webhook id as secret"): headers ``Signature-Timestamp: <unix s>`` and
  ``Signature: hex(HMAC-SHA256(secret, "<timestamp>.<raw body>"))``; receivers should refuse timestamps older
  than 5 minutes (replay protection).
- **Secret**: derived per access, not stored: ``"whsec_" + hex(HMAC-SHA256(PORTAL_API_KEY_PEPPER,
  "webhook-signing:<access uuid>:<key hash>"))[:48]``. It is shown on the access's webhook page; regenerating the
  API key rotates it; changing the pepper rotates every secret (as it revokes every key).
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import json
import logging
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

import requests
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from channels_out.http import http_session
from channels_out.inbound import InboundNotice
from channels_out.models import (
    ApiIdempotencyKey,
    ApiSend,
    Message,
    MessageEvent,
    WebhookAttempt,
    WebhookDelivery,
)
from channels_out.status_hooks import StatusNotice
from channels_out.tasks import webhook_deliveries_create_task, webhook_deliveries_send_task
from portal.api.models import ApiAccess
from portal.audit import actions
from portal.audit.services import audit_record
from portal.tenants.models import Company

logger = logging.getLogger(__name__)

EVENTS = {
    "sms": "sms:message:status",
    "viber": "viber:message:status",
    "whatsapp": "whatsapp:message:status",
    "tts": "voice:message:out",
}
SEND_BATCH = 50
LEASE_SECONDS = 60
EXCERPT_CHARS = 500


def webhook_event_name(channel: str) -> str:
    return EVENTS.get(channel, f"{channel}:message:status")


def webhook_signing_secret(access: ApiAccess) -> str:
    """The access's signing secret (derived, see the module docstring)."""
    material = f"webhook-signing:{access.uuid}:{access.key_hash}".encode()
    return (
        "whsec_"
        + hmac.new(settings.PORTAL_API_KEY_PEPPER.encode(), material, hashlib.sha256).hexdigest()[:48]
    )


def webhook_signature(secret: str, timestamp: str, body: bytes) -> str:
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def _delays() -> list[int]:
    return [int(value) for value in settings.PORTAL_WEBHOOK_RETRY_DELAYS if str(value).strip()]


# -- from status changes to deliveries ---------------------------------------------------------------------------


def api_status_subscriber(notices: list[StatusNotice]) -> None:
    """``status_subscribers["api"]``: hand the changes to a worker (quick, as status_hooks asks)."""
    by_company: dict[int, list[list[Any]]] = defaultdict(list)
    for notice in notices:
        by_company[notice.company_id].append(
            [notice.message_id, notice.status, notice.occurred_at.isoformat()]
        )
    for company_id, changes in by_company.items():
        webhook_deliveries_create_task.delay(company_id, changes)


def webhook_deliveries_create(*, company_id: int, changes: Sequence[Sequence[Any]]) -> int:
    """Create one delivery per (message, status) for messages sent by a key with a webhook URL; return count.

    Side effects: WebhookDelivery rows (a repeated change is ignored by the unique dedupe key); the send task is
    enqueued on commit.
    """
    message_ids = {int(change[0]) for change in changes}
    sends = {
        s.message_id: s
        for s in ApiSend.objects.filter(company_id=company_id, message_id__in=message_ids)
        .exclude(access__isnull=True)
        .exclude(access__webhook_url="")
        .select_related("access", "message")
    }
    if not sends:
        return 0
    raw: dict[tuple[int, str], MessageEvent] = {}
    for event in MessageEvent.objects.filter(
        company_id=company_id, message_id__in=list(sends), applied=True
    ).order_by("occurred_at", "id"):
        raw[(event.message_id, event.status)] = event
    now = timezone.now()
    rows = []
    for message_id, status, occurred_at in changes:
        send = sends.get(int(message_id))
        if send is None or send.access is None:
            continue
        body = webhook_body(send, str(status), str(occurred_at), raw.get((int(message_id), str(status))))
        rows.append(
            WebhookDelivery(
                company_id=company_id, access=send.access, message_id=send.message_id,
                event=webhook_event_name(send.message.channel), url=send.access.webhook_url, body=body,
                dedupe_key=f"{message_id}:{status}", next_attempt_at=now,
            )
        )  # fmt: skip
    with transaction.atomic():
        created = WebhookDelivery.objects.bulk_create(rows, ignore_conflicts=True)
        transaction.on_commit(lambda: webhook_deliveries_send_task.delay())
    return len(created)


# -- inbound messages to API customers (seed 004 §2.9 "<product>:message:in") ---------------------------------------

INBOUND_EVENTS = {"sms": "vmn:message:in", "whatsapp": "whatsapp:message:in", "viber": "viber:message:in"}


def webhook_inbound_event_name(channel: str) -> str:
    return INBOUND_EVENTS.get(channel, f"{channel}:message:in")


def api_inbound_deliveries_create(notice: InboundNotice) -> None:
    """A contact's message reaches the webhook of every API access of the company that may use the sender it was
    written to (``senders`` empty or naming it, scope omni-api).

    Runs in the dispatch worker's transaction: the deliveries are stored there (one per access and message; a
    repeated dispatch adds nothing) and sent by the same machinery as status callbacks (signature, retries,
    attempt log, dead letters, replay).
    """
    accesses = [
        access
        for access in ApiAccess.objects.filter(company_id=notice.company_id, scopes__contains=["omni-api"])
        .exclude(webhook_url="")
        .order_by("id")
        if not access.senders or notice.sender_id in access.senders
    ]
    if not accesses:
        return
    message = Message.objects.only("uuid").get(pk=notice.message_id, company_id=notice.company_id)
    body = webhook_inbound_body(notice, str(message.uuid))
    event = webhook_inbound_event_name(notice.channel)
    now = timezone.now()
    WebhookDelivery.objects.bulk_create(
        [
            WebhookDelivery(
                company_id=notice.company_id, access=access, message_id=notice.message_id, event=event,
                url=access.webhook_url, body=body, dedupe_key=f"{notice.message_id}:in", next_attempt_at=now,
            )
            for access in accesses
        ],
        ignore_conflicts=True,
    )  # fmt: skip
    transaction.on_commit(lambda: webhook_deliveries_send_task.delay())


def webhook_inbound_body(notice: InboundNotice, message_uuid: str) -> str:
    """The JSON posted for one inbound message (seed 004 §2.9 inbound payload, [UP] shape)."""
    message: dict[str, Any] = {"type": "text", "payload": {"text": notice.text}}
    if notice.postback_data:
        message = {
            "type": "suggestion",
            "payload": {"text": notice.text, "postback_data": notice.postback_data},
        }
    payload = {
        "id": message_uuid,
        "channels": [{"name": notice.channel, "to": notice.sender_id}],
        "recipient": {"from": notice.from_address},
        "message": message,
        "received_at": notice.received_at.isoformat(),
    }
    return json.dumps(
        {"event": webhook_inbound_event_name(notice.channel), "payload": payload}, separators=(",", ":")
    )


def webhook_body(send: ApiSend, status: str, occurred_at: str, event: MessageEvent | None) -> str:
    """The JSON posted for one status change (seed 004 §1.4 C1/C2 fields, in the portal's words)."""
    message = send.message
    payload: dict[str, Any] = {
        "id": str(message.uuid),
        "channel": message.channel,
        "to": message.address,
        "from": message.sender_id,
        "status": status,
        "raw_status": event.raw_status if event else "",
        "error_code": (event.error_code if event else "")
        or (message.error_code if status in {"undelivered", "failed", "expired"} else ""),
        "error": message.error_text if status in {"undelivered", "failed", "expired"} else "",
        "custom": send.custom,
        "group_id": str(send.group_id),
        "units": message.segments,
        "occurred_at": occurred_at,
    }
    if message.channel in {"sms", "viber", "whatsapp", "tts"}:
        payload["mobile"] = message.address.lstrip("+")  # seed 004 §3.3 number format
    return json.dumps(
        {"event": webhook_event_name(message.channel), "payload": payload}, separators=(",", ":")
    )


# -- sending ----------------------------------------------------------------------------------------------------


def webhook_deliveries_send(*, limit: int = 500) -> int:
    """Post every due delivery once (claimed with a lease, so workers never post the same try twice).

    Side effects: HTTP POSTs to customer URLs (timeout ``PORTAL_WEBHOOK_TIMEOUT_MS``), WebhookAttempt rows,
    delivery state changes, a countdown task per scheduled retry. Returns the number of tries made.
    """
    done = 0
    while done < limit:
        now = timezone.now()
        with transaction.atomic():
            due = list(
                WebhookDelivery.objects.select_for_update(skip_locked=True)
                .filter(state=WebhookDelivery.State.PENDING, next_attempt_at__lte=now)
                .select_related("access")
                .order_by("next_attempt_at", "id")[:SEND_BATCH]
            )
            if not due:
                break
            WebhookDelivery.objects.filter(pk__in=[d.pk for d in due]).update(
                next_attempt_at=now + datetime.timedelta(seconds=LEASE_SECONDS)
            )
        for delivery in due:
            _attempt(delivery)
        done += len(due)
    return done


def _attempt(delivery: WebhookDelivery) -> None:
    body = delivery.body.encode()
    stamp = str(int(time.time()))
    secret = webhook_signing_secret(delivery.access)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "portal-webhooks/1",
        "Signature-Timestamp": stamp,
        "Signature": webhook_signature(secret, stamp, body),
        "X-Portal-Event": delivery.event,
        "X-Portal-Delivery": str(delivery.uuid),
    }
    started = time.monotonic()
    status_code: int | None = None
    excerpt = error = ""
    try:
        response = http_session().post(
            delivery.url, data=body, headers=headers, timeout=settings.PORTAL_WEBHOOK_TIMEOUT_MS / 1000,
            allow_redirects=False,
        )  # fmt: skip
        status_code, excerpt = response.status_code, response.text[:EXCERPT_CHARS]
    except requests.Timeout:
        error = f"No answer within {settings.PORTAL_WEBHOOK_TIMEOUT_MS} ms."
    except requests.RequestException as exc:
        error = f"Connection failed: {type(exc).__name__}."
    latency = int((time.monotonic() - started) * 1000)
    now = timezone.now()
    ok = status_code is not None and 200 <= status_code < 300
    with transaction.atomic():
        locked = WebhookDelivery.objects.select_for_update().get(pk=delivery.pk)
        number = WebhookAttempt.objects.filter(delivery=locked).count() + 1
        WebhookAttempt.objects.create(
            company_id=locked.company_id, delivery=locked, number=number, status_code=status_code,
            latency_ms=latency, response_excerpt=excerpt, error=error, replay=locked.dead_at is not None,
        )  # fmt: skip
        locked.attempts += 1
        locked.last_status_code = status_code
        locked.last_error = error or ("" if ok else f"HTTP {status_code}")
        if ok:
            locked.state, locked.delivered_at, locked.next_attempt_at = (
                WebhookDelivery.State.DELIVERED,
                now,
                None,
            )
        elif locked.attempts > len(_delays()):
            locked.state, locked.dead_at, locked.next_attempt_at = WebhookDelivery.State.DEAD, now, None
        else:
            delay = _delays()[locked.attempts - 1]
            locked.next_attempt_at = now + datetime.timedelta(seconds=delay)
            # Punctual retry; the beat job (every 5 s) sends it anyway if this task is lost.
            transaction.on_commit(lambda: webhook_deliveries_send_task.apply_async(countdown=delay))
        locked.save(
            update_fields=["attempts", "last_status_code", "last_error", "state", "delivered_at", "dead_at",
                           "next_attempt_at", "updated_at"]
        )  # fmt: skip


# -- replay -----------------------------------------------------------------------------------------------------


def _replay(deliveries: Iterable[WebhookDelivery]) -> list[int]:
    ids = [d.pk for d in deliveries]
    WebhookDelivery.objects.filter(pk__in=ids).update(
        state=WebhookDelivery.State.PENDING,
        attempts=0,
        next_attempt_at=timezone.now(),
        updated_at=timezone.now(),
    )
    transaction.on_commit(lambda: webhook_deliveries_send_task.delay())
    return ids


@transaction.atomic
def webhook_delivery_replay(*, company: Company, actor: Any, delivery: WebhookDelivery) -> WebhookDelivery:
    """Send one delivery again with a fresh retry cycle (any state: a delivered one can be re-sent on request).

    Side effects: the delivery becomes pending and due now; audit ``webhook.replayed``; the send task on commit.
    """
    if delivery.company_id != company.pk:
        raise WebhookDelivery.DoesNotExist
    _replay([delivery])
    audit_record(company=company, actor=actor, action=actions.WEBHOOK_REPLAYED, target=delivery.access)
    delivery.refresh_from_db()
    return delivery


@transaction.atomic
def webhook_deliveries_replay_dead(*, company: Company, actor: Any, access: ApiAccess) -> int:
    """Replay every dead delivery of ``access``; return how many. Side effects as ``webhook_delivery_replay``."""
    dead = WebhookDelivery.objects.filter(company=company, access=access, state=WebhookDelivery.State.DEAD)
    ids = _replay(list(dead.only("pk")))
    if ids:
        audit_record(company=company, actor=actor, action=actions.WEBHOOK_REPLAYED, target=access)
    return len(ids)


def webhook_upkeep() -> dict[str, int]:
    """Beat: send due deliveries whose countdown task was lost; purge expired idempotency keys."""
    cutoff = timezone.now() - datetime.timedelta(hours=settings.PORTAL_API_IDEMPOTENCY_HOURS)
    purged, _by_model = ApiIdempotencyKey.objects.filter(created_at__lt=cutoff).delete()
    return {"sent": webhook_deliveries_send(), "idempotency_keys_purged": purged}


def webhook_delivery_list(*, company: Company, access: ApiAccess, state: str = "") -> Any:
    """Selector: the access's deliveries, newest first, optionally in one state."""
    qs = WebhookDelivery.objects.filter(company=company, access=access)
    if state:
        qs = qs.filter(state=state)
    return qs.order_by("-id")


def webhook_counts(*, company: Company, access: ApiAccess) -> dict[str, int]:
    qs = WebhookDelivery.objects.filter(company=company, access=access)
    return {state: qs.filter(state=state).count() for state in WebhookDelivery.State.values}
