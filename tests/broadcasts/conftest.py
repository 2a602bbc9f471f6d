"""Fixtures of the broadcast tests: the simulator (from the channel-layer tests), a clock, and a launch helper."""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any

import pytest
import time_machine
from django.utils import timezone

from broadcasts import services
from broadcasts.models import Broadcast
from broadcasts.services import BroadcastData, StepData
from broadcasts.tasks import broadcasts_sweep_task
from portal.tenants.models import Company
from tests.api.conftest import http, make_key  # noqa: F401  (fixtures re-exported for the API tests)
from tests.channels_out.conftest import script, simulator  # noqa: F401  (fixtures re-exported)

Capture = Callable[..., AbstractContextManager[Any]]


def sms(text: str = "Hello", **kw: Any) -> StepData:
    return StepData(channel="sms", sender_id="ACME", text=text, **kw)


def rcs(text: str = "Hello", **kw: Any) -> StepData:
    return StepData(channel="rcs", sender_id="ACME", text=text, **kw)


@pytest.fixture
def clock() -> Iterator[Callable[[float], None]]:
    """A frozen clock; ``clock(seconds)`` moves it forward."""
    with time_machine.travel(timezone.now(), tick=False) as traveller:

        def advance(seconds: float) -> None:
            traveller.shift(datetime.timedelta(seconds=seconds))

        yield advance


@pytest.fixture
def launch(company: Company, django_capture_on_commit_callbacks: Capture) -> Callable[..., Broadcast]:
    """Save and launch a broadcast, running the on-commit tasks (eager Celery) as a worker would."""

    def run(*, numbers: list[str], steps: list[StepData], **fields: Any) -> Broadcast:
        data = BroadcastData(name=fields.pop("name", "Test run"), numbers=numbers, steps=steps, **fields)
        with django_capture_on_commit_callbacks(execute=True):
            broadcast = services.broadcast_save(company=company, actor=None, data=data, action="launch")
        broadcast.refresh_from_db()
        return broadcast

    return run


@pytest.fixture
def sweep(django_capture_on_commit_callbacks: Capture) -> Callable[[], dict[str, int]]:
    """Run one beat tick of the broadcast sweep (and everything it enqueues)."""

    def tick() -> dict[str, int]:
        from portal.core.redis import redis_client

        # The sweep's "once per few seconds" keys (real seconds) would hide a tick taken after a clock jump.
        client = redis_client()
        for key in client.scan_iter("*broadcasts:*"):
            client.delete(key)
        with django_capture_on_commit_callbacks(execute=True):
            from channels_out.tasks import simulated_reports_due_task

            simulated_reports_due_task()
            result: dict[str, int] = broadcasts_sweep_task()
        return result

    return tick
