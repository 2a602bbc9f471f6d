"""The fallback engine of broadcasts (guide §6.7 "Fallback chain", inventory A §6.7 and its [GAP] decisions).

Runtime of a launched run, all driven by rows in PostgreSQL so that it survives worker and beat restarts:

1. ``broadcast_fan_out``: creates every BroadcastRecipient row of the run with set-based ``INSERT … SELECT``
   statements (contacts of the targets and tags, the typed numbers, or the unsuccessful recipients of the source run
   for a relaunch), merged on the phone number, each due at once (``next_check_at = now``).
2. ``recipients_advance``: claims due recipients with ``select_for_update(skip_locked=True)`` and, for each one,
   judges its current step (success = the step's "wait for" status within its waiting time; a definite failure
   moves on at once; a deadline passed moves on) and fires the next step, skipping steps the recipient cannot get
   (opted out, no address for the channel, not RCS capable, text over the limit once personalised) with the reason
   recorded. Messages go out through ``channels_out.services.message_send_batch`` in one call per batch.
3. The status subscriber (``status_subscriber``, registered for origin "broadcast") is the fast path: a report
   makes the recipient due now. The beat sweep (``broadcasts_sweep``) is the slow, always-correct path: due
   schedules, due timers, completion, counters.

"Never twice": each (recipient, step) has at most one BroadcastAttempt (a unique constraint), the attempt and its
message are written in the same transaction as the recipient's move, and the message's client reference
``bc-<recipient>-<step>`` is the channel layer's idempotency key.
"""

from __future__ import annotations

import datetime
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import connection as db_connection
from django.db import transaction
from django.db.models import Count, F, Max, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from broadcasts import personalize, quiet
from broadcasts.addresses import step_address
from broadcasts.models import (
    Broadcast,
    BroadcastAttempt,
    BroadcastRecipient,
    BroadcastSettings,
    BroadcastStep,
    QuietHours,
)
from broadcasts.tasks import (
    broadcast_advance_task,
    broadcast_fan_out_task,
    broadcast_hops_submit_task,
    broadcast_statuses_apply_task,
    broadcast_timers_task,
)
from channels_out import states
from channels_out.formats import sent_format_key
from channels_out.kinds import ChannelKind
from channels_out.models import Connection, Message
from channels_out.services import OutgoingItem, adapter_for, message_send_batch
from channels_out.status_hooks import StatusNotice
from channels_out.validation import payload_text
from contacts.models import Contact, ContactAttribute, ContactTag
from contacts.selectors import opted_out_contact_ids, target_contacts
from portal.core.listing import ListQueryError
from portal.core.redis import redis_client

logger = logging.getLogger(__name__)

Status = Broadcast.Status
RState = BroadcastRecipient.State
AState = BroadcastAttempt.State
BATCH_SIZE = 2000  # recipients judged and sent per transaction
# Back-pressure (issue 7 "Measured": timing and fairness on a real worker): the engine starts new recipients only
# while fewer than this many broadcast messages wait for their submit (shared equally among the companies that
# have some waiting, see _start_room). Without it the engine
# queued a whole run at once, so waiting times ran out before the channel layer had even sent the messages (a
# 2,000-recipient run on one worker timed out 70 % of its delivered SMS) and another company's run waited behind
# the whole backlog. Timers and status reports are never held back: fallback hops fire on time.
QUEUED_LIMIT = 500
ADVANCE_SLICE = 5.0  # seconds one advance task works before it leaves the worker to other tasks
ADVANCE_KEY = "broadcasts:advance:%d"
COUNTERS_KEY = "broadcasts:counters:%d"
COUNTERS_EVERY = 3  # seconds between two counter refreshes of one running broadcast
FAN_OUT_LOST_AFTER = 120  # seconds: a run In progress without recipients by then lost its fan-out task
DEFINITE_FAILURES = frozenset({states.FAILED, states.UNDELIVERED, states.EXPIRED})


# -- fan-out -----------------------------------------------------------------------------------------------------


def _recipient_contacts_sql(broadcast: Broadcast) -> tuple[str, list[Any]] | None:
    """SQL selecting ``(id, phone)`` of the contacts the run's targets and tags name (their union), or None."""
    company = broadcast.company
    conditions = Q()
    for target in broadcast_targets(broadcast):
        try:
            conditions |= Q(pk__in=target_contacts(company=company, filters=target.filters).values("pk"))
        except ListQueryError:
            # A target whose filter no longer applies (its attribute was deleted) selects nobody.
            logger.warning("target %s of broadcast %s has an invalid filter", target.pk, broadcast.pk)
    if broadcast.tag_ids:
        conditions |= Q(
            pk__in=ContactTag.objects.filter(company=company, tag_id__in=list(broadcast.tag_ids)).values(
                "contact_id"
            )
        )
    if not conditions:
        return None
    qs = Contact.objects.filter(company=company).filter(conditions).values_list("pk", "phone")
    sql, params = qs.query.sql_with_params()
    return sql, list(params)


def broadcast_targets(broadcast: Broadcast) -> list[Any]:
    from contacts.models import Target

    return list(Target.objects.filter(company_id=broadcast.company_id, pk__in=list(broadcast.target_ids)))


