"""Reads for the health page: database, Redis, workers and beat."""

from __future__ import annotations

import time
from typing import Any

from django.core.cache import cache
from django.db import connection

from portal.core.tasks import HEARTBEAT_KEY


def health_status(*, worker_timeout: float = 1.0) -> dict[str, Any]:
    status: dict[str, Any] = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        status["database"] = {"ok": True}
    except Exception as exc:
        status["database"] = {"ok": False, "error": str(exc)[:200]}
    try:
        cache.set("healthz:probe", 1, timeout=10)
        status["redis"] = {"ok": cache.get("healthz:probe") == 1}
    except Exception as exc:
        status["redis"] = {"ok": False, "error": str(exc)[:200]}
    status["workers"] = _workers(worker_timeout)
    try:
        beat = cache.get(HEARTBEAT_KEY)
    except Exception:
        beat = None
    status["beat"] = {
        "ok": beat is not None and time.time() - float(beat) < 120,
        "last_heartbeat_age_s": round(time.time() - float(beat), 1) if beat is not None else None,
    }
    status["ok"] = status["database"]["ok"] and status["redis"]["ok"] and status["workers"]["ok"]
    return status


def _workers(timeout: float) -> dict[str, Any]:
    from portal.celery import app

    try:
        replies = app.control.ping(timeout=timeout) or []
    except Exception as exc:
        return {"ok": False, "error": str(exc)[:200], "names": []}
    names = sorted(name for reply in replies for name in reply)
    return {"ok": bool(names), "names": names}


def list_columns_get(*, company: Any, user: Any, list_key: str) -> list[str] | None:
    """The user's saved column keys for a list, or None for the list's defaults."""
    from portal.core.models import ListPreference

    pref = ListPreference.objects.filter(company=company, user=user, list_key=list_key).first()
    return list(pref.columns) if pref is not None else None
