"""Back-pressure and fairness of the engine (broadcasts.engine QUEUED_LIMIT and _start_room): new recipients
start only while the submit backlog is under the limit, and a second company's run gets an equal share at once;
running steps (timers, reports) are never held back."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from broadcasts import engine, services
from broadcasts.models import Broadcast, BroadcastRecipient
from broadcasts.services import BroadcastData
from channels_out.models import Connection, Message
from channels_out.services import simulator_connection_create
from portal.tenants.models import Company
from tests.broadcasts.conftest import Capture, sms

NUMBERS = [f"+49151123456{i:02d}" for i in range(12)]


def _launch(company: Company, capture: Capture, numbers: list[str]) -> Broadcast:
    """Launch with the fan-out done here and no submit task run: every message stays queued (the backlog)."""
    with capture(execute=False):
        broadcast = services.broadcast_save(
            company=company,
            actor=None,
            data=BroadcastData(name="Backlog", numbers=numbers, steps=[sms()]),
            action="launch",
        )
    engine.broadcast_fan_out(company_id=company.pk, broadcast_id=broadcast.pk)
    return broadcast


def _initiated(broadcast: Broadcast) -> int:
    return BroadcastRecipient.objects.filter(broadcast=broadcast).exclude(state="not_initiated").count()


def test_new_recipients_wait_for_the_backlog_and_share_it_between_companies(
    company: Company,
    other_company: Company,
    simulator: Connection,
    script: Callable[..., Any],
    django_capture_on_commit_callbacks: Capture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(engine, "QUEUED_LIMIT", 6)
    simulator_connection_create(company=other_company, actor=None, sender_ids=["ACME"])
    big = _launch(company, django_capture_on_commit_callbacks, NUMBERS)
    assert engine.recipients_advance(company_id=company.pk, broadcast_id=big.pk) == 6
    assert engine.recipients_advance(company_id=company.pk, broadcast_id=big.pk) == 0  # 6 queued: full
    assert _initiated(big) == 6

    # A second company starts: its share is 6 // 2 = 3 at once, while the first one may not add any.
    small = _launch(other_company, django_capture_on_commit_callbacks, NUMBERS[:5])
    assert engine.recipients_advance(company_id=other_company.pk, broadcast_id=small.pk) == 3
    # The first company's backlog drains to 2 (4 submitted): its share is 3, so 1 more starts.
    sent = Message.objects.filter(company=company).order_by("id").values_list("pk", flat=True)[:4]
    Message.objects.filter(pk__in=list(sent)).update(status=Message.Status.SUBMITTED)
    assert engine.recipients_advance(company_id=company.pk, broadcast_id=big.pk) == 1
    assert (_initiated(big), _initiated(small)) == (7, 3)
    # The second company's queue empties but it still has recipients to start: the first keeps half (3 queued).
    Message.objects.filter(company=other_company).update(status=Message.Status.SUBMITTED)
    assert engine.recipients_advance(company_id=company.pk, broadcast_id=big.pk) == 0


def test_timers_fast_lane_fires_due_hops_and_never_starts_new_recipients(
    company: Company,
    simulator: Connection,
    script: Callable[..., Any],
    launch: Callable[..., Broadcast],
    clock: Callable[[float], None],
    sweep: Callable[[], dict[str, int]],
    django_capture_on_commit_callbacks: Capture,
) -> None:
    """The sweep sends due timers to the realtime lane (``broadcast_timers``): the SMS waiting time runs out and
    the Viber hop fires from there. The lane leaves not-yet-started recipients to the bulk advance."""
    script(channel="sms", report="none")
    script(channel="viber", report="delivered")
    running = launch(numbers=NUMBERS[:3], steps=[sms(wait_value=10, wait_unit="s"), sms("Again")])
    waiting = _launch(company, django_capture_on_commit_callbacks, NUMBERS[3:5])
    assert engine.broadcast_timers(company_id=company.pk, broadcast_id=waiting.pk) == 0
    assert _initiated(waiting) == 0
    clock(11)
    assert sweep()["timers"] == 1  # both runs have due rows; only the running one has due timers
    assert Message.objects.filter(company=company, address__in=NUMBERS[:3]).count() == 6
    assert _initiated(running) == 3
