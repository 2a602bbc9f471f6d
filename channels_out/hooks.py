"""The fast path of vendor callbacks: ``POST /hooks/<adapter>/<connection>/`` (issue 5 §5, "answers fast").

A callback is checked and stored raw by ``services.callback_store``; this module keeps the per-request work of
that path small, measured by ``bench/bench_callbacks.py``:

- ``HookFastPathMiddleware`` (second in ``MIDDLEWARE``, after ``SecurityMiddleware``) hands a callback POST
  straight to the view. Sessions, authentication, company, locale, messages and htmx mean nothing to a vendor,
  and their middleware was most of the time of a report.
- ``hook_target`` keeps each connection's built adapter in the web process, keyed by the connection's UUID.
  Every save or delete of a ``Connection`` or a ``SimulatorRule`` bumps a generation counter in Redis after its
  commit (signals in ``apps.py``, R4.5 "cache invalidation"). A process reads the counter at most every
  ``GENERATION_CHECK_SECONDS`` (1 s) and drops its entries when it moved, so a disabled connection or a rotated
  secret takes effect on hooks within a second, in every process.
- ``apply_kick`` replaces one Redis round trip per report: the request only sets an in-process event after its
  INSERT committed; one kicker thread per process runs ``services.reports._schedule_apply`` (Redis ``SET NX``
  and the apply task when none waits) at most every ``KICK_INTERVAL_SECONDS`` (50 ms), always after the latest
  request's commit, so no stored report waits for a kick longer than that (the upkeep beat job kicks anyway
  if a process dies between the commit and its kick). Eager Celery (tests) kicks inline.

Durability is unchanged: the raw INSERT commits on its own (autocommit, ``synchronous_commit`` as configured,
on by default) before the 200 leaves, so every answered report survives a ``kill -9`` of the web server and of
the worker (bench/bench_callbacks.py ``--kill`` phase checks it). Concurrent requests share WAL flushes, which
is PostgreSQL's own group commit.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.http import HttpRequest, HttpResponse

from channels_out.base import ChannelAdapter
from portal.core.redis import redis_client

logger = logging.getLogger(__name__)

GENERATION_KEY = "channels_out:connections-gen"
GENERATION_CHECK_SECONDS = 1.0
KICK_INTERVAL_SECONDS = 0.05
HOOK_PATH = re.compile(r"^/hooks/(?P<adapter_key>[-a-zA-Z0-9_]+)/(?P<connection_uuid>[0-9a-fA-F-]{36})/$")


@dataclass(frozen=True)
class HookTarget:
    """What a callback needs of its connection (no credentials outside the adapter)."""

    pk: int
    company_id: int
    adapter_key: str
    adapter: ChannelAdapter


_lock = threading.Lock()
_targets: dict[str, HookTarget | None] = {}
_generation: list[bytes | None] = [None]
_checked_at: list[float] = [0.0]


def _generation_now() -> bytes | None:
    value = redis_client().get(GENERATION_KEY)
    return value if isinstance(value, bytes) else None


def hook_target(adapter_key: str, connection_uuid: str) -> HookTarget | None:
    """The enabled connection ``connection_uuid`` of adapter ``adapter_key`` with its adapter, else None."""
    key = str(connection_uuid).lower()
    now = time.monotonic()
    if now - _checked_at[0] >= GENERATION_CHECK_SECONDS:
        latest = _generation_now()
        with _lock:
            if latest != _generation[0]:
                _targets.clear()
                _generation[0] = latest
            _checked_at[0] = now
    with _lock:
        generation = _generation[0]
        if key in _targets:
            target = _targets[key]
            return target if target is not None and target.adapter_key == adapter_key else None
    target = _target_load(key)
    with _lock:
        if _generation[0] == generation:
            _targets[key] = target
    return target if target is not None and target.adapter_key == adapter_key else None


def _target_load(connection_uuid: str) -> HookTarget | None:
    from channels_out.models import Connection
    from channels_out.services import adapter_for

    connection = Connection.objects.filter(uuid=connection_uuid, enabled=True).first()
    if connection is None:
        return None
    return HookTarget(
        pk=connection.pk,
        company_id=connection.company_id,
        adapter_key=connection.adapter_key,
        adapter=adapter_for(connection),
    )


def hook_targets_invalidate() -> None:
    """Make every web process rebuild its connections (after a Connection or SimulatorRule change commits)."""
    redis_client().incr(GENERATION_KEY)
    with _lock:
        _targets.clear()
        _checked_at[0] = 0.0


class _Kicker:
    """One thread per process that schedules the apply task for the reports this process stored."""

    def __init__(self) -> None:
        self.wanted = threading.Event()
        self.pid = 0
        self.start_lock = threading.Lock()

    def kick(self) -> None:
        if self.pid != os.getpid():  # first use, or a fork inherited a dead thread
            with self.start_lock:
                if self.pid != os.getpid():
                    self.wanted = threading.Event()
                    threading.Thread(target=self._run, name="hook-apply-kicker", daemon=True).start()
                    self.pid = os.getpid()
        self.wanted.set()

    def _run(self) -> None:
        from channels_out.services.reports import _schedule_apply

        wanted = self.wanted
        while True:
            wanted.wait()
            wanted.clear()  # before the kick: a commit after this line sets it again and gets its own kick
            try:
                _schedule_apply()
            except Exception:  # Redis or broker down: the upkeep beat job kicks stored reports later
                logger.exception("could not schedule the callback apply task")
            time.sleep(KICK_INTERVAL_SECONDS)


_kicker = _Kicker()


def apply_kick() -> None:
    """After a stored report committed: make sure the apply task runs soon (see module doc)."""
    from celery import current_app

    if current_app.conf.task_always_eager:
        from channels_out.services.reports import _schedule_apply

        _schedule_apply()
    else:
        _kicker.kick()


class HookFastPathMiddleware:
    """Serve ``POST /hooks/<adapter>/<connection>/`` without the portal's page middleware (see module doc)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method == "POST" and request.path_info.startswith("/hooks/"):
            match = HOOK_PATH.match(request.path_info)
            if match is not None:
                from channels_out.views import callback_receive

                return callback_receive(request, **match.groupdict())
        return self.get_response(request)
