"""Quiet hours (issue 7 item 5): allowed sending hours in each recipient's own time zone.

The engine asks :func:`hold_until` before it sends a step; outside the window the step (the first one or a later
fallback hop) is held and the recipient is due again when the window opens, so the beat sweep releases it. Pure
time arithmetic plus the number → time zone lookup of ``phonenumbers``; no database.

Decisions: the window is [from, till) in local wall-clock time and may wrap midnight (22:00-06:00); from = till
means no restriction. The time zone is a contact attribute (named in BroadcastSettings) when it holds a valid
IANA name, else the number's (phonenumbers' prefix data; for a country with several zones its first zone for the
prefix), else the company's. An opening that falls in a DST gap is taken with the offset before the change, as
in broadcasts/schedules.py.
"""

from __future__ import annotations

import datetime
import zoneinfo
from dataclasses import dataclass
from functools import lru_cache

import phonenumbers
from phonenumbers import timezone as phone_timezone


@dataclass(frozen=True)
class Window:
    start: datetime.time
    end: datetime.time

    def allows(self, local: datetime.time) -> bool:
        if self.start == self.end:
            return True
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end  # wraps midnight

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


@lru_cache(maxsize=4096)
def _number_zone(address: str) -> str:
    try:
        zones = phone_timezone.time_zones_for_number(phonenumbers.parse(address))
    except phonenumbers.NumberParseException:
        return ""
    zone = zones[0] if zones else ""
    return "" if zone.startswith("Etc/") else zone


@lru_cache(maxsize=1024)
def _valid_zone(name: str) -> bool:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return True


def recipient_zone(*, address: str, attribute_value: object, company_zone: str) -> str:
    """The recipient's IANA time zone: the contact attribute, else the number's, else the company's."""
    if isinstance(attribute_value, str) and attribute_value.strip() and _valid_zone(attribute_value.strip()):
        return attribute_value.strip()
    return _number_zone(address) or company_zone


def hold_until(window: Window, *, now: datetime.datetime, zone: str) -> datetime.datetime | None:
    """None when ``now`` is inside the window in ``zone``; otherwise the next opening (aware, UTC)."""
    tz = zoneinfo.ZoneInfo(zone)
    local = now.astimezone(tz)
    if window.allows(local.time().replace(tzinfo=None)):
        return None
    day = local.date()
    for _offset in range(3):
        opening = datetime.datetime.combine(day, window.start, tzinfo=tz).astimezone(datetime.UTC)
        if opening > now:
            return opening
        day += datetime.timedelta(days=1)
    return now + datetime.timedelta(days=1)  # unreachable for a valid window; never hold forever
