"""Fallback preview before launch (issue 7 item 5): a read-only prediction of what a broadcast will send.

For the resolved recipients (a sample of the first ``SAMPLE_SIZE`` by contact id for big audiences, labelled as a
sample and scaled to the whole audience), each recipient's predicted path through the chain is worked out with the
same skip rules as the engine (broadcasts/engine.py ``_skip_reason`` / ``_address_for``): opted out of the step's
channel and sender, no address for the channel, not RCS capable when the capability check is on, text over the
channel's limit. From the paths: counts per hop for the best case (the first sendable step succeeds) and the worst
case (every sendable step is sent and times out), SMS parts and encoding per SMS step (channels_out/sms.py), and a
projected finish time from the connections' rate limits (``Connection.rate_limit``) plus the waiting times.

Nothing is written and nothing is sent; the RCS capability check asks the adapter, as the launch would.
"""

from __future__ import annotations

import datetime
import zoneinfo
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from broadcasts import quiet
from broadcasts.addresses import step_address
from broadcasts.engine import quiet_window_of
from broadcasts.models import BroadcastStep
from broadcasts.selectors import recipients_count
from broadcasts.services import BroadcastData, StepData, numbers_clean, step_payload
from channels_out.kinds import ChannelKind
from channels_out.models import Connection
from channels_out.services import adapter_for
from channels_out.sms import GSM7, sms_info
from channels_out.validation import payload_text
from contacts.models import Contact, ContactAttribute, ContactTag, Target
from contacts.selectors import opted_out_contact_ids, target_contacts
from portal.core.listing import ListQueryError
from portal.tenants.models import Company

SAMPLE_SIZE = 1000
PATHS_SHOWN = 20  # recipient paths listed on the panel


@dataclass
class Hop:
    """One step of the chain in the preview."""

    order: int
    channel: str
    label: str
    sender_id: str
    waiting_seconds: int
    best: int = 0  # recipients for whom this is the first sendable step
    worst: int = 0  # recipients for whom this step is sendable at all
    skipped: dict[str, int] = field(default_factory=dict)  # reason → recipients
    encoding: str = ""  # SMS steps: GSM-7 or UCS-2
    segments: int = 0  # SMS steps: parts per message (as typed; placeholders counted as typed)
    rate_limit: int | None = None  # messages per second of its connection; 0 = no limit; None = no connection
    submit_seconds: float = 0.0  # time to submit the worst-case count at the rate limit


@dataclass
class Preview:
    total: int
    sampled: int  # recipients looked at
    is_sample: bool
    hops: list[Hop]
    paths: list[
        tuple[str, list[str]]
    ]  # (address, ["SMS: sent", "RCS: skipped (reason)", …]) for the first few
    unreachable: int  # recipients no step can reach
    best_messages: int
    worst_messages: int
    best_sms_parts: int
    worst_sms_parts: int
    finish_best: datetime.datetime | None
    finish_worst: datetime.datetime | None
    unlimited: bool  # some step's connection has no rate limit: its submit time is not counted
    held: int = 0  # quiet hours: recipients whose first message would wait for their allowed hours
    held_release: datetime.datetime | None = None  # the latest of those openings
    # TODO(finance): price per hop and best/worst cost once prices exist (#7).


@dataclass
class _Person:
    address: str
    contact_id: int | None = None
    email: str = ""
    attributes: dict[str, Any] = field(default_factory=dict)


