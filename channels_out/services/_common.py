"""Helpers shared by the channel-layer services: status changes through the state machine, the timeline line,
the origins' status notices and the one-statement write of many messages.

Every status change of a message (submit results, vendor reports, expiry) goes through ``_apply_status``, which
asks ``channels_out.states.can_transition`` (one place per rule).
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Sequence
from typing import Any

from django.db import connection as db_connection
from django.utils import timezone
from django.utils.translation import gettext as _

from channels_out import states
from channels_out.errors import error_describe
from channels_out.models import Message, MessageEvent
from channels_out.status_hooks import StatusNotice, status_notify

Status = Message.Status


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
