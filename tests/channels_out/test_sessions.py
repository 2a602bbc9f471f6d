"""Viber sessions and the WhatsApp 24-hour window (guide §12.2, §13.1; acceptance checks 64-66, 71)."""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any
from unittest import mock

import pytest
import time_machine
from django.db import connection as db
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from channels_out import services
from channels_out.models import ChannelSession, Connection, Message, SimulatorRule
from channels_out.services import OutgoingItem
from portal.tenants.models import Company
from tests.channels_out.conftest import MOBILE

Capture = Callable[..., AbstractContextManager[Any]]
OTHER = "+34612345679"


@pytest.fixture
def clock() -> Iterator[Callable[[float], None]]:
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        yield lambda seconds: traveller.shift(datetime.timedelta(seconds=seconds))


@pytest.fixture
def writes(simulator: Connection, django_capture_on_commit_callbacks: Capture) -> Callable[..., None]:
    """The customer writes to ACME on ``channel`` (through the vendor callback path and its worker)."""
    counter = iter(range(10**6))

    def write(channel: str = "viber", address: str = MOBILE) -> None:
        event = {"type": "inbound", "id": f"mo-{next(counter)}", "channel": channel, "from": address,
                 "to": "ACME", "text": "hi", "at": timezone.now().isoformat()}  # fmt: skip
        body = json.dumps({"events": [event]}).encode()
        signature = services.adapter_for(simulator).sign(body)  # type: ignore[attr-defined]
        with (
            mock.patch("channels_out.services.inbound.inbound_dispatch_task"),
            django_capture_on_commit_callbacks(execute=True),
        ):
            services.callback_store(connection=simulator, body=body, headers={"Signature": signature})

    return write


def _reply(company: Company, channel: str = "viber", to: str = MOBILE, origin: str = "conversation",
           payload: dict[str, Any] | None = None) -> Message:  # fmt: skip
    with mock.patch("channels_out.services.sending.messages_submit_realtime_task"):
        return services.message_send(
            company=company, actor=None, channel=channel, sender_id="ACME", to=to,
            payload=payload or {"text": "Hello"}, origin=origin,
        )  # fmt: skip


def test_viber_reply_without_a_customer_message_is_refused_and_recorded(
    company: Company, simulator: Connection
) -> None:
    message = _reply(company)
    assert (message.status, message.error_code) == ("failed", "VIBER-NO-SESSION")
    assert "24 hours" in message.error_text
    assert message.events.get().status == "failed"
    # A broadcast on Viber is an ordinary business message, not bound to a session.
    assert _reply(company, origin="broadcast").status == "queued"


def test_viber_tenth_consecutive_is_sent_the_eleventh_refused_until_the_customer_replies(
    company: Company, simulator: Connection, writes: Callable[..., None]
) -> None:
    writes()
    statuses = [_reply(company).status for _ in range(10)]
    assert statuses == ["queued"] * 10
    eleventh = _reply(company)
    assert (eleventh.status, eleventh.error_code) == ("failed", "VIBER-TOO-MANY")
    writes()
    assert _reply(company).status == "queued"
    session = ChannelSession.objects.get()
    assert (session.mt_count, session.consecutive_mt) == (11, 1)  # the refused one is not counted


def test_viber_sixtieth_ends_the_session_and_the_next_customer_message_starts_a_new_one(
    company: Company, simulator: Connection, writes: Callable[..., None]
) -> None:
    for _round in range(6):
        writes()
        items = [OutgoingItem("viber", "ACME", MOBILE, {"text": "x"}) for _ in range(10)]
        with mock.patch("channels_out.services.sending.messages_submit_realtime_task"):
            sent = services.message_send_batch(company=company, actor=None, origin="chatbot", items=items)
        assert {m.status for m in sent} == {"queued"}
    session = ChannelSession.objects.get()
    assert (session.mt_count, session.ended_at is not None) == (60, True)
    writes()  # the customer writes again: a new session (no id until the vendor issues one, count 0)
    session.refresh_from_db()
    assert (session.mt_count, session.ended_at, session.session_id) == (0, None, "")
    assert _reply(company).status == "queued"


