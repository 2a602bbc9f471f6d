"""The e-mail adapter through a real SMTP server (aiosmtpd on 127.0.0.1): HTML and text parts, the open-tracking
pixel marking the message displayed, signed bounces marking it undelivered, SMTP refusals and outages."""

from __future__ import annotations

import email
import email.policy
import re
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from django.test import Client, override_settings

from channels_out import services
from channels_out.models import CallbackPayload, Connection, Message
from portal.tenants.models import Company

SECRET = "tracking-secret-0123456789"
Capture = Callable[..., AbstractContextManager[Any]]


class Inbox:
    """aiosmtpd handler: keeps every message; refuses recipients at ``@refused.test`` with 550."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[Envelope] = []
        self.port = 0

    async def handle_RCPT(  # noqa: N802  (aiosmtpd's hook name)
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        if address.endswith("@refused.test"):
            return "550 5.1.1 No such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802  (aiosmtpd's hook name)
        content = envelope.content if isinstance(envelope.content, bytes) else str(envelope.content).encode()
        self.messages.append(email.message_from_bytes(content, policy=email.policy.default))
        self.envelopes.append(envelope)
        return "250 Message accepted"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def inbox() -> Iterator[Inbox]:
    handler = Inbox()
    handler.port = _free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=handler.port)
    controller.start()
    try:
        yield handler
    finally:
        controller.stop()


@pytest.fixture
def smtp(company: Company, inbox: Inbox) -> Iterator[Connection]:
    connection = Connection(
        company=company, name="Mail", adapter_key="smtp", channels=["email"], sender_ids=["news@acme.test"],
        config={"host": "127.0.0.1", "port": inbox.port, "username": "", "password": "", "use_tls": False,
                "use_ssl": False, "tracking_secret": SECRET, "open_tracking": True, "from_name": "Acme News"},
    )  # fmt: skip
    with override_settings(PORTAL_PUBLIC_URL="http://testserver", PORTAL_VENDOR_HTTP_READ_TIMEOUT_MS=2000):
        yield services.connection_save(company=company, actor=None, connection=connection)


def _send(company: Company, capture: Capture, to: str = "anna@example.com", **payload: Any) -> Message:
    payload.setdefault("subject", "Spring sale")
    payload.setdefault("text", "Hello Anna, 20% off.")
    payload.setdefault("html", "<html><body><p>Hello <b>Anna</b>, 20% off.</p></body></html>")
    with capture(execute=True):
        message = services.message_send(
            company=company,
            actor=None,
            channel="email",
            sender_id="news@acme.test",
            to=to,
            payload=payload,
            origin="api",
        )
    message.refresh_from_db()
    return message


def _apply(capture: Capture) -> None:
    with capture(execute=True):
        services.delivery_events_apply()


def test_email_goes_out_over_smtp_with_html_and_text_parts(
    company: Company, smtp: Connection, inbox: Inbox, django_capture_on_commit_callbacks: Capture
) -> None:
    message = _send(company, django_capture_on_commit_callbacks)
    assert message.status == "submitted"
    assert message.connection == smtp
    assert message.vendor_message_id == f"{message.client_reference}@acme.test"
    [received] = inbox.messages
    assert received["Subject"] == "Spring sale"
    assert received["From"] == "Acme News <news@acme.test>"
    assert received["To"] == "anna@example.com"
    assert received["Message-ID"] == f"<{message.vendor_message_id}>"
    text = received.get_body(("plain",))
    html = received.get_body(("html",))
    assert text is not None
    assert html is not None
    assert text.get_content().strip() == "Hello Anna, 20% off."
    html_content = html.get_content()
    assert "<b>Anna</b>" in html_content
    assert re.search(
        rf'<img src="http://testserver/hooks/smtp/{smtp.uuid}/open/[^"]+\.gif" width="1"', html_content
    )


def test_open_pixel_marks_the_message_displayed(
    company: Company,
    smtp: Connection,
    inbox: Inbox,
    client: Client,
    django_capture_on_commit_callbacks: Capture,
) -> None:
    message = _send(company, django_capture_on_commit_callbacks)
    html = inbox.messages[0].get_body(("html",))
    assert html is not None
    pixel = re.search(r'<img src="http://testserver([^"]+)"', html.get_content())
    assert pixel is not None
    with django_capture_on_commit_callbacks(execute=True):
        response = client.get(pixel.group(1).replace("&amp;", "&"))
    assert response.status_code == 200
    assert response["Content-Type"] == "image/gif"
    assert response["Cache-Control"].startswith("no-store")
    _apply(django_capture_on_commit_callbacks)
    message.refresh_from_db()
    assert message.status == "displayed"
    assert message.displayed_at is not None
    assert "open" in set(message.events.values_list("raw_status", flat=True))


def test_forged_pixel_token_answers_the_gif_and_changes_nothing(
    company: Company,
    smtp: Connection,
    inbox: Inbox,
    client: Client,
    django_capture_on_commit_callbacks: Capture,
) -> None:
    message = _send(company, django_capture_on_commit_callbacks)
    response = client.get(f"/hooks/smtp/{smtp.uuid}/open/forged-token.gif")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/gif"
    message.refresh_from_db()
    assert message.status == "submitted"
    rejected = CallbackPayload.objects.get()
    assert (rejected.state, rejected.reason) == ("rejected", "The open-tracking token is not valid.")


def test_signed_bounce_marks_the_message_undelivered(
    company: Company,
    smtp: Connection,
    inbox: Inbox,
    client: Client,
    django_capture_on_commit_callbacks: Capture,
) -> None:
    message = _send(company, django_capture_on_commit_callbacks)
    adapter = services.adapter_for(smtp)
    body = (
        b'{"event": "bounce", "message_id": "<' + message.vendor_message_id.encode() + b'>", '
        b'"recipient": "anna@example.com", "code": "5.1.1", "reason": "mailbox unknown"}'
    )
    unsigned = client.post(f"/hooks/smtp/{smtp.uuid}/", body, content_type="application/json")
    assert unsigned.status_code == 401
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/hooks/smtp/{smtp.uuid}/", body, content_type="application/json",
            HTTP_SIGNATURE=adapter.sign(body),  # type: ignore[attr-defined]
        )  # fmt: skip
    assert response.status_code == 200
    _apply(django_capture_on_commit_callbacks)
    message.refresh_from_db()
    assert message.status == "undelivered"
    assert message.error_code == "5.1.1"


def test_refused_recipient_fails_the_message_permanently(
    company: Company, smtp: Connection, inbox: Inbox, django_capture_on_commit_callbacks: Capture
) -> None:
    message = _send(company, django_capture_on_commit_callbacks, to="ghost@refused.test")
    assert message.status == "failed"
    assert message.error_code == "550"
    assert inbox.messages == []


def test_smtp_server_down_is_a_transient_failure(
    company: Company, smtp: Connection, django_capture_on_commit_callbacks: Capture
) -> None:
    Connection.objects.filter(pk=smtp.pk).update(config={**smtp.config, "port": _free_port()})
    started = time.monotonic()
    message = _send(company, django_capture_on_commit_callbacks)
    assert message.status == "queued"
    assert message.lease_until is not None
    assert "SMTP failed: ConnectionRefusedError." in message.events.get(applied=False).note
    assert time.monotonic() - started < 5
