"""With a real Celery worker: a delayed simulator report arrives by itself, on time (issue 5 §5)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from django.db import connection as db_connection

from channels_out.models import Message, SimulatorRule
from channels_out.services import message_send, simulator_connection_create
from portal.celery import app
from tests import factories
from tests.channels_out.conftest import MOBILE
from tests.worker import celery_worker


@pytest.fixture
def worker(
    redis_urls: dict[str, str], transactional_db: None, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    # The worker process must use this run's test database, not the development one.
    monkeypatch.setenv("DB_NAME", str(db_connection.settings_dict["NAME"]))
    app.conf.task_always_eager = False
    try:
        with celery_worker(broker_url=redis_urls["broker"], cache_url=redis_urls["cache"]) as name:
            yield name
    finally:
        app.conf.task_always_eager = True


@pytest.mark.worker
def test_delayed_report_arrives_through_the_worker(worker: str) -> None:
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