def recipients_insert(*, broadcast: Broadcast, now: datetime.datetime, due: bool) -> int:
    """Create the run's recipient rows with set-based statements; return how many rows were added.

    Merging is done by the database (``ON CONFLICT (broadcast, address) DO NOTHING``): a contact in a target and in
    a tag, or a typed number that is also a contact, is one recipient. Nothing is read into Python, so the cost is
    one ``INSERT … SELECT`` per source whatever the size (bench/bench_broadcast_launch.py).
    """
    table = BroadcastRecipient._meta.db_table
    columns = (
        "created_at, updated_at, company_id, broadcast_id, contact_id, address, state, step_order, "
        "next_check_at, reason"
    )
    head: list[Any] = [now, now, broadcast.company_id, broadcast.pk]
    tail: list[Any] = [RState.NOT_INITIATED, 0, now if due else None, ""]
    values = "%s, %s, %s, %s, {contact}, {address}, %s, %s, %s, %s"
    conflict = "ON CONFLICT (broadcast_id, address) DO NOTHING"
    added = 0
    with db_connection.cursor() as cursor:
        if broadcast.relaunch_of_id:
            cursor.execute(
                f"INSERT INTO {table} ({columns}) SELECT "  # noqa: S608  (table and column names from the model)
                + values.format(contact="r.contact_id", address="r.address")
                + f" FROM {table} r WHERE r.company_id = %s AND r.broadcast_id = %s AND r.state = %s "
                + "ORDER BY r.id "
                + conflict,
                [*head, *tail, broadcast.company_id, broadcast.relaunch_of_id, RState.UNSUCCESSFUL],
            )
            added += max(cursor.rowcount, 0)
        selected = _recipient_contacts_sql(broadcast)
        if selected is not None:
            sql, params = selected
            cursor.execute(
                f"INSERT INTO {table} ({columns}) SELECT "  # noqa: S608  (table and column names from the model)
                + values.format(contact="c.id", address="c.phone")
                + f" FROM ({sql}) AS c(id, phone) ORDER BY c.id "
                + conflict,
                [*head, *tail, *params],
            )
            added += max(cursor.rowcount, 0)
        if broadcast.numbers:
            contact_table = Contact._meta.db_table
            cursor.execute(
                f"INSERT INTO {table} ({columns}) SELECT "  # noqa: S608  (table and column names from the models)
                + values.format(contact="c.id", address="n.phone")
                + f" FROM unnest(%s::varchar[]) WITH ORDINALITY AS n(phone, pos) LEFT JOIN {contact_table} c "
                "ON c.company_id = %s AND c.phone = n.phone ORDER BY n.pos " + conflict,
                [*head, *tail, list(broadcast.numbers), broadcast.company_id],
            )
            added += max(cursor.rowcount, 0)
    return added


def broadcast_fan_out(*, company_id: int, broadcast_id: int) -> int:
    """Create every recipient row of a launched run once, then start the engine; return the rows added.

    Idempotent: a run already fanned out, or no longer running, is left alone (the row is locked with
    ``skip_locked``, so a duplicate task returns at once). Inventory A §20.2 [GAP] decision: a run that resolves to no
    recipient at all becomes Failed. Side effects: BroadcastRecipient rows, the Broadcast's counters and
    ``fanned_out_at``; the advance task on commit.
    """
    now = timezone.now()
    with transaction.atomic():
        broadcast = (
            Broadcast.objects.select_for_update(skip_locked=True)
            .select_related("company")
            .filter(pk=broadcast_id, company_id=company_id)
            .first()
        )
        if broadcast is None or broadcast.fanned_out_at is not None:
            return 0
        if broadcast.status not in (Status.IN_PROGRESS, Status.PAUSED):
            return 0
        added = recipients_insert(broadcast=broadcast, now=now, due=broadcast.status == Status.IN_PROGRESS)
        broadcast.fanned_out_at = timezone.now()
        broadcast.contacts = added
        if added == 0:
            broadcast.status = Status.FAILED
            broadcast.finished_at = broadcast.fanned_out_at
            broadcast.error = _("The recipients resolved to no phone number.")
        broadcast.save(
            update_fields=["fanned_out_at", "contacts", "status", "finished_at", "error", "updated_at"]
        )
        if added:
            transaction.on_commit(lambda: broadcast_advance_task.delay(company_id, broadcast_id))
    return added


# -- judging a step ------------------------------------------------------------------------------------------------


def _success_time(wait_for: str, message: Message) -> datetime.datetime | None:
    """When the message reached the step's "wait for" status (guide §9.1), or None.

    A later status proves the earlier ones: a delivered message was submitted, a displayed one was delivered (a
    report may arrive before the submit response, so the earliest proof counts).
    """
    if wait_for == BroadcastStep.WaitFor.SUBMIT:
        candidates = [message.submitted_at, message.delivered_at, message.displayed_at]
    elif wait_for == BroadcastStep.WaitFor.DELIVERY:
        candidates = [message.delivered_at, message.displayed_at]
    else:
        candidates = [message.displayed_at]
    present = [c for c in candidates if c is not None]
    return min(present) if present else None


@dataclass(frozen=True)
class Verdict:
    outcome: str  # an AState value, WAITING meaning "not decided yet"
    reason: str = ""
    deadline: datetime.datetime | None = None  # the step's effective deadline (see effective_deadline)


def effective_deadline(
    attempt: BroadcastAttempt, step: BroadcastStep, message: Message, now: datetime.datetime
) -> datetime.datetime | None:
    """When the step's waiting time runs out.

    Inventory A §6.7 [GAP] decision: the waiting time runs from the submit (the vendor has the message), not from
    the moment the step fired. A message still in the portal's own outbox (a connection's rate limit, a busy
    worker) has not had its chance yet: counting that time made whole batches fall back on a second channel before
    their first message had even left (bench/bench_broadcast_worker.py). While the message is queued past the
    deadline, the step waits one more waiting time; its submit report re-judges it at once.
    """
    deadline = attempt.deadline_at
    if deadline is None:
        return None
    if message.submitted_at is not None:
        return max(deadline, message.submitted_at + step.waiting_time)
    if message.status == states.QUEUED and now >= deadline:
        return now + step.waiting_time
    return deadline