def _sample(company: Company, data: BroadcastData, numbers: list[str]) -> list[_Person]:
    conditions = Q()
    for target in Target.objects.filter(company=company, pk__in=list(data.target_ids)):
        try:
            conditions |= Q(pk__in=target_contacts(company=company, filters=target.filters).values("pk"))
        except ListQueryError:
            continue  # as at fan-out: a target whose filter no longer applies selects nobody
    if data.tag_ids:
        conditions |= Q(
            pk__in=ContactTag.objects.filter(company=company, tag_id__in=list(data.tag_ids)).values(
                "contact_id"
            )
        )
    people: dict[str, _Person] = {}
    if conditions:
        rows = (
            Contact.objects.filter(company=company)
            .filter(conditions)
            .order_by("pk")
            .values_list("pk", "phone", "email", "attributes")[:SAMPLE_SIZE]
        )
        for pk, phone, email, attributes in rows:
            people.setdefault(phone, _Person(phone, pk, email or "", attributes or {}))
    extra = [n for n in numbers if n not in people][: max(0, SAMPLE_SIZE - len(people))]
    by_phone: dict[str, tuple[int | None, str, dict[str, Any]]] = {
        phone: (pk, email, attributes or {})
        for pk, phone, email, attributes in Contact.objects.filter(
            company=company, phone__in=extra
        ).values_list("pk", "phone", "email", "attributes")
    }
    for number in extra:
        contact_id, contact_email, attributes = by_phone.get(number, (None, "", {}))
        people[number] = _Person(number, contact_id, contact_email or "", attributes)
    return list(people.values())


def _connection(company: Company, channel: str, sender_id: str) -> Connection | None:
    return (
        Connection.objects.filter(
            company=company, enabled=True, channels__contains=[channel], sender_ids__contains=[sender_id]
        )
        .order_by("priority", "id")
        .first()
    )


def _rcs_checker(connection: Connection | None) -> Callable[[str], bool]:
    check = getattr(adapter_for(connection), "check_capability", None) if connection else None
    if check is None:
        return lambda address: True  # an adapter that cannot tell counts as capable (as in the engine)
    return lambda address: bool(check(ChannelKind.RCS, address))


