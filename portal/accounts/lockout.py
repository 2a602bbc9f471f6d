"""Throttles password guessing (issue #3): failures are counted in Redis per login and per client IP."""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.core.cache import cache


def _keys(login: str, ip: str | None) -> list[str]:
    digest = hashlib.sha256(login.strip().lower().encode()).hexdigest()[:32]
    keys = [f"login-fail:user:{digest}"]
    if ip:
        keys.append(f"login-fail:ip:{ip}")
    return keys


def _window() -> int:
    return int(settings.PORTAL_LOGIN_LOCKOUT_MINUTES) * 60


def is_locked_out(login: str, ip: str | None) -> bool:
    """True once a login (or, with a higher bar, an IP) has too many recent failures."""
    limit = int(settings.PORTAL_LOGIN_MAX_FAILURES)
    user_key, *ip_keys = _keys(login, ip)
    counts = cache.get_many([user_key, *ip_keys])
    if int(counts.get(user_key, 0)) >= limit:
        return True
    # One address may serve a whole office, so it gets a larger allowance than one login.
    return any(int(counts.get(k, 0)) >= limit * 4 for k in ip_keys)


def register_failure(login: str, ip: str | None) -> None:
    for key in _keys(login, ip):
        cache.add(key, 0, timeout=_window())
        try:
            cache.incr(key)
        except ValueError:
            cache.set(key, 1, timeout=_window())


def clear_failures(login: str) -> None:
    cache.delete(_keys(login, None)[0])