def judge(attempt: BroadcastAttempt, step: BroadcastStep, now: datetime.datetime) -> Verdict:
    """Decide a sent step (guide §6.7 runtime rules).

    - Success: the "wait for" status arrived no later than the deadline (guide §6.7; inventory A checks 32-34).
    - Inventory A §6.7 [GAP] decision: a definite failure (refused at submit, undelivered, expired) moves on at once.
    - The deadline passed without success: the waiting time ran out (checks 31, 35).
    - A success reported after the deadline does not undo the fallback already decided ([GAP] decision); it still
      shows in the message statistics.
    """
    message = attempt.message
    if message is None:
        return Verdict(AState.FAILED, _("The message was deleted."))
    deadline = effective_deadline(attempt, step, message, now)
    reached = _success_time(step.wait_for, message)
    if reached is not None and (deadline is None or reached <= deadline):
        return Verdict(AState.SUCCEEDED)
    if message.status in DEFINITE_FAILURES:
        detail = message.error_text or message.get_status_display()
        return Verdict(
            AState.FAILED,
            _("%(channel)s %(status)s: %(detail)s")
            % {
                "channel": step.get_channel_display(),
                "status": message.get_status_display(),
                "detail": detail,
            },
        )
    if deadline is not None and now >= deadline:
        return Verdict(
            AState.TIMED_OUT,
            _("No %(status)s status on %(channel)s within %(value)s %(unit)s.")
            % {
                "status": step.get_wait_for_display(),
                "channel": step.get_channel_display(),
                "value": step.wait_value,
                "unit": step.get_wait_unit_display(),
            },
        )
    return Verdict(AState.WAITING, deadline=deadline)


# -- advancing recipients ----------------------------------------------------------------------------------------


def _share_lock_running(company_id: int, broadcast_id: int) -> bool:
    """Hold the run's row in SHARE mode for this transaction and say whether it is In progress.

    Engines share the lock with each other; pause and abort take it exclusively, so once they commit no engine
    transaction that started earlier is still sending for the run.
    """
    with db_connection.cursor() as cursor:
        cursor.execute(
            f"SELECT status FROM {Broadcast._meta.db_table} WHERE id = %s AND company_id = %s FOR SHARE",  # noqa: S608  (table name from the model)
            [broadcast_id, company_id],
        )
        row = cursor.fetchone()
    return row is not None and row[0] == Status.IN_PROGRESS


@dataclass
class _Start:
    recipient: BroadcastRecipient
    after_order: int
    reason: str
    hop: bool = False  # a fallback hop: the step before it was decided (failed or timed out)


@dataclass
class _Batch:
    """The writes of one advance transaction, collected then flushed with a few statements."""

    broadcast: Broadcast
    steps: list[BroadcastStep]
    now: datetime.datetime
    starts: list[_Start] = field(default_factory=list)
    judged: list[BroadcastAttempt] = field(default_factory=list)
    extended: list[BroadcastAttempt] = field(
        default_factory=list
    )  # deadline moved to the submit + waiting time
    new_attempts: list[BroadcastAttempt] = field(default_factory=list)
    items: list[OutgoingItem] = field(default_factory=list)
    sent_attempts: list[BroadcastAttempt] = field(default_factory=list)
    hops: list[int] = field(default_factory=list)  # positions in sent_attempts of fallback hops
    recipients: dict[int, BroadcastRecipient] = field(default_factory=dict)

    def resolve(self, recipient: BroadcastRecipient, state: str, reason: str = "") -> None:
        recipient.state = state
        recipient.reason = reason[:300]
        recipient.resolved_at = self.now
        recipient.next_check_at = None
        self.recipients[recipient.pk] = recipient


class _Context:
    """What the batch needs to know about its recipients, read with one query per kind (never per row)."""

    def __init__(self, batch: _Batch) -> None:
        broadcast = batch.broadcast
        self.company = broadcast.company
        contact_ids = {s.recipient.contact_id for s in batch.starts if s.recipient.contact_id}
        self.contacts: dict[int, dict[str, Any]] = {
            row["id"]: dict(row)
            for row in Contact.objects.filter(company=self.company, pk__in=contact_ids).values(
                "id", "first_name", "last_name", "email", "phone", "attributes"
            )
        }
        self.attribute_names = {
            a.name.strip().lower(): a.key for a in ContactAttribute.objects.filter(company=self.company)
        }
        self.opted_out: dict[int, set[int]] = {}
        for step in batch.steps:
            self.opted_out[step.pk] = (
                opted_out_contact_ids(
                    company=self.company,
                    channel=step.channel,
                    sender_id=step.sender_id,
                    contact_ids=contact_ids,
                )
                if contact_ids
                else set()
            )
        self._rcs: dict[str, Callable[[str], bool]] = {}
        self.window, tz_attribute = quiet_window(broadcast)
        self.tz_key = self.attribute_names.get(tz_attribute.strip().lower(), "") if tz_attribute else ""

    def hold(
        self, recipient: BroadcastRecipient, now: datetime.datetime
    ) -> tuple[datetime.datetime, str] | None:
        """Quiet hours (issue 7 item 5): when the recipient's local time is outside the allowed hours, the
        opening to hold the step until and why; None when it may be sent now."""
        if self.window is None:
            return None
        row = self.contacts.get(recipient.contact_id or 0) or {}
        zone = quiet.recipient_zone(
            address=recipient.address,
            attribute_value=(row.get("attributes") or {}).get(self.tz_key) if self.tz_key else None,
            company_zone=self.company.time_zone,
        )
        until = quiet.hold_until(self.window, now=now, zone=zone)
        if until is None:
            return None
        reason = _("Quiet hours: sending allowed %(window)s in %(zone)s.") % {
            "window": self.window,
            "zone": zone,
        }
        return until, reason

    def values(self, recipient: BroadcastRecipient) -> dict[str, str]:
        row = self.contacts.get(recipient.contact_id or 0)
        if row is None:
            return {"phone": recipient.address}
        return personalize.contact_values(
            fields=row, attributes=row["attributes"], names=self.attribute_names
        )

    def rcs_capable(self, sender_id: str, address: str) -> bool:
        """Ask the RCS connection of ``sender_id`` (built once per batch) whether ``address`` can receive RCS.

        ``channels_out.services.rcs_capability_check`` answers one number per call and rebuilds the adapter each
        time; a batch reuses one adapter instead. An adapter that cannot tell counts as capable.
        """
        if sender_id not in self._rcs:
            connection = (
                Connection.objects.filter(
                    company=self.company,
                    enabled=True,
                    channels__contains=[ChannelKind.RCS],
                    sender_ids__contains=[sender_id],
                )
                .order_by("priority", "id")
                .first()
            )
            check = getattr(adapter_for(connection), "check_capability", None) if connection else None
            self._rcs[sender_id] = (lambda a: bool(check(ChannelKind.RCS, a))) if check else (lambda a: True)
        return self._rcs[sender_id](address)


