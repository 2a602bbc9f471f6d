"""Back-pressure and fairness of the engine (broadcasts.engine QUEUED_LIMIT and _start_room): new recipients
start only while the submit backlog is under the limit, and a second company's run gets its share at once (weighed
by the work each company has left, smaller first, down to a floor);
hops after an immediate failure take the share too (before new recipients); hops after a timeout are never held
back and go to the vendor through the ``engine`` queue; the timers' lane works through bursts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.core.cache import cache
from django.utils import timezone

from broadcasts import engine, services, tasks
from broadcasts.models import Broadcast, BroadcastRecipient
from broadcasts.services import BroadcastData
from channels_out.models import Connection, Message
from channels_out.services import simulator_connection_create
from channels_out.vendors.simulator.adapter import submit_count
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


def _queued(company: Company) -> list[Message]:
    return list(Message.objects.filter(company=company, status=Message.Status.QUEUED).order_by("id"))


def _fail(message: Message) -> None:
    """The message failed for good (as a refused submit or an "undelivered" report) and its recipient is due."""
    Message.objects.filter(pk=message.pk).update(status=Message.Status.FAILED)
    BroadcastRecipient.objects.filter(attempts__message=message).update(next_check_at=timezone.now())


def test_hops_after_immediate_failures_take_the_share_and_go_before_new_recipients(
    company: Company,
    simulator: Connection,
    clock: Callable[[float], None],
    django_capture_on_commit_callbacks: Capture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(engine, "QUEUED_LIMIT", 3)
    with django_capture_on_commit_callbacks(execute=False):
        run = services.broadcast_save(
            company=company,
            actor=None,
            data=BroadcastData(name="Failing", numbers=NUMBERS[:6], steps=[sms(), sms("Again")]),
            action="launch",
        )
    engine.broadcast_fan_out(company_id=company.pk, broadcast_id=run.pk)
    assert engine.recipients_advance(company_id=company.pk, broadcast_id=run.pk) == 3
    first, second, third = _queued(company)
    monkeypatch.setattr(engine, "QUEUED_LIMIT", 2)
    _fail(first)
    _fail(second)
    # One message is queued (the third): room for one more. The first failure's hop takes it, the second waits,
    # and no new recipient starts.
    assert engine.recipients_advance(company_id=company.pk, broadcast_id=run.pk) == 2
    hops = _queued(company)[1:]
    assert [m.address for m in hops] == [first.address]
    assert _initiated(run) == 3
    held = BroadcastRecipient.objects.get(broadcast=run, address=second.address)
    assert held.next_check_at is not None
    assert held.next_check_at > timezone.now()
    assert held.attempts.get(message=second).state == "waiting"  # decided when it goes on
    # The third is submitted: room for one again, and the held hop goes before any new recipient.
    Message.objects.filter(pk=third.pk).update(status=Message.Status.SUBMITTED)
    clock(engine.ROOM_RETRY)
    assert engine.recipients_advance(company_id=company.pk, broadcast_id=run.pk) == 1
    assert [m.address for m in _queued(company)] == [first.address, second.address]
    assert _initiated(run) == 3
    assert held.attempts.get(message=second).state == "failed"


def test_hops_are_submitted_through_the_fallback_lane(
    company: Company,
    simulator: Connection,
    script: Callable[..., Any],
    launch: Callable[..., Broadcast],
    clock: Callable[[float], None],
    sweep: Callable[[], dict[str, int]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A hop's message goes to the ``engine`` queue only, first steps to ``bulk``; each is submitted once."""
    from channels_out import tasks as channel_tasks
    from channels_out.services import sending

    lane: list[int] = []
    bulk: list[int] = []

    class Recorder:
        def __init__(self, task: Any, seen: list[int]) -> None:
            self.task, self.seen = task, seen

        def delay(self, company_id: int, message_ids: list[int]) -> None:
            self.seen.extend(message_ids)
            self.task.delay(company_id, message_ids)

    real = tasks.broadcast_hops_submit_task
    monkeypatch.setattr(engine, "broadcast_hops_submit_task", Recorder(real, lane))
    monkeypatch.setattr(
        sending, "messages_submit_bulk_task", Recorder(channel_tasks.messages_submit_bulk_task, bulk)
    )
    assert real.name.startswith("engine.")
    script(channel="sms", report="none", pattern=NUMBERS[0])
    script(channel="sms", report="delivered")
    run = launch(numbers=NUMBERS[:3], steps=[sms(wait_value=10, wait_unit="s"), sms("Again")])
    assert lane == []
    clock(11)
    sweep()
    hop = Message.objects.get(company=company, address=NUMBERS[0], text="Again")
    assert lane == [hop.pk]
    assert hop.pk not in bulk
    assert len(bulk) == 3  # the first steps
    assert hop.status == Message.Status.SUBMITTED
    assert submit_count() == 4  # three first steps and the hop, once
    assert _initiated(run) == 3


