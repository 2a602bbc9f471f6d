"""The message pipeline through the simulator: submit, reports, failures, failover, exactly-once."""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any
from unittest import mock

import pytest
import time_machine
from django.conf import settings as django_settings
from django.utils import timezone

from channels_out import breaker, services
from channels_out.kinds import ChannelKind
from channels_out.models import CallbackPayload, Connection, Message, SimulatedReport, SimulatorRule
from channels_out.services import message_send, messages_submit, reports
from channels_out.tasks import channels_upkeep_task, simulated_reports_due_task
from channels_out.vendors.simulator.adapter import submit_count
from portal.tenants.models import Company
from tests.channels_out.conftest import MOBILE

Capture = Callable[..., AbstractContextManager[Any]]
Script = Callable[..., SimulatorRule]


def _send(company: Company, capture: Capture, **kw: Any) -> Message:
    args: dict[str, Any] = {
        "channel": ChannelKind.SMS,
        "sender_id": "ACME",
        "to": MOBILE,
        "payload": {"text": "Hello"},
        "origin": Message.Origin.API,
    }
    args.update(kw)
    with capture(execute=True):
        message = message_send(company=company, actor=None, **args)
    message.refresh_from_db()
    return message


def _statuses(message: Message) -> list[tuple[str, bool]]:
    return [(e.status, e.applied) for e in message.events.order_by("occurred_at", "id")]


@pytest.fixture
def later() -> Iterator[Callable[[float], None]]:
    """Move the clock forward and run the beat jobs, as a running beat would."""
    with time_machine.travel(timezone.now(), tick=False) as traveller:

        def advance(seconds: float) -> None:
            traveller.shift(datetime.timedelta(seconds=seconds))

        yield advance


def test_delivered_after_the_scripted_delay(
    company: Company,
    simulator: Connection,
    script: Script,
    django_capture_on_commit_callbacks: Capture,
    later: Callable[[float], None],
) -> None:
    script(report_delay_seconds=60)
    message = _send(company, django_capture_on_commit_callbacks)
    assert message.status == Message.Status.SUBMITTED
    assert message.connection == simulator
    assert message.vendor_message_id.startswith("sim-")
    report = SimulatedReport.objects.get()
    assert report.sent_at is None  # stored in PostgreSQL, not only in a countdown task
    later(30)
    with django_capture_on_commit_callbacks(execute=True):
        simulated_reports_due_task()
    message.refresh_from_db()
    assert message.status == Message.Status.SUBMITTED
    later(31)
    with django_capture_on_commit_callbacks(execute=True):
        simulated_reports_due_task()
    message.refresh_from_db()
    assert message.status == Message.Status.DELIVERED
    assert _statuses(message) == [("queued", True), ("submitted", True), ("delivered", True)]
    assert message.events.get(status="delivered").raw_status == "DELIVRD"


def test_displayed_then_late_delivered_keeps_displayed(
    company: Company, simulator: Connection, script: Script, django_capture_on_commit_callbacks: Capture
) -> None:
    script(report="displayed", report_delay_seconds=0, display_delay_seconds=0)
    message = _send(company, django_capture_on_commit_callbacks)
    assert message.status == Message.Status.DISPLAYED
    assert message.delivered_at is not None
    assert message.displayed_at is not None
    # The vendor repeats its "delivered" report afterwards: kept in the timeline, status unchanged.
    body = (
        services.adapter_for(simulator)
        .callback(  # type: ignore[attr-defined]
            0,
            [
                {
                    "type": "status",
                    "id": message.vendor_message_id,
                    "status": "delivered",
                    "at": timezone.now().isoformat(),
                }
            ],
        )
        .body
    )
    with django_capture_on_commit_callbacks(execute=True):
        services.callback_store(connection=simulator, body=body, headers=_signed(simulator, body))
    message.refresh_from_db()
    assert message.status == Message.Status.DISPLAYED
    assert _statuses(message)[-1] == ("delivered", False)


def _signed(connection: Connection, body: bytes) -> dict[str, str]:
    return {"Signature": services.adapter_for(connection).sign(body)}  # type: ignore[attr-defined]


