"""Thin Celery wrappers of the channel-layer services (CONVENTIONS R7).

Names starting with ``realtime.`` or ``bulk.`` are routed to those queues (portal/celery.py): broadcasts submit
on the bulk queue so that a big campaign never delays a one-time password or a conversation reply.
"""

from __future__ import annotations

from typing import Any

from celery import shared_task

from portal.core.exceptions import TransientError
from portal.core.tasks import cron_task


@shared_task(name="realtime.channels_out.messages_submit", acks_late=True, autoretry_for=(TransientError,), retry_backoff=True, max_retries=5)  # fmt: skip
def messages_submit_realtime_task(company_id: int, message_ids: list[int]) -> int:
    """Submit a batch of queued messages (API, conversations, chatbots, system)."""
    from channels_out.services import messages_submit

    return messages_submit(company_id=company_id, message_ids=message_ids).submitted


@shared_task(name="bulk.channels_out.messages_submit", acks_late=True, autoretry_for=(TransientError,), retry_backoff=True, max_retries=5)  # fmt: skip
def messages_submit_bulk_task(company_id: int, message_ids: list[int]) -> int:
    """Submit a batch of queued broadcast messages."""
    from channels_out.services import messages_submit

    return messages_submit(company_id=company_id, message_ids=message_ids).submitted


@shared_task(name="realtime.channels_out.delivery_events_apply", acks_late=True)
def delivery_events_apply_task() -> int:
    """Apply every stored callback waiting, in batches."""
    from channels_out.services import delivery_events_apply

    return delivery_events_apply()


@shared_task(name="realtime.channels_out.inbound_dispatch", acks_late=True)
def inbound_dispatch_task(company_id: int, message_ids: list[int]) -> int:
    """Hand stored inbound messages to their subscribers."""
    from channels_out.services import messages_inbound_dispatch

    return messages_inbound_dispatch(company_id=company_id, message_ids=message_ids)


@shared_task(name="realtime.channels_out.simulated_reports_deliver", acks_late=True)
def simulated_reports_deliver_task() -> int:
    """Post the simulator callbacks that are due (scheduled with a countdown at submit time)."""
    from channels_out.services import simulated_reports_deliver

    return simulated_reports_deliver()


@shared_task(name="realtime.channels_out.simulated_reports_due")
@cron_task(lock_timeout=60)
def simulated_reports_due_task() -> int:
    """Beat: deliver due simulator callbacks whose countdown task was lost (restart, crash)."""
    from channels_out.services import simulated_reports_deliver

    return simulated_reports_deliver()


@shared_task(name="realtime.channels_out.upkeep")
@cron_task(lock_timeout=120)
def channels_upkeep_task() -> dict[str, int | bool]:
    """Beat: resume stuck queued messages, re-apply kept reports, expire silent messages, drain callbacks."""
    from channels_out import services

    return {
        "resumed": services.outbox_sweep(),
        "reconciled": services.unmatched_reconcile(),
        "expired": services.messages_expire(),
        "callbacks": services.callbacks_pending_kick(),
    }


@shared_task(name="realtime.channels_out.webhook_deliveries_create", acks_late=True)
def webhook_deliveries_create_task(company_id: int, changes: list[list[Any]]) -> int:
    """Turn status changes of API messages into customer webhook deliveries."""
    from channels_out.webhooks import webhook_deliveries_create

    return webhook_deliveries_create(company_id=company_id, changes=changes)


@shared_task(name="realtime.channels_out.webhook_deliveries_send", acks_late=True)
def webhook_deliveries_send_task() -> int:
    """Post the customer webhook deliveries that are due."""
    from channels_out.webhooks import webhook_deliveries_send

    return webhook_deliveries_send()


@shared_task(name="realtime.channels_out.webhook_upkeep")
@cron_task(lock_timeout=120)
def webhook_upkeep_task() -> dict[str, int]:
    """Beat: send due webhook deliveries whose countdown was lost; purge old idempotency keys."""
    from channels_out.webhooks import webhook_upkeep

    return webhook_upkeep()
