"""Thin Celery wrappers of the broadcast engine (CONVENTIONS R7): ids in, one service call, idempotent.

Queues (portal/celery.py): the beat sweep and the timers' fast lane are on ``realtime`` so that timers keep firing
while the bulk workers are busy (they only do small batches of database work). The fan-out, the advance and the
submits of fallback hops are on ``engine``, which the bulk workers consume beside ``bulk``, where the channel
layer queues the first steps' submits; so a big campaign never delays a one-time password, and (issue 7,
bench/bench_broadcast_worker.py):

- a hop whose waiting time has run out does not wait behind the first steps' submit backlog (timing target,
  broadcasts.engine._hops_submit_first);
- a second company's run does not wait behind a big run's backlog to start (fairness: on ``bulk`` its fan-out
  and first advance waited 6 s behind a 20,000-recipient run of another company).

Celery's Redis transport takes a worker's queues in turn, so a task on ``engine`` waits for at most one task of
each other queue. The status task stays on ``bulk`` on purpose: it comes with every report, and on ``engine`` the
submits outran it (``bulk`` emptied, ``engine`` held 100 status tasks, ``realtime`` 250 reports), so the second
company's reports waited minutes; behind the submits it holds them back instead.
"""

from __future__ import annotations

from celery import shared_task
from django.core.cache import cache

from portal.core.exceptions import TransientError
from portal.core.tasks import cron_task


@shared_task(name="engine.broadcasts.fan_out", acks_late=True, autoretry_for=(TransientError,), retry_backoff=True, max_retries=5)  # fmt: skip
def broadcast_fan_out_task(company_id: int, broadcast_id: int) -> int:
    """Create the recipient rows of a launched broadcast (once) and start its engine."""
    from broadcasts.engine import broadcast_fan_out

    return broadcast_fan_out(company_id=company_id, broadcast_id=broadcast_id)


@shared_task(name="engine.broadcasts.advance", acks_late=True, autoretry_for=(TransientError,), retry_backoff=True, max_retries=5)  # fmt: skip
def broadcast_advance_task(company_id: int, broadcast_id: int) -> int:
    """Judge and move on every due recipient of a running broadcast."""
    from broadcasts.engine import ADVANCE_KEY, broadcast_advance

    cache.delete(ADVANCE_KEY % broadcast_id)
    return broadcast_advance(company_id=company_id, broadcast_id=broadcast_id)


@shared_task(name="realtime.broadcasts.timers", acks_late=True)
def broadcast_timers_task(company_id: int, broadcast_id: int) -> int:
    """Fast lane of the fallback timers: judge a small batch of due running steps and fire their next hops."""
    from broadcasts.engine import TIMERS_KEY, broadcast_timers

    cache.delete(TIMERS_KEY % broadcast_id)
    return broadcast_timers(company_id=company_id, broadcast_id=broadcast_id)


@shared_task(name="engine.broadcasts.hops_submit", acks_late=True, autoretry_for=(TransientError,), retry_backoff=True, max_retries=5)  # fmt: skip
def broadcast_hops_submit_task(company_id: int, message_ids: list[int]) -> int:
    """Submit queued fallback-hop messages ahead of the bulk queue (a no-op for any already submitted)."""
    from channels_out.services import messages_submit

    return messages_submit(company_id=company_id, message_ids=message_ids).submitted


@shared_task(name="bulk.broadcasts.statuses_apply", acks_late=True)
def broadcast_statuses_apply_task(company_id: int, message_ids: list[int]) -> int:
    """Fast path: act on status changes of broadcast messages reported by the channel layer."""
    from broadcasts.engine import broadcast_statuses_apply

    return broadcast_statuses_apply(company_id=company_id, message_ids=message_ids)


# The lock only keeps two ticks from overlapping; a tick is idempotent and takes well under a second. Short on
# purpose: a worker killed (-9) in the middle of a tick leaves the lock behind, and every fallback timer waits
# until it expires (issue 7 fault test, tests/broadcasts/test_worker_fault.py).
@shared_task(name="realtime.broadcasts.sweep")
@cron_task(lock_timeout=10)
def broadcasts_sweep_task() -> dict[str, int]:
    """Beat: start due schedules, fire due fallback timers, complete finished runs, refresh counters."""
    from broadcasts.engine import broadcasts_sweep

    return broadcasts_sweep()
