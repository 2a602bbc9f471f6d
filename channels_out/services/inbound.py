"""Inbound messages: stored as MO/P2A rows when their callbacks are applied, RCS suggestion replies linked to the
business message they answer, and ``messages_inbound_dispatch``: every stored inbound message reaches
``channels_out.inbound`` once.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from channels_out.base import InboundMessage
from channels_out.inbound import InboundNotice, inbound_dispatch
from channels_out.kinds import ChannelKind
from channels_out.models import Connection, Message, MessageEvent
from channels_out.services._common import Status
from channels_out.sessions import sessions_inbound
from channels_out.tasks import inbound_dispatch_task
from channels_out.validation import address_normalize


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
