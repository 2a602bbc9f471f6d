"""One-time codes for two-factor sign-in (guide §17.2): generation, keyed hashing, TOTP and SMS sending.

SMS leave through a small pluggable interface: ``sms_send(company=, phone=, text=)`` hands the message to the
sender named by ``settings.PORTAL_OTP_SMS_SENDER``. The default, ``ChannelSender``, sends through the channel
layer (issue 5): an SMS ``Message`` of origin ``system`` (one-time codes and notifications, realtime queue) over
the company's SMS connections, so the code is priced, counted and logged like any message (its text is hidden in
the message log: ``payload["sensitive"]``). In development the simulator connection "delivers" it.
``SimulatorSender`` (outbox ``SimulatedSms``, nothing sent) remains for a portal without any connection; never
use it in production, because the outbox holds the plain codes.
"""

from __future__ import annotations

import base64
import io
import logging
import secrets
import time
from typing import TYPE_CHECKING, Protocol

import pyotp
from django.conf import settings
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _

if TYPE_CHECKING:
    from portal.tenants.models import Company

logger = logging.getLogger(__name__)

CODE_DIGITS = 6
RECOVERY_CODE_COUNT = 10
# Unambiguous upper-case letters and digits (no 0/O, 1/I/L) so a code copied from paper reads back right.
_RECOVERY_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
_HMAC_SALT = "portal.accounts.otp"


class SmsSender(Protocol):
    """Delivers one text message. Raises an exception when the message could not be handed over."""

    def send(self, *, company: Company | None, phone: str, text: str) -> None: ...


class SimulatorSender:
    """Development sender: records the message in the ``SimulatedSms`` outbox and the log, sends nothing."""

    def send(self, *, company: Company | None, phone: str, text: str) -> None:
        from portal.accounts.models import SimulatedSms

        if company is not None:
            SimulatedSms.objects.create(company=company, phone=phone, text=text)
        logger.info("Simulated SMS to %s: %s", phone, text)


class ChannelSender:
    """Sends through ``channels_out.services.message_send`` (traffic: origin ``system``, realtime queue).

    The sender ID is ``settings.PORTAL_OTP_SMS_SENDER_ID``, or when empty the first sender ID of the company's
    first enabled SMS connection (priority order). Raises ``ApplicationError`` when the company has no SMS
    connection (or none serving that sender) and ValidationError for a number the channel layer refuses.
    """

    def send(self, *, company: Company | None, phone: str, text: str) -> None:
        from channels_out.models import Connection, Message
        from channels_out.services import message_send
        from portal.core.exceptions import ApplicationError

        if company is None:
            raise ApplicationError(_("A sign-in code by SMS needs the account to belong to a company."))
        sender_id = str(settings.PORTAL_OTP_SMS_SENDER_ID)
        if not sender_id:
            first = (
                Connection.objects.filter(company=company, enabled=True, channels__contains=["sms"])
                .exclude(sender_ids=[])
                .order_by("priority", "id")
                .values_list("sender_ids", flat=True)
                .first()
            )
            if not first:
                raise ApplicationError(_("No SMS connection is set up to send sign-in codes."))
            sender_id = first[0]
        message_send(
            company=company, actor=None, channel="sms", sender_id=sender_id, to=phone,
            payload={"text": text, "sensitive": True}, origin=Message.Origin.SYSTEM,
        )  # fmt: skip


def sms_send(*, company: Company | None, phone: str, text: str) -> None:
    """Hand one SMS to the configured sender (``settings.PORTAL_OTP_SMS_SENDER``)."""
    sender_class = import_string(str(settings.PORTAL_OTP_SMS_SENDER))
    sender: SmsSender = sender_class()
    sender.send(company=company, phone=phone, text=text)


def code_generate() -> str:
    """Return a uniformly random 6-digit code from the OS CSPRNG."""
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def code_hash(*, user_id: int, purpose: str, code: str) -> str:
    """Keyed hash of a code, bound to its user and purpose so a leaked table cannot be looked up in advance."""
    return salted_hmac(_HMAC_SALT, f"{user_id}:{purpose}:{code}", algorithm="sha256").hexdigest()


def code_matches(*, expected_hash: str, user_id: int, purpose: str, code: str) -> bool:
    return constant_time_compare(expected_hash, code_hash(user_id=user_id, purpose=purpose, code=code))


def normalize_code(raw: str) -> str:
    """Drop spaces and dashes people type inside codes; upper-case recovery codes."""
    return "".join(ch for ch in raw if ch.isalnum()).upper()


def recovery_codes_generate() -> list[str]:
    """Return fresh recovery codes shaped ``XXXXX-XXXXX`` (about 49 bits each)."""
    codes = []
    for _n in range(RECOVERY_CODE_COUNT):
        raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _i in range(10))
        codes.append(f"{raw[:5]}-{raw[5:]}")
    return codes


def totp_secret_generate() -> str:
    return pyotp.random_base32()


def totp_counter(*, secret: str, code: str, now: float | None = None) -> int | None:
    """Return the time step a TOTP ``code`` belongs to (this one or a neighbour, for clock drift), else None."""
    if not code.isdigit() or len(code) != CODE_DIGITS:
        return None
    totp = pyotp.TOTP(secret)
    moment = time.time() if now is None else now
    current = totp.timecode(int(moment))
    for counter in (current, current - 1, current + 1):
        if constant_time_compare(totp.generate_otp(counter), code):
            return counter
    return None


def totp_provisioning_uri(*, secret: str, account: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=account, issuer_name=str(settings.PORTAL_OTP_ISSUER))


def qr_data_uri(text: str) -> str:
    """Render ``text`` as a QR code SVG data URI (drawn on the server: no CDN, no script)."""
    import qrcode
    import qrcode.image.svg

    image = qrcode.make(text, image_factory=qrcode.image.svg.SvgPathFillImage, box_size=8, border=2)
    buffer = io.BytesIO()
    image.save(buffer)
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode()
