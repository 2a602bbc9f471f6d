"""The waiting time of a step runs from the submit, not from the outbox (inventory A §6.7 [GAP] decision in
broadcasts.engine.effective_deadline): a message held in the portal's own queue does not lose its waiting time."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

from django.utils import timezone

from broadcasts import engine, services
from broadcasts.models import BroadcastAttempt, BroadcastRecipient
from broadcasts.services import BroadcastData
from channels_out.models import Connection, Message
from channels_out.services import messages_submit
from portal.tenants.models import Company
from tests.broadcasts.conftest import Capture, rcs, sms

A = "+34612000001"
MINUTE = datetime.timedelta(minutes=1)


def _sent() -> list[tuple[str, str]]:
    return list(Message.objects.filter(address=A).order_by("id").values_list("channel", "status"))


def test_a_step_queued_past_its_deadline_waits_its_full_time_after_the_submit(
    company: Company,
    simulator: Connection,
    script: Callable[..., Any],
    clock: Callable[[float], None],
    django_capture_on_commit_callbacks: Capture,
) -> None:
    """RCS (10 min) → SMS. The RCS message sits in the outbox for 11 minutes (its submit task has not run): at
    the 10-minute mark nothing falls back; submitted at minute 11, the RCS step times out at minute 21, not before,
    and then exactly one SMS goes out."""
    script(channel="rcs", report="none")
    script(channel="sms", report="delivered")
    with django_capture_on_commit_callbacks(execute=False):  # fan-out, engine and submits are run by hand
        broadcast = services.broadcast_save(
            company=company,
            actor=None,
            data=BroadcastData(name="Queued", numbers=[A], steps=[rcs(wait_value=10), sms()]),
            action="launch",
        )
    engine.broadcast_fan_out(company_id=company.pk, broadcast_id=broadcast.pk)

    def advance(recipient_ids: list[int] | None = None) -> int:
        return engine.recipients_advance(
            company_id=company.pk, broadcast_id=broadcast.pk, recipient_ids=recipient_ids
        )

    advance()
    attempt = BroadcastAttempt.objects.get(broadcast=broadcast)
    fired = attempt.started_at
    assert _sent() == [("rcs", "queued")]

    clock(10 * 60 + 1)
    advance()
    attempt.refresh_from_db()
    assert attempt.state == BroadcastAttempt.State.WAITING  # still in the outbox: no fallback
    assert attempt.deadline_at == timezone.now() + 10 * MINUTE
    assert _sent() == [("rcs", "queued")]

    clock(59)  # minute 11: the submit happens; its report makes the engine judge the step again
    assert attempt.message_id is not None
    messages_submit(company_id=company.pk, message_ids=[attempt.message_id])
    recipient = BroadcastRecipient.objects.get(broadcast=broadcast)
    BroadcastRecipient.objects.filter(pk=recipient.pk).update(next_check_at=timezone.now())
    advance([recipient.pk])
    attempt.refresh_from_db()
    assert attempt.deadline_at == fired + 21 * MINUTE
    assert _sent() == [("rcs", "submitted")]

    clock(9 * 60 + 58)  # 2 s before minute 21: still waiting
    assert advance() == 0
    clock(3)
    advance()
    attempt.refresh_from_db()
    assert attempt.state == BroadcastAttempt.State.TIMED_OUT
    assert _sent() == [("rcs", "submitted"), ("sms", "queued")]