def test_undelivered_report_maps_the_dlr_code_to_the_catalogue(
    company: Company, simulator: Connection, script: Script, django_capture_on_commit_callbacks: Capture
) -> None:
    script(report="undelivered", report_error_code="013")
    message = _send(company, django_capture_on_commit_callbacks)
    assert message.status == Message.Status.UNDELIVERED
    assert (message.error_code, message.error_text) == ("013", "Handset switched off.")


def test_permanent_submit_error_fails_without_retry(
    company: Company, simulator: Connection, script: Script, django_capture_on_commit_callbacks: Capture
) -> None:
    script(channel=ChannelKind.RCS, submit="ok", rcs_capable=False)
    message = _send(company, django_capture_on_commit_callbacks, channel=ChannelKind.RCS)
    assert message.status == Message.Status.FAILED
    assert message.error_code == "404"
    assert "recipient has not activated RCS" in message.error_text  # guide Appendix 1
    assert message.attempts == 1


def test_whatsapp_flags(
    company: Company, simulator: Connection, script: Script, django_capture_on_commit_callbacks: Capture
) -> None:
    script(pattern="+346*", channel=ChannelKind.WHATSAPP, whatsapp_verified=False)
    free = _send(company, django_capture_on_commit_callbacks, channel=ChannelKind.WHATSAPP)
    assert (free.status, free.error_code) == (Message.Status.FAILED, "WA-NOT-VERIFIED")
    template = _send(
        company,
        django_capture_on_commit_callbacks,
        channel=ChannelKind.WHATSAPP,
        payload={"type": "template", "template": {"name": "hello"}},
    )
    assert template.status == Message.Status.DELIVERED


def test_viber_session_id_is_recorded(
    company: Company, simulator: Connection, script: Script, django_capture_on_commit_callbacks: Capture
) -> None:
    script(channel=ChannelKind.VIBER, viber_session_id="vs-42", report="none")
    message = _send(company, django_capture_on_commit_callbacks, channel=ChannelKind.VIBER)
    assert (message.status, message.vendor_session_id) == (Message.Status.SUBMITTED, "vs-42")


def test_rcs_capability_check_follows_the_script(
    company: Company, simulator: Connection, script: Script
) -> None:
    script(pattern="+3461*", rcs_capable=False)
    assert services.rcs_capability_check(company=company, sender_id="ACME", to=MOBILE) is False
    assert services.rcs_capability_check(company=company, sender_id="ACME", to="+4915112345678") is True


def test_transient_errors_back_off_then_fail_after_max_attempts(
    company: Company,
    simulator: Connection,
    script: Script,
    django_capture_on_commit_callbacks: Capture,
    later: Callable[[float], None],
    settings: Any,
) -> None:
    settings.PORTAL_SUBMIT_MAX_ATTEMPTS = 2
    settings.PORTAL_BREAKER_FAILURES = 100
    script(submit="error", error_permanent=False, error_code="463")
    message = _send(company, django_capture_on_commit_callbacks)
    assert (message.status, message.attempts) == (Message.Status.QUEUED, 1)
    assert message.lease_until is not None
    later(5)
    with django_capture_on_commit_callbacks(execute=True):
        channels_upkeep_task()
    message.refresh_from_db()
    assert (message.status, message.attempts, message.error_code) == (Message.Status.FAILED, 2, "463")
    assert message.error_text == "Maximum sent limit reached."


def test_failover_to_the_next_connection_when_the_breaker_opens(
    company: Company,
    simulator: Connection,
    script: Script,
    django_capture_on_commit_callbacks: Capture,
    settings: Any,
) -> None:
    """Guide-level provider failover: repeated timeouts open the breaker, the backup carries the traffic."""
    settings.PORTAL_BREAKER_FAILURES = 2
    backup = services.simulator_connection_create(
        company=company, actor=None, name="Backup", sender_ids=["ACME"], priority=200
    )
    SimulatorRule.objects.create(company=company, connection=simulator, submit="timeout", order=1)
    script(order=2)  # every other connection: accepted and delivered at once
    with mock.patch.object(
        breaker, "breaker_record_failure", wraps=breaker.breaker_record_failure
    ) as failures:
        carried = [_send(company, django_capture_on_commit_callbacks) for _ in range(4)]
    assert [m.connection_id for m in carried] == [backup.pk] * 4
    assert all(m.status == Message.Status.DELIVERED for m in carried)
    assert all(m.attempts == 1 for m in carried)  # the failover happened inside one attempt
    # Two timeouts opened the breaker: messages 3 and 4 never tried the failing connection.
    assert failures.call_count == 2
    assert not breaker.breaker_allows(connection_id=simulator.pk)
    assert breaker.breaker_allows(connection_id=backup.pk)


