"""Per-slot expression indexes on ``Contact.attributes`` (see the storage decision in ``contacts.models``).

The index for slot N, ``(company_id, (attributes -> 'aN'), id)``, serves sorting, keyset paging and range filters
on every company's N-th attribute. It is created the first time any company uses slot N, by a background job,
``CONCURRENTLY`` so that a million-row table stays writable meanwhile.
"""

from __future__ import annotations

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
    name = slot_index_name(slot)
    key = slot_key(slot)
    concurrently = "" if connection.in_atomic_block else "CONCURRENTLY "
    with connection.cursor() as cursor:
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
