"""The message state machine: duplicates, late and out-of-order reports end in the right state."""

from __future__ import annotations

import pytest

from channels_out import states as s
from channels_out.states import can_transition


def _run(start: str, reports: list[str]) -> str:
    current = start
    for report in reports:
        if can_transition(current, report):
            current = report
    return current


@pytest.mark.parametrize(
    ("reports", "final"),
    [
        ([s.SUBMITTED, s.DELIVERED, s.DISPLAYED], s.DISPLAYED),
        ([s.DELIVERED, s.SUBMITTED], s.DELIVERED),  # DLR before the submit response
        ([s.SUBMITTED, s.DISPLAYED, s.DELIVERED], s.DISPLAYED),  # "read" before "delivered"
        ([s.SUBMITTED, s.DELIVERED, s.DELIVERED], s.DELIVERED),  # duplicate
        ([s.SUBMITTED, s.DELIVERED, s.UNDELIVERED], s.DELIVERED),  # stale failure after delivery
        ([s.SUBMITTED, s.UNDELIVERED, s.SUBMITTED], s.UNDELIVERED),
        ([s.SUBMITTED, s.EXPIRED, s.DELIVERED], s.DELIVERED),  # late success is recorded (guide §6.7)
        ([s.FAILED, s.DELIVERED, s.SUBMITTED], s.FAILED),  # refused at submit: nothing was sent
    ],
)
def test_final_state_of_a_report_sequence(reports: list[str], final: str) -> None:
    assert _run(s.QUEUED, reports) == final


def test_every_report_in_any_order_reaches_the_same_state() -> None:
    """Whatever order delivered and displayed arrive in, the message ends displayed."""
    import itertools

    for order in itertools.permutations([s.SUBMITTED, s.DELIVERED, s.DISPLAYED]):
        assert _run(s.QUEUED, list(order)) == s.DISPLAYED


def test_failed_only_from_queued() -> None:
    assert can_transition(s.QUEUED, s.FAILED)
    assert not can_transition(s.SUBMITTED, s.FAILED)