def test_timers_lane_works_through_a_burst_and_hands_over_after_its_slice(
    company: Company,
    simulator: Connection,
    script: Callable[..., Any],
    launch: Callable[..., Broadcast],
    clock: Callable[[float], None],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    script(channel="sms", report="none", pattern=NUMBERS[0][:-2] + "0*")
    script(channel="sms", report="delivered")
    run = launch(numbers=NUMBERS[:5], steps=[sms(wait_value=10, wait_unit="s"), sms("Again")])
    again: list[tuple[int, int]] = []
    monkeypatch.setattr(engine, "TIMER_BATCH", 2)
    monkeypatch.setattr(tasks.broadcast_timers_task, "delay", lambda *args: again.append(args))
    clock(11)
    # Five due timers, two per transaction: one task goes through all of them within its slice.
    assert engine.broadcast_timers(company_id=company.pk, broadcast_id=run.pk) == 5
    assert again == []
    assert Message.objects.filter(company=company, text="Again").count() == 5
    # Past its slice with due rows left, the task hands over to a fresh one (other realtime tasks go between).
    rerun = launch(numbers=NUMBERS[5:10], steps=[sms(wait_value=10, wait_unit="s"), sms("Again")])
    clock(11)
    monkeypatch.setattr(engine, "TIMER_SLICE", -1.0)
    cache.delete(engine.TIMERS_KEY % rerun.pk)
    assert engine.broadcast_timers(company_id=company.pk, broadcast_id=rerun.pk) == 2
    assert again == [(company.pk, rerun.pk)]


def test_a_submit_report_starts_new_recipients_at_once(
    company: Company,
    simulator: Connection,
    django_capture_on_commit_callbacks: Capture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Room freed by submits is used right away (not at the next beat tick), once a submit task's worth is free."""
    monkeypatch.setattr(engine, "QUEUED_LIMIT", 3)
    monkeypatch.setattr(engine, "REFILL_MIN", 2)
    run = _launch(company, django_capture_on_commit_callbacks, NUMBERS[:6])
    assert engine.recipients_advance(company_id=company.pk, broadcast_id=run.pk) == 3
    first, second, _third = _queued(company)
    for message, initiated in ((first, 3), (second, 5)):  # room 1: wait; room 2: start two
        Message.objects.filter(pk=message.pk).update(
            status=Message.Status.SUBMITTED, submitted_at=timezone.now()
        )
        engine.broadcast_statuses_apply(company_id=company.pk, message_ids=[message.pk])
        assert _initiated(run) == initiated


def test_a_company_between_two_sends_keeps_its_share_for_a_grace_period(
    company: Company,
    other_company: Company,
    simulator: Connection,
    clock: Callable[[float], None],
    django_capture_on_commit_callbacks: Capture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(engine, "QUEUED_LIMIT", 6)
    run = _launch(company, django_capture_on_commit_callbacks, NUMBERS)
    engine._sending_mark(other_company.pk)  # it queued messages a moment ago, none waits now
    assert engine.recipients_advance(company_id=company.pk, broadcast_id=run.pk) == 3
    Message.objects.filter(company=company).update(status=Message.Status.SUBMITTED)
    clock(engine.SENDING_GRACE + 1)
    assert engine.recipients_advance(company_id=company.pk, broadcast_id=run.pk) == 6


def test_one_transaction_of_a_company_uses_its_share_at_a_time(
    company: Company, simulator: Connection, django_capture_on_commit_callbacks: Capture
) -> None:
    """Another engine transaction of the company holds the share (the advisory lock): this one starts nobody."""
    import psycopg
    from django.db import connection

    run = _launch(company, django_capture_on_commit_callbacks, NUMBERS[:3])
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    with psycopg.connect(**params) as other, other.transaction():
        other.execute("SELECT pg_advisory_xact_lock(%s, %s)", [engine.ROOM_LOCK, company.pk])
        assert engine.recipients_advance(company_id=company.pk, broadcast_id=run.pk) == 0
    assert engine.recipients_advance(company_id=company.pk, broadcast_id=run.pk) == 3


def test_a_failure_of_the_last_step_is_decided_at_once_even_when_the_share_is_full(
    company: Company,
    simulator: Connection,
    django_capture_on_commit_callbacks: Capture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(engine, "QUEUED_LIMIT", 2)
    run = _launch(company, django_capture_on_commit_callbacks, NUMBERS[:3])
    assert engine.recipients_advance(company_id=company.pk, broadcast_id=run.pk) == 2
    first, _second = _queued(company)
    monkeypatch.setattr(engine, "QUEUED_LIMIT", 1)  # one queued: the share is full
    _fail(first)
    assert engine.recipients_advance(company_id=company.pk, broadcast_id=run.pk) == 1
    recipient = BroadcastRecipient.objects.get(broadcast=run, address=first.address)
    assert recipient.state == BroadcastRecipient.State.UNSUCCESSFUL


def test_shares_favour_the_company_with_less_work_left_down_to_a_floor(
    company: Company,
    other_company: Company,
    simulator: Connection,
    django_capture_on_commit_callbacks: Capture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(engine, "QUEUED_LIMIT", 400)
    simulator_connection_create(company=other_company, actor=None, sender_ids=["ACME"])
    big = _launch(company, django_capture_on_commit_callbacks, NUMBERS[:2])
    small = _launch(other_company, django_capture_on_commit_callbacks, NUMBERS[2:4])
    Broadcast.objects.filter(pk=big.pk).update(contacts=2000)  # the counters the sweep keeps
    Broadcast.objects.filter(pk=small.pk).update(contacts=200)
    # Work left 2,000 and 200: weights 1/2000 and 1/200, so 400 * 10/11 = 363 for the small one; the big one
    # gets 36, raised to the floor of a quarter of an equal share (50).
    assert engine._start_room(other_company.pk) == 363
    assert engine._start_room(company.pk) == 50
    # Below SHARE_MIN_WORK both count as 100: equal shares.
    Broadcast.objects.filter(pk=big.pk).update(contacts=20)
    Broadcast.objects.filter(pk=small.pk).update(contacts=2)
    assert engine._start_room(company.pk) == engine._start_room(other_company.pk) == 200