def quiet_window(broadcast: Broadcast) -> tuple[quiet.Window | None, str]:
    """The run's allowed sending hours (its own, the company's, or none) and the time-zone attribute name."""
    return quiet_window_of(
        company_id=broadcast.company_id,
        mode=broadcast.quiet_hours,
        allowed_from=broadcast.allowed_from,
        allowed_till=broadcast.allowed_till,
    )


def quiet_window_of(
    *,
    company_id: int,
    mode: str,
    allowed_from: datetime.time | None,
    allowed_till: datetime.time | None,
) -> tuple[quiet.Window | None, str]:
    """Quiet hours for a run's settings (``mode``: company / off / custom), also used by the fallback preview."""
    settings = BroadcastSettings.objects.filter(company_id=company_id).first()
    tz_attribute = settings.tz_attribute if settings else ""
    if mode == QuietHours.OFF:
        return None, tz_attribute
    if mode == QuietHours.CUSTOM:
        if allowed_from is None or allowed_till is None:
            return None, tz_attribute
        return quiet.Window(allowed_from, allowed_till), tz_attribute
    if settings is None or not settings.quiet_enabled:
        return None, tz_attribute
    return quiet.Window(settings.allowed_from, settings.allowed_till), tz_attribute


def _address_for(ctx: _Context, step: BroadcastStep, recipient: BroadcastRecipient) -> tuple[str, str]:
    """The recipient's address on the step's channel, or ("", why not) (``broadcasts.addresses``)."""
    row = ctx.contacts.get(recipient.contact_id or 0) or {}
    return step_address(
        step.channel,
        phone=recipient.address,
        email=row.get("email") or "",
        attributes=row.get("attributes") or {},
        attribute_keys=ctx.attribute_names,
    )


def _payload(step: BroadcastStep, values: dict[str, str]) -> dict[str, Any]:
    """The recipient's payload of ``step``: its constructor format as ``{"format", "content"}`` (issue 8) with
    every text personalised, or the plain text form; ``payload_text`` then checks it after personalisation."""
    content = step.content or {}
    fmt_key = sent_format_key(step.channel, content)
    if fmt_key is not None:
        return {"format": fmt_key, "content": personalize.render_tree(content[fmt_key], values)}
    body = step.text_content
    return {key: personalize.render(value, values) for key, value in body.items()}


def _plan(batch: _Batch) -> None:
    """Fire the next sendable step of each recipient in ``batch.starts`` (skipping with a reason where needed)."""
    if not batch.starts:
        return
    ctx = _Context(batch)
    broadcast = batch.broadcast
    for start in batch.starts:
        recipient = start.recipient
        batch.recipients[recipient.pk] = recipient
        if broadcast.type == Broadcast.Type.RCS_CHECK:
            _rcs_check_only(ctx, batch, recipient)
            continue
        reason = start.reason
        values = ctx.values(recipient)
        sent = False
        for step in batch.steps:
            if step.order <= start.after_order:
                continue
            skip = _skip_reason(ctx, broadcast, step, recipient)
            address = ""
            payload: dict[str, Any] = {}
            if not skip:
                address, skip = _address_for(ctx, step, recipient)
            if not skip:
                payload = _payload(step, values)
                try:
                    payload_text(step.channel, payload)
                except ValidationError as exc:
                    skip = " ".join(exc.messages)
            if skip:
                batch.new_attempts.append(
                    BroadcastAttempt(
                        company_id=broadcast.company_id, broadcast=broadcast, recipient=recipient, step=step,
                        state=AState.SKIPPED, reason=skip[:300], started_at=batch.now, finished_at=batch.now,
                    )
                )  # fmt: skip
                recipient.step_order = step.order
                reason = skip
                continue
            held = ctx.hold(recipient, batch.now)
            if held is not None:
                # Held, not skipped: no attempt is written, so the step is still sent (once) when the window
                # opens; the sweep releases the recipient through next_check_at.
                recipient.next_check_at, recipient.held_reason = held
                recipient.held_until = recipient.next_check_at
                sent = True
                break
            recipient.held_until, recipient.held_reason = None, ""
            deadline = batch.now + step.waiting_time
            attempt = BroadcastAttempt(
                company_id=broadcast.company_id, broadcast=broadcast, recipient=recipient, step=step,
                state=AState.WAITING, started_at=batch.now, deadline_at=deadline,
            )  # fmt: skip
            batch.items.append(
                OutgoingItem(
                    channel=step.channel,
                    sender_id=step.sender_id,
                    to=address,
                    payload=payload,
                    client_reference=f"bc-{recipient.pk}-{step.pk}",
                )
            )
            if start.hop:
                batch.hops.append(len(batch.sent_attempts))
            batch.sent_attempts.append(attempt)
            recipient.state = RState.INITIATED
            recipient.step_order = step.order
            recipient.next_check_at = deadline
            recipient.reason = ""
            sent = True
            break
        if not sent:
            # Guide §6.7 [INFER]: the chain is used up without success.
            if recipient.state == RState.NOT_INITIATED:
                recipient.state = RState.INITIATED  # every step was decided (skipped): it was initiated
            batch.resolve(recipient, RState.UNSUCCESSFUL, reason or _("No step of the chain could be sent."))


def _skip_reason(
    ctx: _Context, broadcast: Broadcast, step: BroadcastStep, recipient: BroadcastRecipient
) -> str:
    # Guide §8.1.4: an opted-out contact gets nothing on that channel from that sender.
    if recipient.contact_id and recipient.contact_id in ctx.opted_out.get(step.pk, set()):
        return _("Opted out of %(channel)s.") % {"channel": step.get_channel_display()}
    if step.channel == ChannelKind.RCS and broadcast.rcs_check:
        # Inventory A §6.7 [GAP] decision: with the check on, a number found not RCS capable skips RCS steps.
        if recipient.rcs_capable is None:
            recipient.rcs_capable = ctx.rcs_capable(step.sender_id, recipient.address)
        if not recipient.rcs_capable:
            return _("Not RCS capable (capability check).")
    return ""


