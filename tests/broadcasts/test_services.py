"""Broadcast services against the database: validation, drafts, schedules, moderation, edit, copy, relaunch."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from broadcasts import services
from broadcasts.models import Broadcast, BroadcastRecipient
from broadcasts.services import BroadcastData, BroadcastStateError, ModerationRequiredError, StepData
from channels_out.models import Connection, Message
from contacts.models import Target
from contacts.services import tag_create, target_create
from portal.tenants.models import Company
from tests.broadcasts.conftest import Capture, rcs, sms
from tests.contacts.factories import make_contact

NUMBERS = ["+4915112345678", "+4915187654321"]


def _save(company: Company, action: str = "launch", **fields: Any) -> Broadcast:
    data = BroadcastData(name=fields.pop("name", "Run"), **fields)
    return services.broadcast_save(company=company, actor=None, data=data, action=action)


def _refused(company: Company, match: str, **fields: Any) -> ValidationError:
    with pytest.raises(ValidationError, match=match) as info:
        _save(company, **fields)
    assert not Broadcast.objects.exists()
    assert not Message.objects.exists()
    return info.value


def test_name_is_required(company: Company, simulator: Connection) -> None:
    """Inventory check 21: no name, nothing saved."""
    error = _refused(company, "Enter the broadcast name", name="  ", action="draft")
    assert "name" in error.message_dict


def test_launch_without_recipients_is_refused(company: Company, simulator: Connection) -> None:
    _refused(company, "Choose at least one recipient", steps=[sms()])


def test_launch_without_steps_is_refused(company: Company, simulator: Connection) -> None:
    _refused(company, "Add at least one step", numbers=NUMBERS)


def test_step_without_sender_id_is_refused_on_that_step(company: Company, simulator: Connection) -> None:
    """Inventory check 27."""
    error = _refused(
        company, "Choose a sender ID", numbers=NUMBERS, steps=[sms(), StepData(channel="sms", text="x")]
    )
    assert list(error.message_dict) == ["steps.1.sender_id"]


def test_sender_id_without_connection_is_refused(company: Company, simulator: Connection) -> None:
    _refused(
        company,
        "Sender ID NOPE is not set up for SMS",
        numbers=NUMBERS,
        steps=[StepData("sms", "NOPE", text="x")],
    )


def test_past_schedule_is_refused(company: Company, simulator: Connection) -> None:
    _refused(
        company,
        "The scheduled time has passed",
        numbers=NUMBERS,
        steps=[sms()],
        instantly=False,
        scheduled_for=timezone.now() - datetime.timedelta(minutes=1),
    )


def test_text_over_the_channel_limit_is_refused(company: Company, simulator: Connection) -> None:
    error = _refused(
        company,
        "1001 characters; Viber allows at most 1000",
        numbers=NUMBERS,
        steps=[StepData("viber", "ACME", text="x" * 1001)],
    )
    assert list(error.message_dict) == ["steps.0.text"]


def test_push_step_waiting_for_delivery_is_refused_even_in_a_draft(company: Company) -> None:
    """Inventory check 37 / guide §15: Push has no delivered status."""
    _refused(
        company,
        "Push has no Delivery status; wait for Submit",
        action="draft",
        steps=[StepData("push", "ACME", wait_for="delivery", text="Hi")],
    )


def test_waiting_time_outside_the_bounds_is_refused(company: Company) -> None:
    _refused(
        company, "between 10 seconds and 72 hours", action="draft", steps=[sms(wait_value=73, wait_unit="h")]
    )


def test_typed_numbers_are_normalised_and_deduplicated(company: Company) -> None:
    """Inventory check 22 and the §6.6 [GAP] decision: E.164 with the company's country, duplicates dropped."""
    company.default_country = "DE"
    numbers = services.numbers_clean(
        company=company, raw=["+4915112345678, 015187654321", "+49 151 12345678"]
    )
    assert numbers == NUMBERS
    with pytest.raises(ValidationError, match="12ab is not a valid phone number"):
        services.numbers_clean(company=company, raw=["+4915112345678, 12ab"])


