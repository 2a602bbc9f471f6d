"""The message state machine: the one place that decides whether a reported status may change a message.

queued → submitted → delivered → displayed, with the failure ends undelivered, failed and expired (issue 5 §3).
Reports arrive late, twice or out of order (a DLR before the submit response, "delivered" after "read"), so the
rule is "the furthest proven state wins", never a plain overwrite:

- A status equal to the current one is a duplicate: nothing changes.
- ``submitted`` only moves a ``queued`` message; a late submit response never undoes a report.
- ``delivered`` and ``displayed`` prove delivery, so they win over ``queued``/``submitted`` (a DLR may beat the
  submit response) and over ``undelivered``/``expired``. Guide §6.7 [GAP] decision: a late success after the
  waiting time is recorded (stats) without changing a fallback decision already taken.
- ``displayed`` is final; a ``delivered`` arriving after it is kept in the timeline only.
- ``undelivered`` and ``expired`` never undo a proven delivery.
- ``failed`` means the vendor refused the submit: nothing was sent, so only a ``queued`` message can fail, and a
  failed message never changes again.
"""

from __future__ import annotations

QUEUED = "queued"
SUBMITTED = "submitted"
DELIVERED = "delivered"
DISPLAYED = "displayed"
UNDELIVERED = "undelivered"
FAILED = "failed"
EXPIRED = "expired"

FINAL = frozenset({DELIVERED, DISPLAYED, UNDELIVERED, FAILED, EXPIRED})
# Which current states each target status may replace.
_ALLOWED_FROM: dict[str, frozenset[str]] = {
    SUBMITTED: frozenset({QUEUED}),
    DELIVERED: frozenset({QUEUED, SUBMITTED, UNDELIVERED, EXPIRED}),
    DISPLAYED: frozenset({QUEUED, SUBMITTED, DELIVERED, UNDELIVERED, EXPIRED}),
    UNDELIVERED: frozenset({QUEUED, SUBMITTED}),
    EXPIRED: frozenset({QUEUED, SUBMITTED}),
    FAILED: frozenset({QUEUED}),
}


def can_transition(current: str, new: str) -> bool:
    """Whether a message in ``current`` moves to ``new`` when a report says so."""
    return current in _ALLOWED_FROM.get(new, frozenset())
