"""Fault test on a real Celery worker (issue 7 "Measured", the suite's small version of
bench/bench_broadcast_worker.py --scenario fault): kill -9 of the worker and a pause of beat during a running
fallback broadcast; after the restart every recipient ends Successful or Unsuccessful and none got a step twice."""

from __future__ import annotations

import os
import signal
import time

import pytest
from django.db.models import Count

from broadcasts import services
from broadcasts.models import Broadcast, BroadcastAttempt, BroadcastRecipient
from broadcasts.services import BroadcastData, StepData
from broadcasts.tasks import broadcasts_sweep_task
from channels_out.models import Message, SimulatorRule
from channels_out.services import simulator_connection_create
from channels_out.tasks import channels_upkeep_task, simulated_reports_due_task
from tests import factories

FAILING = [f"+4915111{i:06d}" for i in range(12)]  # no SMS report: the SMS waiting time runs out → Viber
DELIVERED = [f"+4915181{i:06d}" for i in range(28)]


@pytest.fixture
def short_lease(monkeypatch: pytest.MonkeyPatch) -> None:
    """Workers started after this take back a dead worker's leased messages after 3 s (not 120 s)."""
    monkeypatch.setenv("PORTAL_SUBMIT_LEASE_SECONDS", "3")


def _beat() -> None:
    """The periodic jobs the broadcast depends on (portal/celery.py beat schedule)."""
    broadcasts_sweep_task.delay()
    simulated_reports_due_task.delay()
    channels_upkeep_task.delay()


@pytest.mark.worker
def test_kill_9_of_the_worker_and_a_beat_outage_mid_fallback(
    short_lease: None, redis_urls: dict[str, str], db_worker: str
) -> None:
    from portal.celery import app
    from tests.worker import celery_worker

    company = factories.make_company("Worker Fault")
    simulator_connection_create(company=company, actor=None, sender_ids=["ACME"])
    SimulatorRule.objects.create(company=company, order=1, pattern="+4915111*", channel="sms", report="none")
    SimulatorRule.objects.create(
        company=company, order=2, pattern="*", report="delivered", report_delay_seconds=1
    )
    steps = [
        StepData("sms", "ACME", wait_value=10, wait_unit="s", text="Plain hello"),
        StepData("viber", "ACME", wait_value=1, wait_unit="min", text="Viber hello"),
    ]
    broadcast = services.broadcast_save(
        company=company,
        actor=None,
        data=BroadcastData(name="Fault run", numbers=FAILING + DELIVERED, steps=steps),
        action="launch",
    )
    # Kill the worker once the SMS step has fired (its timers are running), before any Viber hop.
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not BroadcastAttempt.objects.filter(broadcast=broadcast).exists():
        _beat()
        time.sleep(0.3)
    assert BroadcastAttempt.objects.filter(broadcast=broadcast).exists()
    stats = app.control.inspect(destination=[db_worker], timeout=2).stats() or {}
    os.kill(stats[db_worker]["pid"], signal.SIGKILL)
    time.sleep(2)  # beat is down too: nothing is enqueued meanwhile
    with celery_worker(broker_url=redis_urls["broker"], cache_url=redis_urls["cache"]):
        deadline = time.monotonic() + 45
        while time.monotonic() < deadline:
            _beat()
            broadcast.refresh_from_db()
            if broadcast.status == Broadcast.Status.COMPLETE:
                break
            time.sleep(1)
    assert broadcast.status == Broadcast.Status.COMPLETE
    states = dict(
        BroadcastRecipient.objects.filter(broadcast=broadcast)
        .values_list("state")
        .annotate(n=Count("id"))
        .order_by()
    )
    assert states == {"successful": 40}
    # Never twice: one message per (recipient, step), SMS to everyone, Viber exactly to the 12 timed out.
    sent = Message.objects.filter(company=company, origin=Message.Origin.BROADCAST)
    assert sent.values("client_reference").annotate(n=Count("id")).filter(n__gt=1).count() == 0
    assert sent.values("address", "channel").annotate(n=Count("id")).filter(n__gt=1).count() == 0
    assert sorted(sent.filter(channel="viber").values_list("address", flat=True)) == FAILING
    assert sent.filter(channel="sms").count() == 40
    assert BroadcastAttempt.objects.filter(broadcast=broadcast, message__isnull=False).count() == 52