def _rcs_check_only(ctx: _Context, batch: _Batch, recipient: BroadcastRecipient) -> None:
    """Broadcast type "RCS capability check" (guide §6.6 item 6): check each number; capable = Successful.

    The check needs a sender: the first RCS step's sender ID. Without one the recipient cannot be checked.
    """
    recipient.state = RState.INITIATED
    sender = next((s.sender_id for s in batch.steps if s.channel == ChannelKind.RCS and s.sender_id), "")
    if not sender:
        batch.resolve(recipient, RState.UNSUCCESSFUL, _("No RCS sender ID to check with."))
        return
    recipient.rcs_capable = ctx.rcs_capable(sender, recipient.address)
    if recipient.rcs_capable:
        batch.resolve(recipient, RState.SUCCESSFUL)
    else:
        batch.resolve(recipient, RState.UNSUCCESSFUL, _("Not RCS capable."))


def _flush(batch: _Batch) -> None:
    broadcast = batch.broadcast
    if batch.items:
        messages = message_send_batch(
            company=broadcast.company,
            actor=None,
            origin=Message.Origin.BROADCAST,
            items=batch.items,
            submit_apart=set(batch.hops),
        )
        for attempt, message in zip(batch.sent_attempts, messages, strict=True):
            attempt.message = message
        _hops_submit_first(batch, messages)
        company = broadcast.company_id
        transaction.on_commit(lambda: _sending_mark(company))
    # The unique (recipient, step) constraint makes a second attempt of a step fail the whole transaction, so
    # nothing of this batch (messages included) would be committed: never twice.
    BroadcastAttempt.objects.bulk_create([*batch.new_attempts, *batch.sent_attempts])
    company_id = broadcast.company_id
    if batch.judged:
        rows_update(
            BroadcastAttempt, batch.judged, ["state", "reason", "finished_at", "updated_at"], company_id
        )
    if batch.extended:
        rows_update(BroadcastAttempt, batch.extended, ["deadline_at", "updated_at"], company_id)
    if batch.recipients:
        for recipient in batch.recipients.values():
            recipient.updated_at = batch.now
        rows_update(
            BroadcastRecipient,
            list(batch.recipients.values()),
            [
                "state",
                "step_order",
                "next_check_at",
                "reason",
                "rcs_capable",
                "resolved_at",
                "held_until",
                "held_reason",
                "updated_at",
            ],
            company_id,
        )


HOPS_SUBMIT_BATCH = 100  # hop messages per priority submit task (as PORTAL_SUBMIT_BATCH_SIZE)


def _hops_submit_first(batch: _Batch, messages: Sequence[Message]) -> None:
    """Send the batch's fallback hops to the vendor ahead of first steps (issue 7 timing target).

    ``message_send_batch`` queues broadcast messages on the ``bulk`` queue, first in first out: a hop whose
    waiting time has already run out would wait behind the whole submit backlog of first steps there (p99 6 s
    from the SMS deadline to the Viber submit at 20,000 recipients, bench/bench_broadcast_worker.py). The hops
    are kept out of it (``submit_apart``) and their ids go to the ``engine`` queue instead, which the bulk workers
    consume beside ``bulk`` (round robin between queues, so a hop waits for at most one task of each other
    queue). ``messages_submit`` claims with a lease, so a replayed task never sends a message twice.
    """
    ids = [
        messages[i].pk for i in batch.hops if messages[i].status == Message.Status.QUEUED and messages[i].pk
    ]
    company_id = batch.broadcast.company_id
    for start in range(0, len(ids), HOPS_SUBMIT_BATCH):
        chunk = ids[start : start + HOPS_SUBMIT_BATCH]
        transaction.on_commit(lambda chunk=chunk: broadcast_hops_submit_task.delay(company_id, chunk))  # type: ignore[misc]


def rows_update(model: Any, rows: Sequence[Any], fields: Sequence[str], company_id: int) -> None:
    """Write ``fields`` of ``rows`` (each with its own values) in one ``UPDATE … FROM unnest(arrays)``.

    Django's ``bulk_update`` builds a ``CASE WHEN id = … THEN …`` expression per row and field: for a batch of
    2,000 recipients and 9 fields that was most of the engine's CPU per message (profile of
    bench_broadcast_e2e.py). One array per column is the same single statement at a fraction of the cost.
    """
    if not rows:
        return
    meta = model._meta
    columns = [meta.get_field(name) for name in fields]
    arrays: list[list[Any]] = [[row.pk for row in rows]]
    arrays += [[getattr(row, column.attname) for row in rows] for column in columns]
    types = ["bigint"] + [column.db_type(db_connection) for column in columns]
    names = ["id"] + [column.column for column in columns]
    unnest = ", ".join(f"%s::{db_type}[]" for db_type in types)
    assignments = ", ".join(f"{name} = v.{name}" for name in names[1:])
    with db_connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {meta.db_table} AS t SET {assignments} FROM unnest({unnest}) AS v({', '.join(names)}) "  # noqa: S608  (names from the model)
            "WHERE t.id = v.id AND t.company_id = %s",
            [*arrays, company_id],
        )


