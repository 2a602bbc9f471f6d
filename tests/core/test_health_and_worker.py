"""/healthz and the Celery wiring, with a real worker on the local Redis (issue #3 item 6)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.core.cache import cache
from django.test import Client

from portal.celery import app
from portal.core.redis import redis_client
from portal.core.tasks import HEARTBEAT_KEY, heartbeat_task, ping_task
from tests.worker import celery_worker


@pytest.fixture(scope="module")
def worker(redis_urls: dict[str, str]) -> Iterator[str]:
    with celery_worker(broker_url=redis_urls["broker"], cache_url=redis_urls["cache"]) as name:
        yield name


@pytest.fixture
def not_eager() -> Iterator[None]:
    app.conf.task_always_eager = False
    yield
    app.conf.task_always_eager = True


def test_celery_uses_json_limits_and_separate_queues() -> None:
    assert app.conf.task_serializer == "json"
    assert app.conf.accept_content == ["json"]
    assert app.conf.task_time_limit
    assert app.conf.task_soft_time_limit
    assert {q.name for q in app.conf.task_queues} == {"realtime", "engine", "bulk", "default"}
    route = app.amqp.router.route({}, "realtime.core.heartbeat")
    assert route["queue"].name == "realtime"
    assert app.amqp.router.route({}, "bulk.contacts.import")["queue"].name == "bulk"
    assert app.amqp.router.route({}, "engine.broadcasts.advance")["queue"].name == "engine"
    assert "core-heartbeat" in app.conf.beat_schedule


def test_healthz_is_503_without_a_worker(client: Client, db: None) -> None:
    """Runs before the module's worker starts (tests run in file order)."""
    body = client.get("/healthz")
    assert body.status_code == 503
    assert body.json()["workers"] == {"ok": False, "names": []}
    assert body.json()["database"]["ok"] is True


@pytest.mark.worker
def test_worker_runs_tasks_from_the_realtime_queue(worker: str, not_eager: None, db: None) -> None:
    assert ping_task.delay().get(timeout=20) == "pong"
    heartbeat_task.delay().get(timeout=20)
    assert cache.get(HEARTBEAT_KEY) is not None  # written by the worker process into the shared Redis


@pytest.mark.worker
def test_healthz_reports_database_redis_worker_and_beat(
    worker: str, not_eager: None, client: Client, db: None
) -> None:
    heartbeat_task.delay().get(timeout=20)
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["database"]["ok"]
    assert body["redis"]["ok"]
    assert body["beat"]["ok"]
    assert worker in body["workers"]["names"]


def test_cron_task_skips_while_the_previous_run_holds_the_lock(db: None) -> None:
    lock = redis_client().lock("cron-lock:portal.core.tasks.heartbeat_task", timeout=5)
    assert lock.acquire(blocking=False)
    try:
        assert heartbeat_task() is None
    finally:
        lock.release()
    assert isinstance(heartbeat_task(), float)
