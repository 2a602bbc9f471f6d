"""Reads of the channel layer: the message log and one message's timeline (always scoped to a company)."""

from __future__ import annotations

from channels_out.models import Connection, Message, MessageEvent
from portal.core.models import TenantQuerySet
from portal.tenants.models import Company


def message_list(*, company: Company) -> TenantQuerySet[Message]:
    """Every message of ``company``, newest first, with its connection (the message log)."""
    return Message.objects.filter(company=company).select_related("connection")


def message_events(*, company: Company, message: Message) -> TenantQuerySet[MessageEvent]:
    """The status timeline of ``message`` in the order things happened."""
    return MessageEvent.objects.filter(company=company, message=message).order_by("occurred_at", "id")


def connection_list(*, company: Company) -> TenantQuerySet[Connection]:
    return Connection.objects.filter(company=company).order_by("priority", "id")
