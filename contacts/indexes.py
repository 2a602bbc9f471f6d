"""Per-slot expression indexes on ``Contact.attributes`` (see the storage decision in ``contacts.models``).

The index for slot N, ``(company_id, (attributes -> 'aN'), id)``, serves sorting, keyset paging and range filters
on every company's N-th attribute. It is created the first time any company uses slot N, by a background job,
``CONCURRENTLY`` so that a million-row table stays writable meanwhile.
"""

from __future__ import annotations

import time
from typing import Any

from django.db import connection

from contacts.models import slot_key


def slot_index_name(slot: int) -> str:
    return f"contact_attr_{slot_key(slot)}_idx"


def slot_index_exists(slot: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_indexes WHERE indexname = %s", [slot_index_name(slot)])
        return cursor.fetchone() is not None


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
