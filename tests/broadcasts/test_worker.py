"""With a real Celery worker and a beat-like sweep: the RCS waiting time runs out in real time and the SMS hop fires
within its waiting time + 5 s (issue 7 timing target), exactly once."""

from __future__ import annotations

import time

import pytest

from broadcasts import services
from broadcasts.models import Broadcast, BroadcastAttempt, BroadcastRecipient
from broadcasts.services import BroadcastData, StepData
from broadcasts.tasks import broadcasts_sweep_task
from channels_out.models import Message, SimulatorRule
from channels_out.services import simulator_connection_create
from channels_out.tasks import simulated_reports_due_task
from tests import factories

A, B = "+34612000001", "+34612000002"


@pytest.mark.worker
def test_rcs_timeout_falls_back_to_sms_through_the_worker(db_worker: str) -> None:
    company = factories.make_company("Worker Broadcasts")
    simulator_connection_create(company=company, actor=None, sender_ids=["ACME"])
    SimulatorRule.objects.create(
        company=company, pattern=A, channel="rcs", report="delivered", report_delay_seconds=1
    )
    SimulatorRule.objects.create(company=company, pattern=B, channel="rcs", report="none")
    SimulatorRule.objects.create(company=company, channel="sms", report="delivered", report_delay_seconds=1)
    steps = [
        StepData("rcs", "ACME", wait_value=10, wait_unit="s", text="Rich hello"),
        StepData("sms", "ACME", wait_value=10, wait_unit="s", text="Plain hello"),
    ]
    started = time.monotonic()
    broadcast = services.broadcast_save(
        company=company,
        actor=None,
        data=BroadcastData(name="Worker run", numbers=[A, B], steps=steps),
        action="launch",
    )
    deadline = time.monotonic() + 45
    while time.monotonic() < deadline:
        # Beat: the two periodic jobs the fallback depends on, every second.
        broadcasts_sweep_task.delay()
        simulated_reports_due_task.delay()
        broadcast.refresh_from_db()
        if broadcast.status == Broadcast.Status.COMPLETE:
            break
        time.sleep(1)
    assert broadcast.status == Broadcast.Status.COMPLETE
    assert (broadcast.contacts, broadcast.successful, broadcast.unsuccessful) == (2, 2, 0)
    assert list(Message.objects.filter(address=A).values_list("channel", flat=True)) == ["rcs"]
    assert sorted(Message.objects.filter(address=B).values_list("channel", flat=True)) == ["rcs", "sms"]
    rcs_attempt = BroadcastAttempt.objects.get(recipient__address=B, step__channel="rcs")
    sms_attempt = BroadcastAttempt.objects.get(recipient__address=B, step__channel="sms")
    hop = (sms_attempt.started_at - rcs_attempt.started_at).total_seconds()
    assert 10 <= hop <= 15, hop  # the waiting time, then at most 5 s late
    assert BroadcastRecipient.objects.get(address=B).state == BroadcastRecipient.State.SUCCESSFUL
    assert time.monotonic() - started < 45
