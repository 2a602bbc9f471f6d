"""Infrastructure tasks and the ``cron_task`` wrapper for periodic jobs (CONVENTIONS R7)."""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from celery import shared_task
from django.core.cache import cache

from portal.core.redis import redis_client

HEARTBEAT_KEY = "beat:heartbeat"
F = TypeVar("F", bound=Callable[..., Any])


def cron_task(*, lock_timeout: int) -> Callable[[F], F]:
    """Skip a periodic run while the previous one still holds its Redis lock."""

    def decorator(func: F) -> F:
        @wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            lock = redis_client().lock(f"cron-lock:{func.__module__}.{func.__name__}", timeout=lock_timeout)
            if not lock.acquire(blocking=False):
                return None
            try:
                return func(*args, **kwargs)
            finally:
                lock.release()

        return wrapper  # type: ignore[return-value]

    return decorator


@shared_task(name="realtime.core.heartbeat")
@cron_task(lock_timeout=25)
def heartbeat_task() -> float:
    """Record that beat scheduled and a realtime worker ran a task; /healthz reads it."""
    now = time.time()
    cache.set(HEARTBEAT_KEY, now, timeout=600)
    return now


@shared_task(name="realtime.core.ping")
def ping_task() -> str:
    return "pong"