def recipients_advance(
    *,
    company_id: int,
    broadcast_id: int,
    recipient_ids: Sequence[int] | None = None,
    limit: int = BATCH_SIZE,
    starts: bool = True,
) -> int:
    """Judge and move on up to ``limit`` due recipients of a running broadcast; return how many were handled.

    ``starts=False`` handles only running steps (the timers' fast lane, ``broadcast_timers``).

    Side effects: BroadcastAttempt and BroadcastRecipient writes, Message rows through ``message_send_batch``
    (submit tasks on commit). Runs only while the broadcast is In progress.
    """
    now = timezone.now()
    with transaction.atomic():
        if not _share_lock_running(company_id, broadcast_id):
            return 0
        qs = BroadcastRecipient.objects.select_for_update(skip_locked=True).filter(
            company_id=company_id, broadcast_id=broadcast_id, next_check_at__lte=now
        )
        if recipient_ids is not None:
            qs = qs.filter(pk__in=list(recipient_ids))
        # Running steps first (timers and reports), then new recipients as far as the company's share of the
        # submit backlog allows (QUEUED_LIMIT, _start_room).
        recipients = list(qs.filter(state=RState.INITIATED).order_by("next_check_at")[:limit])
        room: int | None = None  # the company's share left, read when first needed
        new: list[BroadcastRecipient] = []
        if starts and len(recipients) < limit:
            room = _room(company_id)
            if room > 0:
                new = list(
                    qs.filter(state=RState.NOT_INITIATED).order_by("next_check_at")[
                        : min(limit - len(recipients), room)
                    ]
                )
        if not recipients and not new:
            return 0
        broadcast = Broadcast.objects.select_related("company").get(pk=broadcast_id)
        steps = list(
            BroadcastStep.objects.filter(company_id=company_id, broadcast_id=broadcast_id).order_by("order")
        )
        by_id = {s.pk: s for s in steps}
        last_order = steps[-1].order if steps else 0
        batch = _Batch(broadcast=broadcast, steps=steps, now=now)
        waiting = {
            a.recipient_id: a
            for a in BroadcastAttempt.objects.filter(
                company_id=company_id, recipient_id__in=[r.pk for r in recipients], state=AState.WAITING
            ).select_related("message")
        }
        handled = len(recipients)
        fired = 0  # hops decided in this transaction (their messages are not in the backlog count yet)
        for recipient in recipients:
            attempt = waiting.get(recipient.pk)
            if attempt is None:
                # No step is running (e.g. every earlier step was decided): go on after the last one tried.
                batch.starts.append(_Start(recipient, recipient.step_order, recipient.reason))
                continue
            verdict = judge(attempt, by_id[attempt.step_id], now)
            if verdict.outcome == AState.WAITING:
                if verdict.deadline != attempt.deadline_at:
                    attempt.deadline_at = verdict.deadline
                    attempt.updated_at = now
                    batch.extended.append(attempt)
                recipient.next_check_at = max(verdict.deadline or now, now)
                batch.recipients[recipient.pk] = recipient
                continue
            if verdict.outcome == AState.FAILED and by_id[attempt.step_id].order < last_order:
                # Fairness (issue 7): a hop after an immediate failure is new traffic like a first step, so it
                # takes the company's share of the submit backlog too (a big run with many failures otherwise
                # queued its hops beyond its share). Without room it waits, decided later and ahead of new
                # recipients; a hop after a timeout is never held back (its waiting time has already run out),
                # but it fills the share all the same (its message is queued). A failure of the last step sends
                # nothing and is decided at once.
                if room is None:
                    room = _room(company_id) - fired
                if room <= 0:
                    recipient.next_check_at = now + datetime.timedelta(seconds=ROOM_RETRY)
                    batch.recipients[recipient.pk] = recipient
                    continue
            if verdict.outcome != AState.SUCCEEDED:
                fired += 1
                if room is not None:
                    room -= 1
            attempt.state = verdict.outcome
            attempt.reason = verdict.reason[:300]
            attempt.finished_at = now
            attempt.updated_at = now
            batch.judged.append(attempt)
            if verdict.outcome == AState.SUCCEEDED:
                batch.resolve(recipient, RState.SUCCESSFUL)
            else:
                batch.starts.append(_Start(recipient, attempt.step.order, verdict.reason, hop=True))
        if new and room is not None:
            # The hops fired above came first; the rows left over stay due for the next pass.
            new = new[: max(room, 0)]
            # After the steps already skipped (step_order > 0 only when quiet hours held its first send).
            batch.starts += [_Start(r, r.step_order, r.reason) for r in new]
            handled += len(new)
        _plan(batch)
        _flush(batch)
    return handled


# Free room (messages) for which a status report goes on with its run at once: one submit task's worth.
REFILL_MIN = 100
# Seconds before a hop after an immediate failure, held back for the company's share, is looked at again.
ROOM_RETRY = 1.0


ROOM_LOCK = 7007  # advisory lock class of "one engine transaction of the company uses its share at a time"
SENDING_KEY = "broadcasts:sending"  # Redis sorted set: company id -> when it last queued broadcast messages
SENDING_GRACE = 10.0  # seconds a company keeps its share after it last queued broadcast messages


def _room(company_id: int) -> int:
    """The company's share left, for this transaction alone: ``_start_room`` under a transaction-level advisory lock
    of the company, or 0 when another engine transaction of the company holds it (that one fills the room).

    With two workers, two engine transactions of one company read the same backlog before either committed its
    messages and both filled the room: a 20,000-recipient run kept up to 940 messages queued (its share was 250),
    and a second company's run waited behind them (bench/bench_broadcast_worker.py --workers 2).
    """
    with db_connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s, %s)", [ROOM_LOCK, company_id])
        row = cursor.fetchone()
    if not row or not row[0]:
        return 0
    return _start_room(company_id)


def _sending_mark(company_id: int) -> None:
    redis_client().zadd(SENDING_KEY, {str(company_id): time.time()})


def _sending_recently() -> set[int]:
    """Companies that queued broadcast messages within the last SENDING_GRACE seconds."""
    members: list[bytes] = redis_client().zrangebyscore(SENDING_KEY, time.time() - SENDING_GRACE, "+inf")  # type: ignore[assignment]
    return {int(m) for m in members}


SHARE_MIN_WORK = (
    100  # recipients: below this, a company's work left counts as this much when shares are weighed
)


