"""Reads of the Broadcasts section: the runs list, one run, its statistics (guide §6.5) and recipient timelines."""

from __future__ import annotations

import datetime
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from broadcasts.models import (
    Broadcast,
    BroadcastAttempt,
    BroadcastRecipient,
    BroadcastSettings,
    BroadcastStep,
    BroadcastTemplate,
)
from channels_out.models import Message, MessageEvent
from contacts.models import ContactAttribute, Tag, Target
from portal.tenants.models import Company

RState = BroadcastRecipient.State
AState = BroadcastAttempt.State


def broadcast_list(*, company: Company) -> QuerySet[Broadcast]:
    """Every run of the company (guide §6.1: statistics of every broadcast since the account was registered)."""
    return Broadcast.objects.filter(company=company)


def broadcast_settings_get(*, company: Company) -> BroadcastSettings:
    """The company's broadcast settings, or the defaults (quiet hours off) when never saved; not written."""
    return BroadcastSettings.objects.filter(company=company).first() or BroadcastSettings(company=company)


def held_counts(*, company: Company, broadcast: Broadcast) -> list[tuple[str, int]]:
    """Quiet hours (issue 7 item 5): how many unresolved recipients are held, by reason, most first."""
    rows = (
        BroadcastRecipient.objects.filter(
            company=company,
            broadcast=broadcast,
            held_until__isnull=False,
            state__in=[RState.NOT_INITIATED, RState.INITIATED],
        )
        .values("held_reason")
        .annotate(n=Count("id"))
        .order_by("-n", "held_reason")
    )
    return [(row["held_reason"], row["n"]) for row in rows]


def template_list(*, company: Company) -> QuerySet[BroadcastTemplate]:
    """The company's templates that are not deleted (guide §7.2; a deleted template only lives on in its runs)."""
    return BroadcastTemplate.objects.filter(company=company, deleted_at__isnull=True)


def broadcast_steps(*, company: Company, broadcast: Broadcast) -> list[BroadcastStep]:
    return list(BroadcastStep.objects.filter(company=company, broadcast=broadcast).order_by("order", "id"))


def recipient_choices(*, company: Company) -> tuple[list[Target], list[Tag]]:
    """The targets and tags the recipients picker offers (guide §6.6 item 3)."""
    return list(Target.objects.filter(company=company).order_by("name")), list(
        Tag.objects.filter(company=company).order_by("name")
    )


def attribute_list(*, company: Company) -> list[ContactAttribute]:
    return list(ContactAttribute.objects.filter(company=company).order_by("name"))


@dataclass
class Share:
    count: int
    total: int

    @property
    def percent(self) -> float:
        return round(100 * self.count / self.total, 1) if self.total else 0.0


@dataclass
class ChannelStats:
    """Inventory A §6.5 [GAP] decision: per step, sent / submitted / delivered / displayed / failed / pending, plus
    skipped (recipients that could not get the step) and successful (the step met its "wait for")."""

    step: BroadcastStep
    skipped: int = 0
    sent: int = 0
    pending: int = 0
    submitted: int = 0
    delivered: int = 0
    displayed: int = 0
    failed: int = 0
    successful: int = 0


@dataclass
class BroadcastStats:
    total: int
    not_initiated: Share
    initiated: Share
    successful: Share
    unsuccessful: Share
    pending: int
    channels: list[ChannelStats] = field(default_factory=list)


def broadcast_stats(*, company: Company, broadcast: Broadcast) -> BroadcastStats:
    """Fallback statistics and per-channel message statistics of one run, counted live (guide §6.5).

    Invariants (inventory A §6.5): not initiated + initiated = total; successful + unsuccessful + pending =
    initiated; every % is of the total.
    """
    counts = {
        row["state"]: row["n"]
        for row in BroadcastRecipient.objects.filter(company=company, broadcast=broadcast)
        .values("state")
        .annotate(n=Count("id"))
        .order_by()
    }
    total = sum(counts.values())
    not_initiated = counts.get(RState.NOT_INITIATED, 0)
    successful = counts.get(RState.SUCCESSFUL, 0)
    unsuccessful = counts.get(RState.UNSUCCESSFUL, 0)
    initiated = total - not_initiated
    by_step: dict[int, ChannelStats] = {
        s.pk: ChannelStats(step=s) for s in broadcast_steps(company=company, broadcast=broadcast)
    }
    rows = (
        BroadcastAttempt.objects.filter(company=company, broadcast=broadcast)
        .values("step_id", "state", "message__status")
        .annotate(n=Count("id"))
        .order_by()
    )
    for row in rows:
        stats = by_step.get(row["step_id"])
        if stats is None:
            continue
        n = row["n"]
        if row["state"] == AState.SKIPPED:
            stats.skipped += n
            continue
        if row["state"] == AState.SUCCEEDED:
            stats.successful += n
        stats.sent += n
        status = row["message__status"]
        if status in (Message.Status.QUEUED, None):
            stats.pending += n
        elif status == Message.Status.SUBMITTED:
            stats.submitted += n
        elif status == Message.Status.DELIVERED:
            stats.delivered += n
        elif status == Message.Status.DISPLAYED:
            stats.displayed += n
        else:
            stats.failed += n
    return BroadcastStats(
        total=total,
        not_initiated=Share(not_initiated, total),
        initiated=Share(initiated, total),
        successful=Share(successful, total),
        unsuccessful=Share(unsuccessful, total),
        pending=initiated - successful - unsuccessful,
        channels=list(by_step.values()),
    )


