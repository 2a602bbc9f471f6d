"""The shared token bucket and the circuit breaker, on the test run's Redis."""

from __future__ import annotations

import threading
import time
from typing import Any

from channels_out.breaker import breaker_allows, breaker_record_failure, breaker_record_success
from channels_out.throttle import throttle_reserve


def test_bucket_never_gives_more_than_n_slots_in_any_second() -> None:
    """Four threads share one connection limited to 20/s; sends at their reserved times, 2 s of traffic."""
    rate, sends, lock = 20, [], threading.Lock()
    deadline = time.monotonic() + 2.0

    def worker() -> None:
        while time.monotonic() < deadline:
            wait = throttle_reserve(connection_id=9001, rate=rate)
            assert wait is not None
            time.sleep(wait)
            with lock:
                sends.append(time.monotonic())

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    sends.sort()
    assert len(sends) >= 2 * rate  # the limit is reached, not just respected
    worst = max(sum(1 for s in sends if start <= s < start + 1.0) for start in sends)
    assert worst <= rate * 1.05


def test_bucket_refuses_slots_beyond_the_max_wait_and_unlimited_is_free() -> None:
    assert throttle_reserve(connection_id=9002, rate=0) == 0.0
    waits = [throttle_reserve(connection_id=9002, rate=1, max_wait=2.5) for _ in range(4)]
    assert waits[0] == 0.0
    assert waits[1] is not None
    assert 0.9 < waits[1] <= 1.0
    assert waits[3] is None  # the 4th slot is 3 s away: not reserved, the message is deferred


def test_breaker_opens_after_repeated_failures_and_half_opens(settings: Any) -> None:
    settings.PORTAL_BREAKER_FAILURES = 3
    settings.PORTAL_BREAKER_COOLDOWN_SECONDS = 1
    assert breaker_allows(connection_id=7)
    assert [breaker_record_failure(connection_id=7) for _ in range(3)] == [False, False, True]
    assert not breaker_allows(connection_id=7)
    time.sleep(1.1)
    assert breaker_allows(connection_id=7)  # half-open: one trial goes through
    assert breaker_record_failure(connection_id=7) is True  # the trial failed: open again at once
    assert not breaker_allows(connection_id=7)
    time.sleep(1.1)
    breaker_record_success(connection_id=7)
    assert breaker_allows(connection_id=7)
    assert breaker_record_failure(connection_id=7) is False  # closed again: counting starts over


def test_a_success_resets_the_failure_count(settings: Any) -> None:
    settings.PORTAL_BREAKER_FAILURES = 2
    breaker_record_failure(connection_id=8)
    breaker_record_success(connection_id=8)
    assert breaker_record_failure(connection_id=8) is False
    assert breaker_allows(connection_id=8)
