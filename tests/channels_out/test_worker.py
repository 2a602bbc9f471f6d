"""With a real Celery worker: a delayed simulator report arrives by itself, on time (issue 5 §5)."""

from __future__ import annotations

import time

import pytest

from channels_out.models import Message, SimulatorRule
from channels_out.services import message_send, simulator_connection_create
from tests import factories
from tests.channels_out.conftest import MOBILE


@pytest.mark.worker
def test_delayed_report_arrives_through_the_worker(db_worker: str) -> None:
    company = factories.make_company("Worker Co")
    simulator_connection_create(company=company, actor=None, sender_ids=["ACME"])
    SimulatorRule.objects.create(
        company=company, report="displayed", report_delay_seconds=2, display_delay_seconds=1
    )
    started = time.monotonic()
    message = message_send(
        company=company,
        actor=None,
        channel="sms",
        sender_id="ACME",
        to=MOBILE,
        payload={"text": "hi"},
        origin="api",
    )
    seen: list[str] = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        message.refresh_from_db()
        if not seen or seen[-1] != message.status:
            seen.append(message.status)
        if message.status == Message.Status.DISPLAYED:
            break
        time.sleep(0.05)
    elapsed = time.monotonic() - started
    assert message.status == Message.Status.DISPLAYED, seen
    assert Message.Status.SUBMITTED in seen
    assert elapsed >= 3.0  # delivered after 2 s, displayed 1 s later: not before they were due
    assert message.delivered_at is not None
    assert message.submitted_at is not None
    assert (message.delivered_at - message.submitted_at).total_seconds() >= 1.9