RATE_WINDOW = 60  # seconds: the send-rate gauge counts the messages of the last minute (issue 7 item 6)


@dataclass(frozen=True)
class SendRate:
    """The live send-rate gauge of a running broadcast (issue 7 item 6).

    ``per_second``: messages the run sent over the last minute (or since its launch when that is shorter) per
    second. ``remaining``: recipients still waiting for their first message. Decision: the ETA is
    ``remaining / per_second`` (when each is above zero), i.e. when the last first message should go out; hops
    that are still waiting for a status or a fallback timer are not part of it (their time is the chain's waiting
    time, not the rate). ``finish_at`` is that moment, ``None`` when it cannot be told.
    """

    per_second: float
    window_seconds: int
    remaining: int
    eta_seconds: int | None
    finish_at: datetime.datetime | None

    @property
    def eta_minutes(self) -> int | None:
        """The ETA in whole minutes, rounded up (at least 1), for the page."""
        return None if self.eta_seconds is None else max(1, -(-self.eta_seconds // 60))


def broadcast_send_rate(
    *, company: Company, broadcast: Broadcast, now: datetime.datetime | None = None
) -> SendRate:
    """Messages per second over the last minute and the ETA of the remaining recipients (index
    ``bcattempt_started``: one range count, whatever the size of the run)."""
    now = now or timezone.now()
    since = now - datetime.timedelta(seconds=RATE_WINDOW)
    if broadcast.launched_at is not None and broadcast.launched_at > since:
        since = broadcast.launched_at
    window = max(1.0, (now - since).total_seconds())
    sent = BroadcastAttempt.objects.filter(
        company=company,
        broadcast=broadcast,
        started_at__gte=since,
        started_at__lte=now,
        message__isnull=False,
    ).count()
    remaining = BroadcastRecipient.objects.filter(
        company=company, broadcast=broadcast, state=RState.NOT_INITIATED
    ).count()
    per_second = sent / window
    eta = round(remaining / per_second) if per_second > 0 and remaining else None
    return SendRate(
        per_second=round(per_second, 1),
        window_seconds=round(window),
        remaining=remaining,
        eta_seconds=eta,
        finish_at=now + datetime.timedelta(seconds=eta) if eta is not None else None,
    )


def recipient_list(*, company: Company, broadcast: Broadcast) -> QuerySet[BroadcastRecipient]:
    return BroadcastRecipient.objects.filter(company=company, broadcast=broadcast)


@dataclass
class TimelineStep:
    attempt: BroadcastAttempt
    events: list[MessageEvent]


def recipient_timeline(*, company: Company, recipient: BroadcastRecipient) -> list[TimelineStep]:
    """Every step of one recipient across channels: the attempt (why it ended, why the next hop fired) and each
    message event with the vendor's raw status and the mapped one, late reports included."""
    attempts = list(
        BroadcastAttempt.objects.filter(company=company, recipient=recipient)
        .select_related("step", "message")
        .order_by("step__order", "id")
    )
    events: dict[int, list[MessageEvent]] = defaultdict(list)
    message_ids = [a.message_id for a in attempts if a.message_id]
    for event in MessageEvent.objects.filter(company=company, message_id__in=message_ids).order_by(
        "occurred_at", "id"
    ):
        events[event.message_id].append(event)
    return [TimelineStep(a, events.get(a.message_id or 0, [])) for a in attempts]


def recipient_counts_by_source(*, company: Company, broadcast: Broadcast) -> dict[str, Any]:
    """How many recipient rows came from contacts and from typed numbers (shown under the totals)."""
    return BroadcastRecipient.objects.filter(company=company, broadcast=broadcast).aggregate(
        contacts=Count("id", filter=Q(contact__isnull=False)),
        typed=Count("id", filter=Q(contact__isnull=True)),
    )


def recipients_count(
    *, company: Company, target_ids: list[int], tag_ids: list[int], numbers: list[str]
) -> int:
    """How many recipients the picker resolves to right now: the union of the targets' and tags' contacts plus
    the typed numbers that are not among them (guide §6.6 item 3; inventory check 23). Numbers must be E.164."""
    from contacts.models import Contact, ContactTag
    from contacts.selectors import target_contacts
    from portal.core.listing import ListQueryError

    conditions = Q()
    for target in Target.objects.filter(company=company, pk__in=target_ids):
        try:
            conditions |= Q(pk__in=target_contacts(company=company, filters=target.filters).values("pk"))
        except ListQueryError:
            continue  # a target whose filter no longer applies selects nobody (as at fan-out)
    if tag_ids:
        conditions |= Q(
            pk__in=ContactTag.objects.filter(company=company, tag_id__in=tag_ids).values("contact_id")
        )
    if not conditions:
        return len(set(numbers))
    contacts = Contact.objects.filter(company=company).filter(conditions)
    return contacts.count() + len(set(numbers)) - contacts.filter(phone__in=set(numbers)).count()