def test_a_crash_after_the_vendor_accepted_never_submits_twice(
    company: Company,
    simulator: Connection,
    script: Script,
    django_capture_on_commit_callbacks: Capture,
    later: Callable[[float], None],
) -> None:
    """The worker dies between the vendor's answer and the commit: the retry reuses the client reference."""
    script(report_delay_seconds=0)
    with (
        mock.patch("channels_out.services.sending._submit_record", side_effect=SystemExit("worker killed")),
        pytest.raises(SystemExit),
    ):
        _send(company, django_capture_on_commit_callbacks)
    message = Message.objects.get()
    assert (message.status, message.attempts, submit_count()) == (Message.Status.QUEUED, 1, 1)
    # Another worker finds it leased and leaves it alone.
    assert messages_submit(company_id=company.pk, message_ids=[message.pk]).claimed == 0
    later(django_settings.PORTAL_SUBMIT_LEASE_SECONDS + 1)
    with django_capture_on_commit_callbacks(execute=True):
        channels_upkeep_task()
    message.refresh_from_db()
    assert message.status == Message.Status.DELIVERED
    assert message.attempts == 2
    assert submit_count() == 1  # the simulated vendor accepted it once


def test_a_committed_message_whose_task_was_lost_is_resumed(
    company: Company,
    simulator: Connection,
    django_capture_on_commit_callbacks: Capture,
    later: Callable[[float], None],
) -> None:
    with mock.patch("channels_out.services.sending.messages_submit_realtime_task"):
        message = _send(company, django_capture_on_commit_callbacks)
    assert message.status == Message.Status.QUEUED
    later(31)
    with django_capture_on_commit_callbacks(execute=True):
        channels_upkeep_task()
    message.refresh_from_db()
    assert message.status == Message.Status.SUBMITTED


def test_submit_claims_each_message_once(company: Company, simulator: Connection) -> None:
    with mock.patch("channels_out.services.sending.messages_submit_realtime_task"):
        ids = [
            message_send(company=company, actor=None, channel="sms", sender_id="ACME", to=MOBILE,
                         payload={"text": str(i)}, origin="api").pk
            for i in range(5)
        ]  # fmt: skip
    first = messages_submit(company_id=company.pk, message_ids=ids)
    again = messages_submit(company_id=company.pk, message_ids=ids)
    assert (first.claimed, first.submitted, again.claimed) == (5, 5, 0)
    assert submit_count() == 5


def test_expired_when_no_final_report_arrives(
    company: Company,
    simulator: Connection,
    script: Script,
    django_capture_on_commit_callbacks: Capture,
    later: Callable[[float], None],
) -> None:
    script(report="none")
    message = _send(company, django_capture_on_commit_callbacks)
    later(73 * 3600)
    channels_upkeep_task()
    message.refresh_from_db()
    assert message.status == Message.Status.EXPIRED
    assert message.error_text == "No final report arrived within the message validity."


def test_payloads_are_applied_in_one_batch(
    company: Company, simulator: Connection, script: Script, django_capture_on_commit_callbacks: Capture
) -> None:
    script(report="none")
    messages = [_send(company, django_capture_on_commit_callbacks) for _ in range(3)]
    adapter = services.adapter_for(simulator)
    for m in messages:
        body = adapter.callback(  # type: ignore[attr-defined]
            0,
            [
                {
                    "type": "status",
                    "id": m.vendor_message_id,
                    "status": "delivered",
                    "at": timezone.now().isoformat(),
                }
            ],
        ).body
        services.callback_store(connection=simulator, body=body, headers=_signed(simulator, body))
    assert CallbackPayload.objects.filter(state="received").count() == 3
    with mock.patch("channels_out.services.reports._reports_apply", wraps=reports._reports_apply) as apply:
        assert services.delivery_events_apply() == 3
    assert apply.call_count == 1  # one connection, one batch: one pass over the messages
    assert set(Message.objects.values_list("status", flat=True)) == {"delivered"}
