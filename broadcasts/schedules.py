"""Recurring schedules of broadcast templates (guide §7.3 item 4, §7.4 "Scheduler behaviour").

Pure date arithmetic, no database. Every slot is computed as a wall-clock time on a calendar day in the company's
time zone and only then converted to UTC, so a daily 21:59 stays 21:59 local across a DST change (adding 24 hours
in UTC would drift by an hour). Wall-clock rules at the DST edges, decided here:

- a time that does not exist that day (spring forward, e.g. 02:30 in Europe/Berlin on the last Sunday of March)
  is read with the offset before the change, i.e. it launches at the same UTC instant as 01:30 + 1 h = 03:30 local;
- a time that exists twice (fall back) launches once, at its first occurrence (``fold=0``).
"""

from __future__ import annotations

import calendar
import datetime
import zoneinfo
from dataclasses import dataclass, field

# A rule that matches no day within this horizon has no next slot (e.g. monthly on a day that never comes).
HORIZON_DAYS = 400


@dataclass(frozen=True)
class Rule:
    """A template's schedule: ``recurrence`` is one of BroadcastTemplate.Recurrence's values."""

    recurrence: str
    at_time: datetime.time | None = None
    weekdays: tuple[int, ...] = field(default_factory=tuple)  # ISO: 1 = Monday … 7 = Sunday
    month_day: int | None = None
    effective_from: datetime.datetime | None = None
    effective_till: datetime.datetime | None = None


def _matches(rule: Rule, day: datetime.date) -> bool:
    if rule.recurrence == "daily":
        return True
    if rule.recurrence == "weekly":
        return day.isoweekday() in rule.weekdays
    if rule.recurrence == "monthly" and rule.month_day:
        last = calendar.monthrange(day.year, day.month)[1]
        return day.day == min(rule.month_day, last)
    return False


def _utc_slot(day: datetime.date, at: datetime.time, tz: zoneinfo.ZoneInfo) -> datetime.datetime:
    local = datetime.datetime.combine(day, at.replace(tzinfo=None, fold=0), tzinfo=tz)
    return local.astimezone(datetime.UTC)


def next_slot(rule: Rule, *, after: datetime.datetime, time_zone: str) -> datetime.datetime | None:
    """The first launch time strictly after ``after`` (aware) within the effective window, in UTC; None if none.

    "Once" launches at Effective from. The other rules launch at ``at_time`` on each matching local day from
    Effective from (inclusive) to Effective till (inclusive).
    """
    if rule.recurrence == "once":
        slot = rule.effective_from
        if slot is None or slot <= after:
            return None
        return slot
    if rule.recurrence not in ("daily", "weekly", "monthly") or rule.at_time is None:
        return None
    tz = zoneinfo.ZoneInfo(time_zone)
    start = after
    if rule.effective_from is not None and rule.effective_from > start:
        # Effective from itself may be a slot: start the search just before it.
        start = rule.effective_from - datetime.timedelta(microseconds=1)
    day = start.astimezone(tz).date()
    for _offset in range(HORIZON_DAYS):
        if _matches(rule, day):
            slot = _utc_slot(day, rule.at_time, tz)
            if slot > start:
                if rule.effective_till is not None and slot > rule.effective_till:
                    return None
                return slot
        day += datetime.timedelta(days=1)
    return None
