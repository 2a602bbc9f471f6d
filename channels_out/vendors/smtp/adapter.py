"""The e-mail adapter: real SMTP through Django's e-mail machinery, open tracking and bounces (guide §14).

It owns:

- sending: a multipart message with a text part and, when the payload has ``html``, an HTML alternative; the
  ``Message-ID`` is ``<client reference@sender domain>`` and is the vendor message id. SMTP accepting the message
  is ``submitted``; guide §14.1 "Display" needs open tracking, so the HTML part carries a 1x1 pixel whose URL holds
  a token signed with the connection's tracking secret.
- callbacks, through the one callback path of the channel layer:
  * ``{"event": "open", "token": ...}``, which the pixel view (channels_out/views.py ``email_open``) stores for
    each pixel load; the token is the signature, so an open needs no header (seed 004 §2.8.2 does not apply);
  * ``{"event": "bounce", "message_id", "code", "reason"}`` and ``{"event": "delivered", "message_id"}`` posted
    by the relay's bounce processor, signed like seed 004 §2.8.2: ``Signature`` = hex HMAC-SHA256 of the raw body
    under the tracking secret. A bounce marks the message undelivered with its enhanced status code (e.g. 5.1.1).

SMTP has no idempotency key: a resend after a worker crash between the SMTP answer and the database write sends a
second copy with the same Message-ID (receivers may drop it). That is this channel's documented limit.
"""

from __future__ import annotations

import datetime
import hmac
import json
import re
import smtplib
import socket
from collections.abc import Mapping
from html import unescape as html_unescape
from typing import Any, ClassVar
from urllib.parse import quote

from django.core import signing
from django.core.mail import EmailMultiAlternatives
from django.utils import timezone
from django.utils.html import escape, strip_tags

from channels_out.base import (
    AdapterError,
    CallbackItem,
    CallbackRejected,
    DeliveryEvent,
    OutboundMessage,
    ReportStatus,
    SubmitResult,
)
from channels_out.formats.simple import Email
from channels_out.http import header_get, hmac_sha256_hex
from channels_out.kinds import ChannelKind
from channels_out.vendors import message_format, unsupported
from channels_out.vendors.smtp.client import SmtpClient
from channels_out.vendors.smtp.forms import SmtpConfigForm

SIGNATURE_HEADER = "Signature"
OPEN_SALT = "channels_out.smtp.open"