def _start_room(company_id: int) -> int:
    """How many new recipients the company may start now: its share of QUEUED_LIMIT minus its own backlog.

    Fairness (issue 7 "Measured"): the limit is divided among the companies that are sending, i.e. have broadcast
    messages waiting for a submit or a running broadcast with recipients not yet started (its counters, refreshed
    by the sweep), so a second company's run gets its share of the queue as soon as it starts instead of queuing
    behind a big run's whole backlog, and keeps it while its own queue is momentarily empty. Two small reads: the
    outbox's partial index (queued rows only) and the running runs (index ``broadcast_active``).

    Shares are weighed by the work each company has left (recipients not started + messages queued), smaller
    work first, and never below a quarter of an equal share: a 1,000-recipient run beside a 20,000 one got half
    the queue with equal shares and still took 2.7x its time alone on two workers (it went round in 250-message
    rounds, each waiting behind the big run's 250), while its few seconds at most of the queue cost the big run
    little. The weight is per company, not per run, so splitting a campaign into small runs gains nothing.
    """
    backlog: dict[int, int] = dict(
        Message.objects.filter(status=Message.Status.QUEUED, origin=Message.Origin.BROADCAST)
        .values_list("company_id")
        .annotate(n=Count("id"))
        .order_by()
    )
    left: dict[int, int] = defaultdict(int)
    for running_company, contacts, initiated in Broadcast.objects.filter(
        status=Status.IN_PROGRESS, initiated__lt=F("contacts")
    ).values_list("company_id", "contacts", "initiated"):
        left[running_company] += contacts - initiated
    # A run between two sends (its queue empty, waiting for reports before its hops) keeps its share for
    # SENDING_GRACE seconds: otherwise the other company took the whole limit at once and the run's hops then
    # queued behind 500 of its messages (the last seconds of a 1,000-recipient run beside a 20,000 one).
    companies = set(backlog) | set(left) | _sending_recently() | {company_id}
    weight = {c: 1 / max(left.get(c, 0) + backlog.get(c, 0), SHARE_MIN_WORK) for c in companies}
    share = QUEUED_LIMIT * weight[company_id] / sum(weight.values())
    floor = QUEUED_LIMIT / (4 * len(companies))
    return int(max(share, floor)) - backlog.get(company_id, 0)


TIMER_BATCH = 200  # running steps one timer transaction handles (a fraction of a second of work)
TIMER_SLICE = 1.0  # seconds one timers task works before it leaves the worker to other realtime tasks
TIMERS_KEY = "broadcasts:timers:%d"


def broadcast_timers(*, company_id: int, broadcast_id: int) -> int:
    """The timers' fast lane: judge the run's due running steps, TIMER_BATCH at a time, and fire their next hops.

    Issue 7 timing target (a fallback hop fires within its waiting time + 5 s): the bulk queue holds the run's
    submits, and an advance task behind them fired hops up to 15 s late on one busy worker. This task runs on the
    realtime queue in small transactions, never longer than about TIMER_SLICE, so it never holds up a one-time
    password; when due steps are left after the slice it enqueues itself again at once (one beat tick, 2 s, handled
    only TIMER_BATCH before, so a burst of timeouts fell seconds behind). The bulk advance handles the same rows
    otherwise (both claim with ``skip_locked``, so a recipient is handled once).
    """
    handled = 0
    started = time.monotonic()
    while True:
        done = recipients_advance(
            company_id=company_id, broadcast_id=broadcast_id, limit=TIMER_BATCH, starts=False
        )
        handled += done
        if done < TIMER_BATCH:
            return handled
        if time.monotonic() - started > TIMER_SLICE:
            break
    if cache.add(TIMERS_KEY % broadcast_id, 1, timeout=10):
        broadcast_timers_task.delay(company_id, broadcast_id)
    return handled


def broadcast_advance(*, company_id: int, broadcast_id: int, max_batches: int = 100) -> int:
    """Handle the due recipients of the run, batch after batch for at most ADVANCE_SLICE seconds (the sweep
    enqueues the next slice, so other runs' tasks get the worker in between), then check whether it is complete."""
    handled = 0
    started = time.monotonic()
    for _batch in range(max_batches):
        done = recipients_advance(company_id=company_id, broadcast_id=broadcast_id)
        handled += done
        if done < BATCH_SIZE or time.monotonic() - started > ADVANCE_SLICE:
            break
    broadcast_finish_check(company_id=company_id, broadcast_id=broadcast_id)
    return handled


# -- completion and counters ---------------------------------------------------------------------------------------


def broadcast_counters_refresh(*, broadcast: Broadcast) -> None:
    """Recount the run's recipients into its counters (contacts, initiated, successful, unsuccessful)."""
    counts = BroadcastRecipient.objects.filter(
        company_id=broadcast.company_id, broadcast_id=broadcast.pk
    ).aggregate(
        contacts=Count("id"),
        initiated=Count("id", filter=~Q(state=RState.NOT_INITIATED)),
        successful=Count("id", filter=Q(state=RState.SUCCESSFUL)),
        unsuccessful=Count("id", filter=Q(state=RState.UNSUCCESSFUL)),
    )
    Broadcast.objects.filter(pk=broadcast.pk).update(**counts)
    for key, value in counts.items():
        setattr(broadcast, key, value)


def broadcast_finish_check(*, company_id: int, broadcast_id: int) -> bool:
    """Mark a run Complete when every recipient is Successful or Unsuccessful (guide §6.4, inventory check 35).

    Finished is the moment the last recipient was resolved. Returns True when it completed the run now.
    """
    unresolved = BroadcastRecipient.objects.filter(
        company_id=company_id, broadcast_id=broadcast_id, state__in=[RState.NOT_INITIATED, RState.INITIATED]
    )
    if unresolved.exists():
        return False
    with transaction.atomic():
        broadcast = (
            Broadcast.objects.select_for_update(skip_locked=True)
            .filter(
                pk=broadcast_id, company_id=company_id, status=Status.IN_PROGRESS, fanned_out_at__isnull=False
            )
            .first()
        )
        if broadcast is None or unresolved.exists():
            return False
        last = BroadcastRecipient.objects.filter(company_id=company_id, broadcast_id=broadcast_id).aggregate(
            last=Max("resolved_at")
        )["last"]
        broadcast.status = Status.COMPLETE
        broadcast.finished_at = last or timezone.now()
        broadcast.save(update_fields=["status", "finished_at", "updated_at"])
        broadcast_counters_refresh(broadcast=broadcast)
    return True


# -- fast path: status reports -------------------------------------------------------------------------------------


