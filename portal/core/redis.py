"""Direct Redis access for locks and counters, on the same server and database as the Django cache."""

from __future__ import annotations

from functools import lru_cache

import redis
from django.conf import settings


@lru_cache(maxsize=4)
def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=2)


def redis_client() -> redis.Redis:
    return _client(str(settings.CACHES["default"]["LOCATION"]))