class SmtpEmailAdapter:
    """E-mail through an SMTP relay."""

    key: ClassVar[str] = "smtp"
    channels: ClassVar[frozenset[ChannelKind]] = frozenset({ChannelKind.EMAIL})
    config_form: ClassVar[type[SmtpConfigForm]] = SmtpConfigForm
    scripted: ClassVar[bool] = False

    def __init__(self, config: Mapping[str, Any]) -> None:
        self._config = config
        self._client = SmtpClient(config)
        self._secret = str(config.get("tracking_secret", ""))
        # Set by services.adapter_for: the public URL of this connection's callback endpoint.
        self._callback_url = str(config.get("callback_url", ""))

    def check_credentials(self) -> None:
        """Open an SMTP session (and log in). Raises AdapterError."""
        try:
            self._client.check()
        except (smtplib.SMTPException, OSError) as exc:
            raise _adapter_error(exc) from exc

    # -- sending ----------------------------------------------------------------------------------------------

    def open_token(self, vendor_id: str) -> str:
        return signing.dumps(vendor_id, key=self._secret, salt=OPEN_SALT, compress=False)

    def pixel_url(self, vendor_id: str) -> str:
        return f"{self._callback_url}open/{quote(self.open_token(vendor_id))}.gif"

    def build(self, message: OutboundMessage) -> tuple[EmailMultiAlternatives, str]:
        """The e-mail of ``message`` and its vendor id (public for the tests)."""
        payload = message.payload
        design = message_format(message)  # guide §14: subject, subtitle, HTML and its plain-text part
        if design is not None and not isinstance(design, Email):
            raise unsupported(f"SMTP cannot send a {type(design).__name__} message.")
        subject = design.subject if design else str(payload.get("subject", ""))
        subtitle = design.subtitle if design else str(payload.get("subtitle") or "")
        html = design.html if design else str(payload.get("html") or "")
        text = design.text if design else message.text or ""
        if html and not text:
            text = plain_text_of(html)  # every e-mail keeps a plain-text part (multipart/alternative)
        domain = message.sender_id.rpartition("@")[2] or "portal.invalid"
        vendor_id = f"{message.client_reference}@{domain}"
        from_name = str(self._config.get("from_name") or "")
        sender = f"{from_name} <{message.sender_id}>" if from_name else message.sender_id
        headers = {"Message-ID": f"<{vendor_id}>", "X-Portal-Reference": message.client_reference}
        if subtitle:
            headers["X-Preheader"] = subtitle
        email = EmailMultiAlternatives(
            subject=subject,
            body=text,
            from_email=sender,
            to=[message.to],
            headers=headers,
            reply_to=[str(payload["reply_to"])] if payload.get("reply_to") else None,
        )
        if html:
            if self._config.get("open_tracking", True) and self._callback_url:
                pixel = (
                    f'<img src="{escape(self.pixel_url(vendor_id))}" width="1" height="1" alt="" '
                    'style="display:none">'
                )
                html = html.replace("</body>", pixel + "</body>") if "</body>" in html else html + pixel
            email.attach_alternative(html, "text/html")
        return email, vendor_id

    def send(self, message: OutboundMessage) -> SubmitResult:
        """Send ``message`` over SMTP.

        Side effects: one SMTP session. Raises AdapterError: permanent for 5xx answers and refused logins,
        transient for 4xx answers, timeouts and connection failures.
        """
        email, vendor_id = self.build(message)
        try:
            self._client.send(email)
        except (smtplib.SMTPException, OSError) as exc:
            raise _adapter_error(exc) from exc
        return SubmitResult(vendor_message_id=vendor_id, status="250", raw={"message_id": vendor_id})

    # -- callbacks --------------------------------------------------------------------------------------------

    def sign(self, body: bytes) -> str:
        return hmac_sha256_hex(self._secret, body)

    def verify_signature(self, body: bytes, headers: Mapping[str, str]) -> None:
        """Opens carry a signed token; bounce/delivery posts a ``Signature`` header. 401 unsigned, 403 wrong."""
        try:
            data = json.loads(body)
            event = str(data.get("event", ""))
        except (ValueError, AttributeError) as exc:
            raise CallbackRejected(f"Malformed e-mail callback: {exc!r}") from exc
        if event == "open":
            try:
                signing.loads(str(data.get("token", "")), key=self._secret, salt=OPEN_SALT)
            except signing.BadSignature as exc:
                raise CallbackRejected("The open-tracking token is not valid.", status=403) from exc
            return
        given = header_get(headers, SIGNATURE_HEADER)
        if not given:
            raise CallbackRejected("The callback is not signed.", status=401)
        if not self._secret or not hmac.compare_digest(given.strip().lower(), self.sign(body)):
            raise CallbackRejected("The callback signature does not match.", status=403)

    def parse_callback(self, body: bytes, headers: Mapping[str, str]) -> list[CallbackItem]:
        """Read an open, bounce or delivery notice into a DeliveryEvent. CallbackRejected if malformed."""
        try:
            data = json.loads(body)
            event = str(data["event"])
            at = _when(str(data.get("at") or ""))
            if event == "open":
                vendor_id = str(signing.loads(str(data["token"]), key=self._secret, salt=OPEN_SALT))
                return [DeliveryEvent(vendor_id, ReportStatus.DISPLAYED, at, raw_status="open")]
            vendor_id = str(data["message_id"]).strip("<>")
            if event == "bounce":
                code = str(data.get("code") or "5.0.0")[:32]
                return [
                    DeliveryEvent(
                        vendor_id, ReportStatus.UNDELIVERED, at, error_code=code, raw_status="bounce"
                    )
                ]
            if event == "delivered":
                return [DeliveryEvent(vendor_id, ReportStatus.DELIVERED, at, raw_status="delivered")]
            raise ValueError(f"unknown event {event!r}")
        except (ValueError, KeyError, TypeError, AttributeError, signing.BadSignature) as exc:
            raise CallbackRejected(f"Malformed e-mail callback: {exc!r}") from exc


def _when(value: str) -> datetime.datetime:
    if not value:
        return timezone.now()
    parsed = datetime.datetime.fromisoformat(value)
    if timezone.is_naive(parsed):
        raise ValueError("naive time")
    return parsed


def _adapter_error(exc: BaseException) -> AdapterError:
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return AdapterError(
            "The SMTP server refused the login.", permanent=True, vendor_code=str(exc.smtp_code)
        )
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _msg in exc.recipients.values()]
        code = codes[0] if codes else 550
        return AdapterError(
            f"The SMTP server refused the recipient ({code}).", permanent=code >= 500, vendor_code=str(code)
        )
    if isinstance(exc, smtplib.SMTPResponseException):
        code = int(exc.smtp_code)
        return AdapterError(f"The SMTP server answered {code}.", permanent=code >= 500, vendor_code=str(code))
    if isinstance(exc, socket.timeout | TimeoutError):
        return AdapterError("The SMTP server did not answer in time.", permanent=False, vendor_code="TIMEOUT")
    return AdapterError(f"SMTP failed: {type(exc).__name__}.", permanent=False)


_BLOCK_END = re.compile(r"(?i)<br\s*/?>|</(p|div|tr|h[1-6]|li|table)>")
_BLANKS = re.compile(r"\n\s*\n+")


def plain_text_of(html: str) -> str:
    """A readable plain-text part of an HTML e-mail: block ends become line breaks, tags and entities go."""
    text = html_unescape(strip_tags(_BLOCK_END.sub("\n", html)))
    lines = (" ".join(line.split()) for line in text.splitlines())
    return _BLANKS.sub("\n\n", "\n".join(lines)).strip()
