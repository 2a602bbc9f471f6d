"""Per-slot expression indexes on ``Contact.attributes`` (see the storage decision in ``contacts.models``).

The index for slot N, ``(company_id, (attributes -> 'aN'), id)``, serves sorting, keyset paging, range and
empty / non-empty filters on every company's N-th attribute. **Decision: it is built on demand**, the first time
a large company (more than :data:`LARGE_COMPANY` contacts) sorts or filters its contacts list that way
(:func:`contacts.services.attribute_indexes_request`), by a background job, ``CONCURRENTLY`` so that a million-row
table stays writable meanwhile; until it is there, that one query reads the company's rows without it
(``bench/bench_contacts_list.py``, 1M contacts: page 1 sorted by a number attribute 446 ms without the index,
12 ms with it; the build took 4.3 s; a target count with a range filter 176 ms without, 97 ms with).

Why not when an attribute is created, as before: every such index is paid by every insert of every company
(each one about 4.5 µs of the database's time per imported row; the five of the import benchmark were a third
of the import's database time, ``bench/bench_contacts_import.py``), and a small company never needs one (its
whole list sorts in memory in milliseconds). So a slot costs the imports only once some large company really
sorts or filters by an attribute in that slot. Slots are reused after a delete, so the number of these indexes
stays bounded by the largest attribute count of any company.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from django.core.cache import cache
from django.db import connection

from contacts.models import Contact, slot_key

# Above this many contacts, sorting or range-filtering by an attribute asks for its slot's index (see above).
LARGE_COMPANY = 20_000
# How long a queued build keeps other requests from queueing it again.
QUEUED_TTL = 900


def slot_index_name(slot: int) -> str:
    return f"contact_attr_{slot_key(slot)}_idx"


def slot_index_missing(slots: Iterable[int]) -> list[int]:
    """The slots among ``slots`` whose index is not built (or not valid) yet (one catalogue query)."""
    wanted = {slot_index_name(slot): slot for slot in set(slots)}
    if not wanted:
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
            " WHERE c.relname = ANY(%s) AND i.indisvalid",
            [list(wanted)],
        )
        built = {row[0] for row in cursor.fetchall()}
    return sorted(slot for name, slot in wanted.items() if name not in built)


def slot_index_exists(slot: int) -> bool:
    return not slot_index_missing([slot])


def company_is_large(company_id: int) -> bool:
    """More than LARGE_COMPANY contacts (an index-only scan that stops there)."""
    return (
        Contact.objects.filter(company_id=company_id).order_by()[: LARGE_COMPANY + 1].count() > LARGE_COMPANY
    )


def claim_build(slot: int) -> bool:
    """True for the one caller that should queue the build of ``slot`` (others within QUEUED_TTL get False)."""
    return bool(cache.add(f"contacts:slot-index-queued:{slot}", True, QUEUED_TTL))


def slot_index_ensure(slot: int) -> bool:
    """Create the index of ``slot`` unless it exists; return True when it was created.

    Side effects: DDL on contacts_contact. Inside a transaction (tests, a caller's atomic block) the index is built
    without ``CONCURRENTLY``, which PostgreSQL does not allow there. A failed concurrent build leaves an invalid
    index behind; it is dropped and built again.
    """
    with connection.cursor() as cursor:
        _build_lock(cursor)
        try:
            return _ensure(cursor, slot)
        finally:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [BUILD_LOCK])


BUILD_LOCK = 7101  # session advisory lock: one slot index build at a time
BUILD_LOCK_WAIT = (
    900.0  # seconds to wait for another build before giving up (the task fails and can be re-run)
)


def _build_lock(cursor: Any) -> None:
    """Take the build lock, polling.

    Two CREATE INDEX CONCURRENTLY on one table wait for each other's transaction and deadlock (seen when a new
    company's attributes queued two builds for the two bulk worker processes). Blocking in pg_advisory_lock would
    not help: the waiting statement holds a snapshot the running build waits for. Short try-lock statements with
    sleeps in between hold none for long.
    """
    deadline = time.monotonic() + BUILD_LOCK_WAIT
    while True:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [BUILD_LOCK])
        if cursor.fetchone()[0]:
            return
        if time.monotonic() > deadline:
            raise TimeoutError("another attribute index build is still running")
        time.sleep(0.5)


def _ensure(cursor: Any, slot: int) -> bool:
    name = slot_index_name(slot)
    key = slot_key(slot)
    concurrently = "" if connection.in_atomic_block else "CONCURRENTLY "
    cursor.execute(
        "SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = %s",
        [name],
    )
    row = cursor.fetchone()
    if row is not None and row[0]:
        return False
    if row is not None:
        cursor.execute(f'DROP INDEX {concurrently}IF EXISTS "{name}"')
    # The name and key come from an integer slot, never from user input.
    cursor.execute(
        f'CREATE INDEX {concurrently}IF NOT EXISTS "{name}" '
        f"ON contacts_contact (company_id, (attributes -> '{key}'), id)"
    )
    return True
