"""Celery wrappers of the Contacts section (CONVENTIONS R7): ids in, one service call each."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="bulk.contacts.attribute_index_ensure", acks_late=True)
def attribute_index_ensure_task(slot: int) -> bool:
    """Build the sort index of an attribute slot when no company used it before (contacts.indexes)."""
    from contacts.indexes import slot_index_ensure

    return slot_index_ensure(slot)