def test_draft_may_be_incomplete_and_sends_nothing(company: Company) -> None:
    """Inventory check 24."""
    broadcast = _save(company, action="draft", steps=[StepData("sms")])
    assert broadcast.status == Broadcast.Status.DRAFT
    assert broadcast.steps.count() == 1
    assert not Message.objects.exists()


def test_future_schedule_waits_then_starts(
    company: Company, simulator: Connection, clock: Callable[[float], None], sweep: Callable[[], Any],
    django_capture_on_commit_callbacks: Capture,
) -> None:  # fmt: skip
    """Inventory check 25: Scheduled sends nothing before its time, then In progress with launch type Manual."""
    when = timezone.now() + datetime.timedelta(minutes=30)
    with django_capture_on_commit_callbacks(execute=True):
        broadcast = _save(company, numbers=NUMBERS, steps=[sms()], instantly=False, scheduled_for=when)
    assert broadcast.status == Broadcast.Status.SCHEDULED
    clock(29 * 60)
    sweep()
    assert not Message.objects.exists()
    clock(61)
    assert sweep()["scheduled"] == 1
    broadcast.refresh_from_db()
    assert broadcast.status in (Broadcast.Status.IN_PROGRESS, Broadcast.Status.COMPLETE)
    assert broadcast.launch_type == Broadcast.LaunchType.MANUAL
    assert Message.objects.filter(channel="sms").count() == 2


def test_moderation_refuses_a_direct_launch_and_approval_launches(
    company: Company, simulator: Connection, django_capture_on_commit_callbacks: Capture
) -> None:
    """Inventory check 29 and the §20.7 [GAP] decision."""
    company.moderation_required = True
    company.save()
    with pytest.raises(ModerationRequiredError, match="need moderation"):
        _save(company, numbers=NUMBERS, steps=[sms()])
    assert not Broadcast.objects.exists()
    draft = _save(company, action="draft", numbers=NUMBERS, steps=[sms()])
    with pytest.raises(ModerationRequiredError):
        services.broadcast_launch(company=company, actor=None, broadcast=draft)
    broadcast = _save(company, action="moderation", numbers=NUMBERS, steps=[sms()])
    assert broadcast.status == Broadcast.Status.ON_MODERATION
    assert not Message.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        services.broadcast_moderate(company=company, actor=None, broadcast=broadcast, approve=True)
    broadcast.refresh_from_db()
    assert broadcast.status in (Broadcast.Status.IN_PROGRESS, Broadcast.Status.COMPLETE)
    assert Message.objects.count() == 2


def test_rejection_returns_the_run_to_its_author(company: Company, simulator: Connection) -> None:
    company.moderation_required = True
    company.save()
    broadcast = _save(company, action="moderation", numbers=NUMBERS, steps=[sms()])
    services.broadcast_moderate(
        company=company, actor=None, broadcast=broadcast, approve=False, note="Too loud"
    )
    broadcast.refresh_from_db()
    assert (broadcast.status, broadcast.moderation_note) == (Broadcast.Status.REJECTED, "Too loud")
    assert broadcast.can_edit


def test_a_running_broadcast_cannot_be_edited(
    company: Company, simulator: Connection, launch: Callable[..., Broadcast]
) -> None:
    """Inventory check 14: the server refuses edits outside Draft and Scheduled."""
    broadcast = launch(numbers=NUMBERS, steps=[sms()])
    with pytest.raises(BroadcastStateError, match="Only Draft and Scheduled"):
        services.broadcast_save(
            company=company, actor=None, data=BroadcastData(name="New"), broadcast=broadcast, action="draft"
        )


def test_copy_keeps_name_recipients_and_chain(company: Company, simulator: Connection) -> None:
    """Inventory check 17."""
    original = _save(
        company, action="draft", name="Broadcast_500", description="d", numbers=NUMBERS, steps=[rcs(), sms()]
    )
    copy = services.broadcast_copy(company=company, actor=None, broadcast=original)
    assert copy.pk != original.pk
    assert (copy.name, copy.description, copy.numbers, copy.status) == (
        "Broadcast_500",
        "d",
        NUMBERS,
        "draft",
    )
    assert [(s.order, s.channel, s.content) for s in copy.steps.all()] == [
        (s.order, s.channel, s.content) for s in original.steps.all()
    ]
    original.refresh_from_db()
    assert original.numbers == NUMBERS


