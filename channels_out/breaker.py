"""Circuit breaker per connection, its state in Redis so every worker sees it (issue 5 §2 provider failover).

Closed: messages go through. After ``PORTAL_BREAKER_FAILURES`` transient failures (errors, timeouts) within
``PORTAL_BREAKER_WINDOW_SECONDS`` it opens for ``PORTAL_BREAKER_COOLDOWN_SECONDS``: the connection is skipped and
the next one by priority carries the traffic. When the cool-down ends one message is let through (half-open); a
success closes the breaker, a failure opens it again at once. Permanent errors (a bad number) are the message's
fault, not the connection's, and do not count.
"""

from __future__ import annotations

from django.conf import settings

from portal.core.redis import redis_client


def _keys(connection_id: int) -> tuple[str, str, str]:
    base = f"channels_out:breaker:{connection_id}"
    return f"{base}:fails", f"{base}:open", f"{base}:tripped"


def breaker_allows(*, connection_id: int) -> bool:
    """Whether the connection may be tried now (closed or half-open)."""
    _fails, open_key, _tripped = _keys(connection_id)
    return not redis_client().exists(open_key)


def breaker_record_failure(*, connection_id: int) -> bool:
    """Count a transient failure; return True when this failure opened the breaker."""
    fails_key, open_key, tripped_key = _keys(connection_id)
    client = redis_client()
    cooldown = settings.PORTAL_BREAKER_COOLDOWN_SECONDS
    if client.exists(tripped_key):  # half-open trial failed: open again straight away
        client.set(open_key, 1, ex=cooldown)
        return True
    pipe = client.pipeline()
    pipe.incr(fails_key)
    pipe.expire(fails_key, settings.PORTAL_BREAKER_WINDOW_SECONDS, nx=True)
    failures = int(pipe.execute()[0])
    if failures < settings.PORTAL_BREAKER_FAILURES:
        return False
    pipe = client.pipeline()
    pipe.set(open_key, 1, ex=cooldown)
    pipe.set(tripped_key, 1, ex=cooldown * 10)
    pipe.delete(fails_key)
    pipe.execute()
    return True


def breaker_record_success(*, connection_id: int) -> None:
    """Close the breaker: forget failures and any trip."""
    fails_key, _open, tripped_key = _keys(connection_id)
    redis_client().delete(fails_key, tripped_key)