def status_subscriber(notices: list[StatusNotice]) -> None:
    """Channel-layer subscriber for origin "broadcast": enqueue the engine for the messages whose status moved."""
    by_company: dict[int, list[int]] = defaultdict(list)
    for notice in notices:
        if notice.status != states.QUEUED:
            by_company[notice.company_id].append(notice.message_id)
    for company_id, ids in by_company.items():
        broadcast_statuses_apply_task.delay(company_id, sorted(set(ids)))


def broadcast_statuses_apply(*, company_id: int, message_ids: Iterable[int]) -> int:
    """Make the recipients waiting on these messages due now and advance them (the fast path of the timers).

    A recipient locked by another engine transaction is still marked due, so the sweep judges it within seconds
    even if that transaction read the old status. Returns the number of recipients handled now.
    """
    now = timezone.now()
    rows = BroadcastAttempt.objects.filter(
        company_id=company_id, message_id__in=list(message_ids), state=AState.WAITING
    ).values_list("broadcast_id", "recipient_id")
    by_broadcast: dict[int, list[int]] = defaultdict(list)
    for broadcast_id, recipient_id in rows:
        by_broadcast[broadcast_id].append(recipient_id)
    handled = 0
    for broadcast_id, recipient_ids in by_broadcast.items():
        BroadcastRecipient.objects.filter(
            company_id=company_id,
            pk__in=recipient_ids,
            state=RState.INITIATED,
            next_check_at__gt=now,  # NULL (paused) stays frozen
        ).update(next_check_at=now)
        handled += recipients_advance(
            company_id=company_id, broadcast_id=broadcast_id, recipient_ids=recipient_ids
        )
        # The submit that reported these statuses freed room in the company's share: go on with the run now (hops
        # held for room first, then new recipients) instead of at the next beat tick (2 s). Paced by the beat
        # alone, a run started at most its share per tick, so two workers idled half the time and a small run
        # beside a big one took twice its time alone whatever the workers could do (issue 7 fairness). Only once
        # a submit task's worth is free: refilling every few messages split the run into tiny submit, report and
        # engine tasks, and the per-task cost halved the throughput (bench_broadcast_worker, 20,000 recipients).
        if _start_room(company_id) >= REFILL_MIN:
            handled += recipients_advance(
                company_id=company_id, broadcast_id=broadcast_id, limit=QUEUED_LIMIT
            )
        broadcast_finish_check(company_id=company_id, broadcast_id=broadcast_id)
    return handled


# -- the beat sweep ------------------------------------------------------------------------------------------------


def broadcast_schedule_due(*, company_id: int, broadcast_id: int) -> bool:
    """Start a Scheduled run whose time has come (inventory check 25). Returns True when it started it."""
    from broadcasts.services import broadcast_start

    now = timezone.now()
    with transaction.atomic():
        broadcast = (
            Broadcast.objects.select_for_update(skip_locked=True)
            .select_related("company")
            .filter(pk=broadcast_id, company_id=company_id, status=Status.SCHEDULED, scheduled_for__lte=now)
            .first()
        )
        if broadcast is None:
            return False
        broadcast_start(broadcast=broadcast, now=now)
    return True


def broadcasts_sweep() -> dict[str, int]:
    """One beat tick: launch due template slots, start due schedules, enqueue the engine for runs with due timers, complete finished runs,
    refresh counters, and re-enqueue a fan-out whose task was lost. Returns what it did, for logs and tests.

    Runs are read through the partial index ``broadcast_active`` (only Scheduled and In progress rows).
    """
    from broadcasts.template_services import templates_launch_due

    now = timezone.now()
    done = {"scheduled": 0, "advanced": 0, "timers": 0, "completed": 0, "fan_out": 0}
    redis_client().zremrangebyscore(SENDING_KEY, 0, time.time() - SENDING_GRACE)
    # Guide §7.4: recurrent runs of templates are made by this same tick (no second beat entry to keep in step).
    done["templates"] = templates_launch_due(now=now)
    due_schedules = Broadcast.objects.filter(status=Status.SCHEDULED, scheduled_for__lte=now).values_list(
        "company_id", "pk"
    )
    for company_id, broadcast_id in list(due_schedules[:500]):
        done["scheduled"] += broadcast_schedule_due(company_id=company_id, broadcast_id=broadcast_id)
    running = Broadcast.objects.filter(status=Status.IN_PROGRESS).values_list(
        "company_id", "pk", "fanned_out_at", "launched_at"
    )
    for company_id, broadcast_id, fanned_out_at, launched_at in list(running):
        if fanned_out_at is None:
            lost = launched_at is not None and (now - launched_at).total_seconds() > FAN_OUT_LOST_AFTER
            if lost and cache.add(f"broadcasts:fan-out:{broadcast_id}", 1, timeout=FAN_OUT_LOST_AFTER):
                broadcast_fan_out_task.delay(company_id, broadcast_id)
                done["fan_out"] += 1
            continue
        if cache.add(COUNTERS_KEY % broadcast_id, 1, timeout=COUNTERS_EVERY):
            broadcast_counters_refresh(broadcast=Broadcast(pk=broadcast_id, company_id=company_id))
        due = BroadcastRecipient.objects.filter(
            company_id=company_id, broadcast_id=broadcast_id, next_check_at__lte=now
        )
        # One read per state: each is a range of the index bcrecipient_due_state.
        timers_due = due.filter(state=RState.INITIATED).exists()
        if timers_due and cache.add(TIMERS_KEY % broadcast_id, 1, timeout=10):
            broadcast_timers_task.delay(company_id, broadcast_id)
            done["timers"] += 1
        if timers_due or due.filter(state=RState.NOT_INITIATED).exists():
            # One queued advance per run at a time; the task clears the key when it starts.
            if cache.add(ADVANCE_KEY % broadcast_id, 1, timeout=30):
                broadcast_advance_task.delay(company_id, broadcast_id)
                done["advanced"] += 1
            continue
        if broadcast_finish_check(company_id=company_id, broadcast_id=broadcast_id):
            done["completed"] += 1
    return done