def test_viber_sixty_first_is_refused_while_the_session_is_ended(
    company: Company, simulator: Connection, writes: Callable[..., None]
) -> None:
    writes()
    ChannelSession.objects.update(mt_count=59, consecutive_mt=0)
    assert _reply(company).status == "queued"  # the 60th
    sixty_first = _reply(company)
    assert (sixty_first.status, sixty_first.error_code) == ("failed", "VIBER-SESSION-ENDED")


def test_viber_window_edge_24_hours_after_the_customer_message(
    company: Company, simulator: Connection, writes: Callable[..., None], clock: Callable[[float], None]
) -> None:
    writes()
    clock(24 * 3600 - 1)
    assert _reply(company).status == "queued"
    clock(1)
    late = _reply(company)
    assert (late.status, late.error_code) == ("failed", "VIBER-NO-SESSION")
    writes()  # the window closed: a new session
    assert ChannelSession.objects.get().mt_count == 0
    assert _reply(company).status == "queued"


def test_viber_session_id_issued_by_the_vendor_is_kept_and_carried(
    company: Company,
    simulator: Connection,
    writes: Callable[..., None],
    script: Callable[..., SimulatorRule],
    django_capture_on_commit_callbacks: Capture,
) -> None:
    script(pattern="+34*", channel="viber", viber_session_id="viber-s-1", report="none")
    writes()
    with django_capture_on_commit_callbacks(execute=True):
        first = services.message_send(company=company, actor=None, channel="viber", sender_id="ACME", to=MOBILE,
                                      payload={"text": "a"}, origin="conversation")  # fmt: skip
    first.refresh_from_db()
    assert (first.status, first.vendor_session_id) == ("submitted", "viber-s-1")
    assert ChannelSession.objects.get().session_id == "viber-s-1"
    assert _reply(company).vendor_session_id == "viber-s-1"


def test_whatsapp_free_message_needs_the_window_unless_the_company_is_verified(
    company: Company, simulator: Connection, writes: Callable[..., None], clock: Callable[[float], None]
) -> None:
    Connection.objects.filter(pk=simulator.pk).update(whatsapp_verified=False)
    refused = _reply(company, channel="whatsapp", origin="broadcast")
    assert (refused.status, refused.error_code) == ("failed", "WA-WINDOW-CLOSED")
    template = _reply(
        company,
        channel="whatsapp",
        payload={"type": "template", "template": "order_ready", "text": "Your order"},
    )
    assert template.status == "queued"
    writes("whatsapp")
    clock(24 * 3600 - 1)
    assert _reply(company, channel="whatsapp").status == "queued"
    clock(1)
    assert _reply(company, channel="whatsapp").error_code == "WA-WINDOW-CLOSED"
    Connection.objects.filter(pk=simulator.pk).update(whatsapp_verified=True)
    assert _reply(company, channel="whatsapp").status == "queued"  # verified: may open with a free message


def test_a_batch_checks_sessions_in_a_constant_number_of_queries(
    company: Company, simulator: Connection, writes: Callable[..., None]
) -> None:
    Connection.objects.filter(pk=simulator.pk).update(whatsapp_verified=False)
    writes("whatsapp", MOBILE)

    def batch(n: int) -> int:
        items = [
            OutgoingItem("whatsapp", "ACME", MOBILE if i % 2 else OTHER, {"text": "x"}) for i in range(n)
        ]
        with (
            mock.patch("channels_out.services.sending.messages_submit_realtime_task"),
            CaptureQueriesContext(db) as queries,
        ):
            sent = services.message_send_batch(company=company, actor=None, origin="api", items=items)
        assert [m.status for m in sent] == ["failed" if i % 2 == 0 else "queued" for i in range(n)]
        return len(queries)

    assert batch(4) == batch(40)
