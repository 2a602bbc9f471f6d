"""Celery wrappers of the Contacts section (CONVENTIONS R7): ids in, one service call each.

Imports and exports run on the bulk queue (task names start with ``bulk.``), so a big file never delays a
one-time password or a conversation.
"""

from __future__ import annotations

from celery import shared_task

# An import of a million rows takes under a minute; the limits leave room for slow disks and busy databases.
IMPORT_TIME_LIMIT = 3600


@shared_task(name="bulk.contacts.attribute_index_ensure", acks_late=True)
def attribute_index_ensure_task(slot: int) -> bool:
    """Build the sort index of an attribute slot, asked for by a large company's sort or filter (contacts.indexes)."""
    from contacts.indexes import slot_index_ensure

    return slot_index_ensure(slot)


@shared_task(
    name="bulk.contacts.import_check",
    acks_late=True,
    time_limit=IMPORT_TIME_LIMIT,
    soft_time_limit=IMPORT_TIME_LIMIT - 60,
)
def contact_import_check_task(contact_import_id: int, company_id: int) -> None:
    """The dry run of an import (guide §8.2 steps 4-5): counts, samples and the rejected-rows report."""
    from contacts.services.imports import import_check

    import_check(contact_import_id=contact_import_id, company_id=company_id)


@shared_task(
    name="bulk.contacts.import_apply",
    acks_late=True,
    time_limit=IMPORT_TIME_LIMIT,
    soft_time_limit=IMPORT_TIME_LIMIT - 60,
)
def contact_import_apply_task(contact_import_id: int, company_id: int) -> None:
    """Import the checked file in one transaction (see contacts.services.imports)."""
    from contacts.services.imports import import_apply

    import_apply(contact_import_id=contact_import_id, company_id=company_id)


@shared_task(
    name="bulk.contacts.export_run",
    acks_late=True,
    time_limit=IMPORT_TIME_LIMIT,
    soft_time_limit=IMPORT_TIME_LIMIT - 60,
)
def contact_export_run_task(export_id: int, company_id: int) -> None:
    """Write the CSV or XLSX file of a contacts export."""
    from contacts.services.exports import export_run

    export_run(export_id=export_id, company_id=company_id)
