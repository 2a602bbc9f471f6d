"""Per-key rate limits of /api/v1, counted in Redis (seed 004 §2.4, §5.4, §6 checks 8-9).

A fixed window of ``PORTAL_API_RATE_WINDOW_SECONDS`` (60 s): GET/HEAD/OPTIONS count against
``PORTAL_API_RATE_LIMIT_GET`` (1000, or the key's own ``rate_limit_get`` raised by platform staff) and other
methods against ``PORTAL_API_RATE_LIMIT_WRITE``. Over the limit the request gets 429 with ``Retry-After`` (the
seconds until the window resets); every response carries ``X-RateLimit-Limit/Remaining/Reset``.

A fixed window can let up to twice the limit through around a window edge; for a 1000/min budget that is an
acceptable price for one INCR per request. If Redis is down the API stays up (fail open) and a warning is logged.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from typing import Any

import redis
from django.conf import settings
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from portal.api.models import ApiAccess
from portal.core.redis import redis_client

logger = logging.getLogger(__name__)

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
STATE_ATTR = "portal_rate_limit"


@dataclass(frozen=True)
class RateLimitState:
    limit: int
    remaining: int
    reset_at: int  # unix time the window ends
    retry_after: int  # seconds until then, at least 1

    def headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(max(self.remaining, 0)),
            "X-RateLimit-Reset": str(self.reset_at),
        }


def limit_for(access: ApiAccess, method: str) -> tuple[str, int]:
    if method.upper() in SAFE_METHODS:
        return "read", int(access.rate_limit_get or settings.PORTAL_API_RATE_LIMIT_GET)
    return "write", int(settings.PORTAL_API_RATE_LIMIT_WRITE)


def rate_limit_hit(*, access: ApiAccess, method: str, now: float | None = None) -> RateLimitState | None:
    """Count one request of ``access`` and return the window's state, or None when Redis cannot be reached."""
    window = max(int(settings.PORTAL_API_RATE_WINDOW_SECONDS), 1)
    now = time.time() if now is None else now
    window_index = int(now // window)
    reset_at = (window_index + 1) * window
    bucket, limit = limit_for(access, method)
    key = f"portal:api:rate:{access.pk}:{bucket}:{window_index}"
    try:
        pipe = redis_client().pipeline()
        pipe.incr(key)
        pipe.expire(key, window + 5)
        count = int(pipe.execute()[0])
    except redis.RedisError:
        logger.warning("API rate limit not enforced: Redis is unavailable", exc_info=True)
        return None
    return RateLimitState(
        limit=limit,
        remaining=limit - count,
        reset_at=reset_at,
        retry_after=max(1, math.ceil(reset_at - now)),
    )


class ApiKeyRateThrottle(BaseThrottle):
    """DRF throttle over ``rate_limit_hit``; requests without a key (401 already) are not counted."""

    def __init__(self) -> None:
        self.state: RateLimitState | None = None

    def allow_request(self, request: Request, view: Any) -> bool:
        access = getattr(request, "auth", None)
        if not isinstance(access, ApiAccess):
            return True
        self.state = rate_limit_hit(access=access, method=request.method or "GET")
        if self.state is None:
            return True
        setattr(request, STATE_ATTR, self.state)
        return self.state.remaining >= 0

    def wait(self) -> float | None:
        return float(self.state.retry_after) if self.state is not None else None