def test_target_and_tag_resolve_to_their_union_without_duplicates(
    company: Company, simulator: Connection, launch: Callable[..., Broadcast]
) -> None:
    """Inventory check 23."""
    tag = tag_create(company=company, actor=None, name="VIP")
    anna = make_contact(company, "+12015550101", first_name="Anna", tags=["VIP"])
    make_contact(company, "+12015550102", first_name="Anna")
    make_contact(company, "+12015550103", first_name="Bob", tags=["VIP"])
    target = target_create(
        company=company,
        actor=None,
        name="Annas",
        filters=[{"key": "first_name", "mode": "value", "q": "Anna"}],
    )
    broadcast = launch(
        numbers=[anna.phone, "+12015550199"], steps=[sms()], target_ids=[target.pk], tag_ids=[tag.pk]
    )
    assert broadcast.contacts == 4
    assert BroadcastRecipient.objects.filter(broadcast=broadcast, contact=anna).count() == 1
    assert Target.objects.get(pk=target.pk).launches == 1


def test_relaunch_for_failed_takes_exactly_the_unsuccessful(
    company: Company, simulator: Connection, script: Callable[..., Any], launch: Callable[..., Broadcast],
    django_capture_on_commit_callbacks: Capture,
) -> None:  # fmt: skip
    """Inventory check 15 and the §20.11 decision (outcome Unsuccessful, whatever step failed)."""
    script(pattern=NUMBERS[1], report="undelivered")
    script(pattern="*", report="delivered")
    broadcast = launch(numbers=NUMBERS, steps=[sms()])
    assert broadcast.status == Broadcast.Status.COMPLETE
    assert (broadcast.successful, broadcast.unsuccessful) == (1, 1)
    with django_capture_on_commit_callbacks(execute=True):
        run = services.broadcast_relaunch_failed(company=company, actor=None, broadcast=broadcast)
    assert run.relaunch_of_id == broadcast.pk
    assert list(BroadcastRecipient.objects.filter(broadcast=run).values_list("address", flat=True)) == [
        NUMBERS[1]
    ]
    assert Message.objects.filter(address=NUMBERS[1]).count() == 2


def test_relaunch_is_refused_unless_complete(company: Company, simulator: Connection) -> None:
    draft = _save(company, action="draft", numbers=NUMBERS, steps=[sms()])
    with pytest.raises(BroadcastStateError, match="Complete broadcasts only"):
        services.broadcast_relaunch_failed(company=company, actor=None, broadcast=draft)


def test_unverified_whatsapp_sender_cannot_open_with_a_free_message(
    company: Company, simulator: Connection
) -> None:
    """Inventory A acceptance 71 (guide §13.1): a free WhatsApp message as the opening step needs a verified sender;
    the same message as a later step, or with a verified connection, is accepted."""
    whatsapp = StepData(channel="whatsapp", sender_id="ACME", text="Hello")
    Connection.objects.filter(pk=simulator.pk).update(whatsapp_verified=False)
    error = _refused(company, "not verified by WhatsApp", numbers=["+34600000001"], steps=[whatsapp])
    assert list(error.message_dict) == ["steps.0.sender_id"]
    later = _save(company, numbers=["+34600000001"], steps=[sms(), whatsapp], action="draft")
    assert later.steps.count() == 2
    Connection.objects.filter(pk=simulator.pk).update(whatsapp_verified=True)
    assert _save(company, numbers=["+34600000001"], steps=[whatsapp], action="draft").pk
    # A sender no connection serves is not judged here (a draft may keep it; the launch names it as not set up).
    other = StepData(channel="whatsapp", sender_id="OTHER", text="Hello")
    assert _save(company, numbers=["+34600000001"], steps=[other], action="draft").pk
