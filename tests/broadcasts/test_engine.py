"""The fallback engine with the simulator and a frozen clock (guide §6.7; inventory checks 31-36, 78)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import IntegrityError, transaction

from broadcasts import engine, services
from broadcasts.models import Broadcast, BroadcastAttempt, BroadcastRecipient
from broadcasts.services import StepData
from channels_out.models import Connection, Message
from channels_out.vendors.simulator.adapter import submit_count
from contacts.services import contact_optout_set
from portal.tenants.models import Company
from tests.broadcasts.conftest import Capture, rcs, sms
from tests.contacts.factories import make_attribute, make_contact

A, B = "+34612000001", "+34612000002"
Clock = Callable[[float], None]
Sweep = Callable[[], dict[str, int]]
Script = Callable[..., Any]
Launch = Callable[..., Broadcast]


def _recipient(broadcast: Broadcast, address: str) -> BroadcastRecipient:
    return BroadcastRecipient.objects.get(broadcast=broadcast, address=address)


def _sent(address: str) -> list[tuple[str, str]]:
    return list(Message.objects.filter(address=address).order_by("id").values_list("channel", "status"))


def test_sms_delivered_makes_the_recipient_successful_and_the_run_complete(
    company: Company, simulator: Connection, script: Script, launch: Launch
) -> None:
    script(report="delivered")
    broadcast = launch(numbers=[A], steps=[sms()])
    assert _recipient(broadcast, A).state == BroadcastRecipient.State.SUCCESSFUL
    assert broadcast.status == Broadcast.Status.COMPLETE
    assert broadcast.finished_at is not None
    assert (broadcast.contacts, broadcast.initiated, broadcast.successful) == (1, 1, 1)


def test_rcs_timeout_sends_exactly_one_sms(
    company: Company, simulator: Connection, script: Script, launch: Launch, clock: Clock, sweep: Sweep
) -> None:
    """Inventory check 31: no RCS report within 10 minutes → one SMS; the outcome follows the SMS."""
    script(channel="rcs", report="none")
    script(channel="sms", report="delivered")
    broadcast = launch(numbers=[A], steps=[rcs(wait_value=10), sms()])
    clock(9 * 60 + 59)
    sweep()
    assert _sent(A) == [("rcs", "submitted")]
    clock(2)
    sweep()
    sweep()
    assert _sent(A) == [("rcs", "submitted"), ("sms", "delivered")]
    recipient = _recipient(broadcast, A)
    assert recipient.state == BroadcastRecipient.State.SUCCESSFUL
    rcs_attempt = BroadcastAttempt.objects.get(recipient=recipient, step__channel="rcs")
    assert rcs_attempt.state == BroadcastAttempt.State.TIMED_OUT
    assert rcs_attempt.reason == "No Delivery status on RCS within 10 minutes."


def test_rcs_delivered_in_time_never_sends_sms(
    company: Company, simulator: Connection, script: Script, launch: Launch, clock: Clock, sweep: Sweep
) -> None:
    """Inventory check 32: delivered at minute 3 → Successful, no SMS ever."""
    script(channel="rcs", report="delivered", report_delay_seconds=180)
    broadcast = launch(numbers=[A], steps=[rcs(wait_value=10), sms()])
    clock(181)
    sweep()
    clock(3600)
    sweep()
    assert _sent(A) == [("rcs", "delivered")]
    assert _recipient(broadcast, A).state == BroadcastRecipient.State.SUCCESSFUL


def test_submit_step_succeeds_on_the_submit_response(
    company: Company, simulator: Connection, script: Script, launch: Launch
) -> None:
    """Inventory check 33."""
    script(report="none")
    broadcast = launch(numbers=[A], steps=[sms(wait_for="submit"), StepData("viber", "ACME", text="x")])
    assert _recipient(broadcast, A).state == BroadcastRecipient.State.SUCCESSFUL
    assert _sent(A) == [("sms", "submitted")]


def test_display_step_is_not_satisfied_by_delivered(
    company: Company, simulator: Connection, script: Script, launch: Launch, clock: Clock, sweep: Sweep
) -> None:
    """Inventory check 34: delivered alone is not Display; after the window the next step fires."""
    script(channel="viber", report="delivered")
    script(channel="sms", report="delivered")
    broadcast = launch(
        numbers=[A], steps=[StepData("viber", "ACME", wait_for="display", wait_value=1, text="x"), sms()]
    )
    assert _sent(A) == [("viber", "delivered")]
    clock(61)
    sweep()
    assert _sent(A) == [("viber", "delivered"), ("sms", "delivered")]
    assert _recipient(broadcast, A).state == BroadcastRecipient.State.SUCCESSFUL


def test_undelivered_moves_on_at_once_and_last_failure_is_unsuccessful(
    company: Company, simulator: Connection, script: Script, launch: Launch
) -> None:
    """Inventory §6.7 [GAP] decision and check 35: no waiting after a definite failure."""
    script(report="undelivered", report_error_code="013")
    broadcast = launch(numbers=[A], steps=[rcs(wait_value=10), sms(wait_value=10)])
    assert _sent(A) == [("rcs", "undelivered"), ("sms", "undelivered")]
    recipient = _recipient(broadcast, A)
    assert recipient.state == BroadcastRecipient.State.UNSUCCESSFUL
    assert recipient.reason == "SMS Undelivered: Handset switched off."
    assert broadcast.status == Broadcast.Status.COMPLETE
    assert broadcast.unsuccessful == 1


def test_opted_out_contact_skips_that_channel_with_a_reason(
    company: Company, simulator: Connection, script: Script, launch: Launch
) -> None:
    script(report="delivered")
    contact = make_contact(company, A)
    contact_optout_set(company=company, actor=None, contact=contact, channel="rcs")
    broadcast = launch(numbers=[A], steps=[rcs(), sms()])
    assert _sent(A) == [("sms", "delivered")]
    skipped = BroadcastAttempt.objects.get(recipient__broadcast=broadcast, step__channel="rcs")
    assert (skipped.state, skipped.reason, skipped.message_id) == ("skipped", "Opted out of RCS.", None)


def test_opted_out_of_every_step_ends_unsuccessful(
    company: Company, simulator: Connection, launch: Launch
) -> None:
    contact = make_contact(company, A)
    contact_optout_set(company=company, actor=None, contact=contact, channel="sms", sender_id="ACME")
    broadcast = launch(numbers=[A], steps=[sms()])
    recipient = _recipient(broadcast, A)
    assert (recipient.state, recipient.reason) == ("unsuccessful", "Opted out of SMS.")
    assert not Message.objects.exists()
    assert broadcast.status == Broadcast.Status.COMPLETE


def test_address_less_step_is_skipped(
    company: Company, simulator: Connection, script: Script, launch: Launch
) -> None:
    """A typed number has no e-mail: the e-mail step is skipped, the SMS goes out."""
    script(report="delivered")
    broadcast = launch(numbers=[A], steps=[StepData("email", "ACME", text="x", title="Hi"), sms()])
    assert _sent(A) == [("sms", "delivered")]
    skipped = BroadcastAttempt.objects.get(recipient__broadcast=broadcast, step__channel="email")
    assert skipped.reason == "No e-mail address."


def test_rcs_capability_check_skips_rcs_for_incapable_numbers(
    company: Company, simulator: Connection, script: Script, launch: Launch
) -> None:
    """Inventory check 36 [design decision]."""
    script(pattern=B, channel="rcs", rcs_capable=False)
    script(report="delivered")
    broadcast = launch(numbers=[A, B], steps=[rcs(), sms()], rcs_check=True)
    assert _sent(A) == [("rcs", "delivered")]
    assert _sent(B) == [("sms", "delivered")]
    assert _recipient(broadcast, B).rcs_capable is False
    assert BroadcastAttempt.objects.get(recipient__address=B, step__channel="rcs").reason == (
        "Not RCS capable (capability check)."
    )


def test_personalisation_fills_contact_attributes(
    company: Company, simulator: Connection, script: Script, launch: Launch
) -> None:
    """Inventory check 78: "Hello {{first_name}}" reaches Anna as "Hello Anna"."""
    script(report="delivered")
    city = make_attribute(company, "City", "text")
    make_contact(company, A, first_name="Anna", attributes={city.key: "Madrid"})
    launch(numbers=[A, B], steps=[sms("Hello {{first_name}} from {{ city }}{{unknown}}")])
    assert Message.objects.get(address=A).text == "Hello Anna from Madrid"
    assert Message.objects.get(address=B).text == "Hello  from "


def test_pause_freezes_and_resume_keeps_the_remaining_time(
    company: Company, simulator: Connection, script: Script, launch: Launch, clock: Clock, sweep: Sweep,
    django_capture_on_commit_callbacks: Capture,
) -> None:  # fmt: skip
    """Inventory check 16 and the §6.7 [GAP] pause decision."""
    script(channel="rcs", report="none")
    script(channel="sms", report="delivered")
    broadcast = launch(numbers=[A], steps=[rcs(wait_value=10), sms()])
    clock(4 * 60)
    services.broadcast_pause(company=company, actor=None, broadcast=broadcast)
    attempt = BroadcastAttempt.objects.get(step__channel="rcs")
    assert attempt.remaining_seconds == pytest.approx(6 * 60)
    clock(3 * 3600)
    sweep()
    assert _sent(A) == [("rcs", "submitted")]  # nothing more while paused
    with django_capture_on_commit_callbacks(execute=True):
        services.broadcast_resume(company=company, actor=None, broadcast=broadcast)
    clock(5 * 60 + 59)
    sweep()
    assert _sent(A) == [("rcs", "submitted")]
    clock(2)
    sweep()
    sweep()
    assert _sent(A) == [("rcs", "submitted"), ("sms", "delivered")]
    broadcast.refresh_from_db()
    assert broadcast.status == Broadcast.Status.COMPLETE


def test_abort_stops_everything(
    company: Company, simulator: Connection, script: Script, launch: Launch, clock: Clock, sweep: Sweep
) -> None:
    script(report="none")
    broadcast = launch(numbers=[A], steps=[rcs(wait_value=10), sms()])
    services.broadcast_abort(company=company, actor=None, broadcast=broadcast)
    clock(3600)
    sweep()
    assert _sent(A) == [("rcs", "submitted")]
    broadcast.refresh_from_db()
    assert (broadcast.status, broadcast.unsuccessful) == (Broadcast.Status.ABORTED, 1)


def test_never_twice(
    company: Company, simulator: Connection, script: Script, launch: Launch, clock: Clock, sweep: Sweep,
    django_capture_on_commit_callbacks: Capture,
) -> None:  # fmt: skip
    """A repeated fan-out, repeated reports and sweeps, and a direct second attempt never send a step twice."""
    script(channel="rcs", report="none")
    script(channel="sms", report="delivered")
    broadcast = launch(numbers=[A, B], steps=[rcs(wait_value=10), sms()])
    with django_capture_on_commit_callbacks(execute=True):
        assert engine.broadcast_fan_out(company_id=company.pk, broadcast_id=broadcast.pk) == 0
        ids = list(Message.objects.values_list("pk", flat=True))
        engine.broadcast_statuses_apply(company_id=company.pk, message_ids=ids)
        engine.broadcast_statuses_apply(company_id=company.pk, message_ids=ids)
    clock(601)
    for _tick in range(3):
        sweep()
    with django_capture_on_commit_callbacks(execute=True):
        engine.broadcast_statuses_apply(
            company_id=company.pk, message_ids=list(Message.objects.values_list("pk", flat=True))
        )
    assert Message.objects.count() == 4
    assert submit_count() == 4
    assert BroadcastRecipient.objects.filter(broadcast=broadcast).count() == 2
    recipient = _recipient(broadcast, A)
    step = broadcast.steps.get(channel="sms")
    with pytest.raises(IntegrityError), transaction.atomic():
        BroadcastAttempt.objects.create(
            company=company,
            broadcast=broadcast,
            recipient=recipient,
            step=step,
            started_at=recipient.created_at,
        )


def test_rcs_capability_check_mode_records_capability(
    company: Company, simulator: Connection, script: Script, launch: Launch
) -> None:
    script(pattern=B, channel="rcs", rcs_capable=False)
    broadcast = launch(numbers=[A, B], steps=[rcs()], type=Broadcast.Type.RCS_CHECK)
    assert (_recipient(broadcast, A).state, _recipient(broadcast, B).state) == ("successful", "unsuccessful")
    assert not Message.objects.exists()
