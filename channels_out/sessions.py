"""Session rules of Viber and WhatsApp: the one place that decides whether a message may go out in a session.

Guide §12.2 (Viber sessions), §13.1 (WhatsApp), seeds 001-003 R-3.4 / R-3.13 (the 24-hour window):

- **Viber**: a customer message opens a 24-hour window; the business's session-type messages (replies from
  conversations and chatbots, origins ``conversation`` and ``chatbot``) are allowed only inside it, at most 10 in
  a row without a customer reply (the 11th is refused and not sent) and at most 60 per session (the 60th ends the
  session; the customer writing again starts a new one). The vendor issues the session id at the first reply
  (``SubmitResult.session_id``, scripted in the simulator). Broadcasts, API and system messages are ordinary
  business messages, billed per message, outside these rules.
- **WhatsApp**: template messages are always allowed. A free-form message is allowed within 24 hours of the
  customer's last message, or at any time when a connection serving the sender is marked verified by WhatsApp
  (``Connection.whatsapp_verified``: "only a Verified company may open a conversation with a free message").

State per (company, channel, sender, contact) is a ``ChannelSession`` row, written by ``sessions_inbound`` (from
the inbound store, once per batch) and by ``sessions_reserve`` (from ``message_send_batch``: one locking read
for the whole batch, counters written in one statement). A refused message is stored ``failed`` with the code
and text of the catalogue (``errors.PORTAL_ERRORS``), never submitted.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connection as db_connection

from channels_out.errors import PORTAL_ERRORS
from channels_out.kinds import ChannelKind
from channels_out.models import ChannelSession, Connection, Message

WINDOW = datetime.timedelta(hours=24)
VIBER_MAX_CONSECUTIVE = 10
VIBER_MAX_PER_SESSION = 60
VIBER_SESSION_ORIGINS = frozenset({Message.Origin.CONVERSATION, Message.Origin.CHATBOT})

Key = tuple[str, str, str]  # channel, sender_id, address


@dataclass(frozen=True)
class Refusal:
    code: str
    text: str


def _refusal(code: str) -> Refusal:
    return Refusal(code, PORTAL_ERRORS[code].text)


def is_whatsapp_template(payload: Mapping[str, Any]) -> bool:
    """A WhatsApp template message (the simulator and the CPaaS adapter read the same two keys)."""
    return "template" in (payload.get("type"), payload.get("format"))


def whatsapp_verified_senders(company_id: int) -> set[str]:
    """The WhatsApp sender IDs of the company served by an enabled connection marked verified by WhatsApp."""
    verified: set[str] = set()
    for senders in Connection.objects.filter(
        company_id=company_id, enabled=True, whatsapp_verified=True, channels__contains=[ChannelKind.WHATSAPP]
    ).values_list("sender_ids", flat=True):
        verified.update(senders)
    return verified


def whatsapp_sender_unverified(company_id: int, sender_id: str) -> bool:
    """Whether enabled WhatsApp connections serve ``sender_id`` and none of them is verified by WhatsApp (a sender
    no connection serves is not judged here: the launch check names it as not set up)."""
    verified = Connection.objects.filter(
        company_id=company_id,
        enabled=True,
        channels__contains=[ChannelKind.WHATSAPP],
        sender_ids__contains=[sender_id],
    ).values_list("whatsapp_verified", flat=True)
    flags = set(verified)
    return bool(flags) and True not in flags


def session_bound(message: Message) -> bool:
    """Whether the session rules apply to this outgoing message."""
    if message.channel == ChannelKind.VIBER:
        return message.origin in VIBER_SESSION_ORIGINS
    if message.channel == ChannelKind.WHATSAPP:
        return not is_whatsapp_template(message.payload)
    return False


def sessions_reserve(
    *, company_id: int, messages: Sequence[Message], now: datetime.datetime
) -> dict[int, Refusal]:
    """Check the session rules for unsaved outgoing ``messages``; return refusals by position.

    Accepted Viber session messages are counted (in the batch's order) and carry the session id when it is known.
    Call inside the sending transaction: the session rows are locked until it commits.
    """
    bound = [(i, m) for i, m in enumerate(messages) if session_bound(m)]
    if not bound:
        return {}
    verified: set[str] = set()
    if any(m.channel == ChannelKind.WHATSAPP for _i, m in bound):
        verified = whatsapp_verified_senders(company_id)
    sessions = {
        (s.channel, s.sender_id, s.address): s
        for s in ChannelSession.objects.select_for_update()
        .filter(
            company_id=company_id,
            channel__in={m.channel for _i, m in bound},
            sender_id__in={m.sender_id for _i, m in bound},
            address__in={m.address for _i, m in bound},
        )
        .order_by("id")
    }
    refusals: dict[int, Refusal] = {}
    changed: dict[int, ChannelSession] = {}
    for index, message in bound:
        session = sessions.get((message.channel, message.sender_id, message.address))
        in_window = session is not None and now < session.last_inbound_at + WINDOW
        if message.channel == ChannelKind.WHATSAPP:
            if not in_window and message.sender_id not in verified:
                refusals[index] = _refusal("WA-WINDOW-CLOSED")
            continue
        if session is None or not in_window:
            refusals[index] = _refusal("VIBER-NO-SESSION")
        elif session.ended_at is not None:
            refusals[index] = _refusal("VIBER-SESSION-ENDED")
        elif session.consecutive_mt >= VIBER_MAX_CONSECUTIVE:
            refusals[index] = _refusal("VIBER-TOO-MANY")
        else:
            session.mt_count += 1
            session.consecutive_mt += 1
            if session.mt_count >= VIBER_MAX_PER_SESSION:
                session.ended_at = now
            message.vendor_session_id = session.session_id
            changed[session.pk] = session
    if changed:
        ChannelSession.objects.bulk_update(
            list(changed.values()), ["mt_count", "consecutive_mt", "ended_at", "updated_at"]
        )
    return refusals


def sessions_inbound(*, company_id: int, items: Iterable[tuple[str, str, str, datetime.datetime]]) -> int:
    """Record customer messages ``(channel, sender_id, address, received_at)`` of Viber and WhatsApp.

    The window restarts from the latest customer message and the run of business messages starts again at 0.
    A new session starts (no id yet, count 0) when none is live: none yet, the last one ended at 60 messages,
    or its window had closed. One statement for the batch; returns the number of sessions touched.
    """
    latest: dict[Key, datetime.datetime] = {}
    for channel, sender_id, address, at in items:
        if channel not in (ChannelKind.VIBER, ChannelKind.WHATSAPP):
            continue
        key = (channel, sender_id, address)
        if key not in latest or at > latest[key]:
            latest[key] = at
    if not latest:
        return 0
    values = ", ".join(
        ["(%s, %s, %s, %s, %s::timestamptz, %s::timestamptz, '', 0, 0, now(), now())"] * len(latest)
    )
    params: list[Any] = []
    for (channel, sender_id, address), at in latest.items():
        params.extend([company_id, channel, sender_id, address, at, at])
    table = ChannelSession._meta.db_table
    live = f'("{table}"."ended_at" IS NULL AND "{table}"."last_inbound_at" > EXCLUDED."last_inbound_at" - interval \'24 hours\')'
    sql = (
        f'INSERT INTO "{table}" ("company_id", "channel", "sender_id", "address", "last_inbound_at", "opened_at", '  # noqa: S608  (names from the model, values are parameters)
        f'"session_id", "mt_count", "consecutive_mt", "created_at", "updated_at") VALUES {values} '
        f'ON CONFLICT ("company_id", "channel", "sender_id", "address") DO UPDATE SET '
        f'"session_id" = CASE WHEN {live} THEN "{table}"."session_id" ELSE \'\' END, '
        f'"mt_count" = CASE WHEN {live} THEN "{table}"."mt_count" ELSE 0 END, '
        f'"opened_at" = CASE WHEN {live} THEN "{table}"."opened_at" ELSE EXCLUDED."last_inbound_at" END, '
        f'"ended_at" = NULL, "consecutive_mt" = 0, '
        f'"last_inbound_at" = GREATEST("{table}"."last_inbound_at", EXCLUDED."last_inbound_at"), "updated_at" = now()'
    )
    with db_connection.cursor() as cursor:
        cursor.execute(sql, params)
    return len(latest)


def sessions_submitted(*, company_id: int, issued: Iterable[tuple[str, str, str]]) -> int:
    """Keep the session id the vendor issued at the first reply of a session: ``(sender_id, address, id)``.

    One statement for the batch; a live Viber session without an id takes the first one reported.
    """
    rows = sorted({(sender, address, sid) for sender, address, sid in issued if sid})
    if not rows:
        return 0
    table = ChannelSession._meta.db_table
    params: list[Any] = []
    for row in rows:
        params.extend(row)
    values = ", ".join(["(%s, %s, %s)"] * len(rows))
    sql = (
        f'UPDATE "{table}" AS s SET "session_id" = v.sid, "updated_at" = now() '  # noqa: S608  (names from the model)
        f"FROM (VALUES {values}) AS v(sender, address, sid) "
        f'WHERE s."company_id" = %s AND s."channel" = %s AND s."sender_id" = v.sender AND s."address" = v.address '
        f'AND s."session_id" = \'\' AND s."ended_at" IS NULL'
    )
    with db_connection.cursor() as cursor:
        cursor.execute(sql, [*params, company_id, ChannelKind.VIBER.value])
        return int(cursor.rowcount)