def fallback_preview(
    *, company: Company, data: BroadcastData, rcs_check: bool, now: datetime.datetime | None = None
) -> Preview:
    """Predict the paths, counts, SMS parts and finish time of ``data`` (see the module docstring).

    No side effects (the RCS capability check may call the vendor's capability API, as a launch would).
    Raises ValidationError for invalid typed numbers.
    """
    now = now or timezone.now()
    numbers = numbers_clean(company=company, raw=data.numbers)
    total = recipients_count(
        company=company, target_ids=list(data.target_ids), tag_ids=list(data.tag_ids), numbers=numbers
    )
    people = _sample(company, data, numbers)
    steps: Sequence[StepData] = [s for s in data.steps if s.channel in ChannelKind.values]
    contact_ids = [p.contact_id for p in people if p.contact_id]
    hops: list[Hop] = []
    opted: list[set[int]] = []
    text_problem: list[str] = []
    checkers: list[Callable[[str], bool] | None] = []
    for order, step in enumerate(steps, start=1):
        connection = _connection(company, step.channel, step.sender_id)
        hop = Hop(
            order=order,
            channel=step.channel,
            label=str(ChannelKind(step.channel).label),
            sender_id=step.sender_id,
            waiting_seconds=step.wait_value * BroadcastStep.UNIT_SECONDS.get(step.wait_unit, 60),
            rate_limit=connection.rate_limit if connection else None,
        )
        if step.channel == ChannelKind.SMS:
            info = sms_info(step.text)
            hop.encoding = "GSM-7" if info.encoding == GSM7 else "UCS-2"
            hop.segments = info.segments
        hops.append(hop)
        opted.append(
            opted_out_contact_ids(
                company=company, channel=step.channel, sender_id=step.sender_id, contact_ids=contact_ids
            )
            if contact_ids
            else set()
        )
        try:
            payload_text(step.channel, step_payload(step))
            text_problem.append("")
        except ValidationError as exc:
            text_problem.append(" ".join(exc.messages))
        checkers.append(_rcs_checker(connection) if step.channel == ChannelKind.RCS and rcs_check else None)
    window, tz_attribute = quiet_window_of(
        company_id=company.pk,
        mode=data.quiet_hours,
        allowed_from=data.allowed_from,
        allowed_till=data.allowed_till,
    )
    attribute_keys = {a.name.strip().lower(): a.key for a in ContactAttribute.objects.filter(company=company)}
    tz_key = (
        attribute_keys.get(tz_attribute.strip().lower(), "") if window is not None and tz_attribute else ""
    )
    held = 0
    held_release: datetime.datetime | None = None
    paths: list[tuple[str, list[str]]] = []
    unreachable = 0
    rcs_known: dict[str, bool] = {}
    for person in people:
        path: list[str] = []
        first = True
        for index, (step, hop) in enumerate(zip(steps, hops, strict=True)):
            reason = text_problem[index]
            if not reason and person.contact_id and person.contact_id in opted[index]:
                reason = _("Opted out of %(channel)s.") % {"channel": hop.label}
            checker = checkers[index]
            if not reason and checker is not None:
                if person.address not in rcs_known:
                    rcs_known[person.address] = checker(person.address)
                if not rcs_known[person.address]:
                    reason = _("Not RCS capable (capability check).")
            if not reason:
                reason = step_address(
                    step.channel,
                    phone=person.address,
                    email=person.email,
                    attributes=person.attributes,
                    attribute_keys=attribute_keys,
                )[1]
            if reason:
                hop.skipped[reason] = hop.skipped.get(reason, 0) + 1
                path.append(_("%(channel)s: skipped (%(reason)s)") % {"channel": hop.label, "reason": reason})
                continue
            hop.worst += 1
            if first:
                hop.best += 1
                first = False
            path.append(_("%(channel)s: sent") % {"channel": hop.label})
        if first:
            unreachable += 1
        elif window is not None:
            zone = quiet.recipient_zone(
                address=person.address,
                attribute_value=person.attributes.get(tz_key) if tz_key else None,
                company_zone=company.time_zone,
            )
            release = quiet.hold_until(window, now=now, zone=zone)
            if release is not None:
                held += 1
                held_release = release if held_release is None else max(held_release, release)
                local = release.astimezone(zoneinfo.ZoneInfo(zone)).strftime("%d.%m.%Y %H:%M")
                path.insert(
                    0, _("held until %(time)s (quiet hours, %(zone)s)") % {"time": local, "zone": zone}
                )
        if len(paths) < PATHS_SHOWN:
            paths.append((person.address, path))
    scale = (total / len(people)) if people and total > len(people) else 1.0
    if scale != 1.0:
        for hop in hops:
            hop.best = round(hop.best * scale)
            hop.worst = round(hop.worst * scale)
            hop.skipped = {k: round(v * scale) for k, v in hop.skipped.items()}
        unreachable = round(unreachable * scale)
        held = round(held * scale)
    unlimited = False
    for hop in hops:
        if hop.rate_limit:
            hop.submit_seconds = hop.worst / hop.rate_limit
        else:
            unlimited = unlimited or hop.worst > 0
    finish_best: datetime.datetime | None = None
    finish_worst: datetime.datetime | None = None
    if any(h.worst for h in hops):
        # Best case: every recipient succeeds on its first sendable hop, so the run ends when the slowest hop has
        # submitted its best-case share and that share's status arrived (at most its waiting time).
        best_seconds = max(
            ((h.best / h.rate_limit if h.rate_limit else 0.0) + h.waiting_seconds for h in hops if h.best),
            default=0.0,
        )
        # Worst case: every sendable hop is sent to everyone and times out, one after the other.
        worst_seconds = sum(h.submit_seconds + h.waiting_seconds for h in hops if h.worst)
        # Quiet hours: held recipients start at their opening; the estimate assumes no further hold on later hops.
        start = max(now, held_release) if held_release else now
        finish_best = start + datetime.timedelta(seconds=best_seconds)
        finish_worst = start + datetime.timedelta(seconds=worst_seconds)
    return Preview(
        total=total,
        sampled=len(people),
        is_sample=total > len(people),
        hops=hops,
        paths=paths,
        unreachable=unreachable,
        best_messages=sum(h.best for h in hops),
        worst_messages=sum(h.worst for h in hops),
        best_sms_parts=sum(h.best * h.segments for h in hops if h.channel == ChannelKind.SMS),
        worst_sms_parts=sum(h.worst * h.segments for h in hops if h.channel == ChannelKind.SMS),
        finish_best=finish_best,
        finish_worst=finish_worst,
        unlimited=unlimited,
        held=held,
        held_release=held_release,
    )
