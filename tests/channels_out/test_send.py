"""message_send: validation errors, number facts, idempotent references, one submit task per batch."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any
from unittest import mock

import pytest
from django.core.exceptions import ValidationError
from django.test import override_settings

from channels_out.kinds import ChannelKind
from channels_out.models import Connection, Message
from channels_out.services import OutgoingItem, UnknownSenderError, message_send, message_send_batch
from portal.tenants.models import Company
from tests.channels_out.conftest import LANDLINE, MOBILE


def _send(company: Company, **kw: object) -> Message:
    args: dict[str, object] = {
        "channel": ChannelKind.SMS,
        "sender_id": "ACME",
        "to": MOBILE,
        "payload": {"text": "Hello"},
        "origin": Message.Origin.API,
    }
    args.update(kw)
    return message_send(company=company, actor=None, **args)  # type: ignore[arg-type]


def test_queued_sms_records_number_facts_and_segments(company: Company, simulator: Connection) -> None:
    """A number without prefix is read in the company's default country (guide: Company.default_country)."""
    Company.objects.filter(pk=company.pk).update(default_country="ES")
    company.refresh_from_db()
    with mock.patch("channels_out.services.sending.messages_submit_realtime_task"):
        message = _send(company, to="612 34 56 78", payload={"text": "a" * 161})
    assert message.status == Message.Status.QUEUED
    assert message.address == MOBILE
    assert (message.country, message.operator) == ("ES", "Syma")  # phonenumbers + its carrier data
    assert (message.encoding, message.segments) == ("gsm7", 2)
    assert message.direction == Message.Direction.MT
    assert message.traffic_type == Message.TrafficType.A2P
    assert message.events.get().status == Message.Status.QUEUED


def test_invalid_and_landline_numbers_are_refused_clearly(company: Company, simulator: Connection) -> None:
    with pytest.raises(ValidationError, match="12 is not a valid phone number"):
        _send(company, to="12")
    with pytest.raises(ValidationError, match=r"\+34912345678 is not a mobile number; SMS needs one"):
        _send(company, to=LANDLINE)
    assert not Message.objects.exists()


def test_unknown_sender_is_refused(company: Company, simulator: Connection) -> None:
    with pytest.raises(UnknownSenderError, match="Sender ID OTHER is not set up for SMS"):
        _send(company, sender_id="OTHER")


def test_disabled_or_foreign_connections_do_not_serve_a_sender(
    company: Company, other_company: Company, simulator: Connection
) -> None:
    with pytest.raises(UnknownSenderError):
        _send(other_company)  # ACME belongs to the other company's connections only
    Connection.objects.filter(pk=simulator.pk).update(enabled=False)
    with pytest.raises(UnknownSenderError):
        _send(company)


@pytest.mark.parametrize(
    ("channel", "payload", "message"),
    [
        (ChannelKind.VIBER, {"text": "v" * 1001}, "The text has 1001 characters; Viber allows at most 1000."),
        (
            ChannelKind.WHATSAPP,
            {"text": "w" * 4097},
            "The text has 4097 characters; WhatsApp allows at most 4096.",
        ),
        (
            ChannelKind.RCS,
            {"text": "hi", "title": "t" * 201},
            "The title has 201 characters; RCS allows at most 200.",
        ),
        (
            ChannelKind.SMS,
            {"text": "a" * (153 * 10 + 1)},
            "The text needs 11 SMS parts; at most 10 are allowed.",
        ),
        (ChannelKind.MOBILE_PUSH, {"text": "body"}, "A mobile push needs both a header and a text."),
        (ChannelKind.PUSH, {}, "A push needs a picture, a header or a text."),
    ],
)
def test_text_over_the_channel_limit_is_refused(
    company: Company, simulator: Connection, channel: str, payload: dict[str, str], message: str
) -> None:
    to = "device-token-1" if channel in (ChannelKind.PUSH, ChannelKind.MOBILE_PUSH) else MOBILE
    with pytest.raises(ValidationError) as info:
        _send(company, channel=channel, payload=payload, to=to)
    assert message in info.value.messages


def test_limits_themselves_are_accepted(company: Company, simulator: Connection) -> None:
    with mock.patch("channels_out.services.sending.messages_submit_realtime_task"):
        assert _send(company, channel=ChannelKind.VIBER, payload={"text": "v" * 1000}).text == "v" * 1000
        assert _send(company, channel=ChannelKind.WHATSAPP, payload={"text": "w" * 4096}).pk


def test_same_client_reference_returns_the_same_message(company: Company, simulator: Connection) -> None:
    with mock.patch("channels_out.services.sending.messages_submit_realtime_task"):
        first = _send(company, client_reference="order-17")
        again = _send(company, client_reference="order-17", payload={"text": "changed"})
    assert again.pk == first.pk
    assert Message.objects.count() == 1


def test_batch_enqueues_one_task_per_batch_on_the_bulk_queue(
    company: Company,
    simulator: Connection,
    django_capture_on_commit_callbacks: Callable[..., AbstractContextManager[Any]],
) -> None:
    items = [OutgoingItem(ChannelKind.SMS, "ACME", f"+3461234{i:04d}", {"text": "Hi"}) for i in range(7)]
    with (
        override_settings(PORTAL_SUBMIT_BATCH_SIZE=3),
        mock.patch("channels_out.services.sending.messages_submit_bulk_task") as task,
        django_capture_on_commit_callbacks(execute=True),
    ):
        rows = message_send_batch(company=company, actor=None, origin=Message.Origin.BROADCAST, items=items)
    assert len(rows) == 7
    assert [len(call.args[1]) for call in task.delay.call_args_list] == [3, 3, 1]


def test_batch_names_the_failing_items(company: Company, simulator: Connection) -> None:
    items = [
        OutgoingItem(ChannelKind.SMS, "ACME", MOBILE, {"text": "ok"}),
        OutgoingItem(ChannelKind.SMS, "ACME", "nope", {"text": "ok"}),
    ]
    with pytest.raises(ValidationError) as info:
        message_send_batch(company=company, actor=None, origin=Message.Origin.API, items=items)
    assert info.value.message_dict == {"1.to": ["nope is not a valid phone number."]}
    assert not Message.objects.exists()
