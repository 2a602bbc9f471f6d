"""Checks on what the product asks to send: the recipient address and the payload of each channel.

Pure functions (no queries): ``services.message_send`` calls them and turns their ValidationError into the
caller's error. Limits are the guide's channel matrix (inventory A §18) and its recorded [GAP] decisions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import phonenumbers
from django.conf import settings
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.core.validators import validate_email
from django.utils.translation import gettext as _
from phonenumbers import PhoneNumberType, carrier

from channels_out.formats import payload_format
from channels_out.kinds import ChannelKind
from channels_out.sms import sms_info

PHONE_CHANNELS = frozenset(
    {ChannelKind.SMS, ChannelKind.RCS, ChannelKind.VIBER, ChannelKind.WHATSAPP, ChannelKind.TTS}
)
# TTS calls any phone; the messaging channels need a mobile line.
MOBILE_CHANNELS = frozenset({ChannelKind.SMS, ChannelKind.RCS, ChannelKind.VIBER, ChannelKind.WHATSAPP})
MOBILE_TYPES = frozenset({PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE})

# Inventory A §18 (and §20.9 [GAP] decisions where the guide gives no maximum).
TEXT_LIMITS: dict[str, int] = {
    ChannelKind.RCS: 2000,  # rich card text, §11.2
    ChannelKind.VIBER: 1000,  # §12.1
    ChannelKind.WHATSAPP: 4096,  # §13.2 Text
    ChannelKind.TTS: 1000,  # §16 [GAP] suggestion
    ChannelKind.PUSH: 1000,  # [GAP] not given; a push body longer than this is cut by every platform
    ChannelKind.MOBILE_PUSH: 1000,  # [GAP] as push
}
TITLE_LIMITS: dict[str, int] = {ChannelKind.RCS: 200}  # rich card title, §11.2


@dataclass(frozen=True)
class Address:
    value: str  # E.164 for phones, lower-cased e-mail, the app id otherwise
    country: str = ""
    operator: str = ""


def address_normalize(channel: str, raw: str, *, default_country: str = "") -> Address:
    """Read ``raw`` as the channel's address kind. Raises ValidationError with a message the user can act on."""
    raw = (raw or "").strip()
    if not raw:
        raise ValidationError(_("The recipient is empty."), code="recipient_empty")
    if channel in PHONE_CHANNELS:
        try:
            number = phonenumbers.parse(raw, default_country.upper() or None)
        except phonenumbers.NumberParseException as exc:
            raise ValidationError(
                _("%(value)s is not a valid phone number."), code="invalid_number", params={"value": raw}
            ) from exc
        if not phonenumbers.is_valid_number(number):
            raise ValidationError(
                _("%(value)s is not a valid phone number."), code="invalid_number", params={"value": raw}
            )
        if channel in MOBILE_CHANNELS and phonenumbers.number_type(number) not in MOBILE_TYPES:
            raise ValidationError(
                _("%(value)s is not a mobile number; %(channel)s needs one."),
                code="not_mobile",
                params={"value": raw, "channel": ChannelKind(channel).label},
            )
        return Address(
            value=phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164),
            country=phonenumbers.region_code_for_number(number) or "",
            operator=carrier.name_for_number(number, "en") or "",
        )
    if channel == ChannelKind.EMAIL:
        validate_email(raw)
        return Address(value=raw.lower())
    if len(raw) > 254:
        raise ValidationError(_("The recipient id is longer than 254 characters."), code="recipient_long")
    return Address(value=raw)


def payload_text(channel: str, payload: Mapping[str, Any]) -> str:
    """Return the payload's body text after checking it against the channel's limits (ValidationError).

    Two payload shapes: a constructor format ``{"format": key, "content": {...}}`` (issue 8, every channel but
    SMS), checked by its format model (guide §11-§17 limits) and summed up as one line for the message log and
    search; or the plain shape ``{"text": ..., "subject" | "header" | "title": ...}`` checked below.
    """
    if not isinstance(payload, Mapping):
        raise ValidationError(_("The payload must be an object."), code="payload_type")
    if payload.get("format"):
        return _format_summary(channel, payload)
    text = payload.get("text", "")
    if not isinstance(text, str):
        raise ValidationError(_("The text must be a string."), code="payload_type")
    if channel == ChannelKind.SMS:
        if not text:
            raise ValidationError(_("An SMS needs a text."), code="text_required")
        info = sms_info(text)
        limit = settings.PORTAL_SMS_MAX_SEGMENTS
        if info.segments > limit:
            raise ValidationError(
                _("The text needs %(n)s SMS parts; at most %(max)s are allowed."),
                code="text_too_long",
                params={"n": info.segments, "max": limit},
            )
        return text
    if channel == ChannelKind.PUSH:
        # Guide §15: at least one of picture, header or body.
        if not (text or payload.get("header") or payload.get("image_url")):
            raise ValidationError(_("A push needs a picture, a header or a text."), code="push_empty")
    elif channel == ChannelKind.MOBILE_PUSH:
        # Guide §17: header and body are both required.
        if not (text and payload.get("header")):
            raise ValidationError(
                _("A mobile push needs both a header and a text."), code="mobile_push_empty"
            )
    elif channel == ChannelKind.EMAIL:
        if not payload.get("subject"):
            raise ValidationError(_("An e-mail needs a subject."), code="subject_required")
        if not (text or payload.get("html")):
            raise ValidationError(_("An e-mail needs a text or an HTML body."), code="text_required")
    elif channel == ChannelKind.WHATSAPP and payload.get("type") == "template":
        if not payload.get("template"):
            raise ValidationError(
                _("A WhatsApp template message needs its template."), code="template_required"
            )
    elif not text and not payload.get("media_url"):
        raise ValidationError(_("The message needs a text."), code="text_required")
    text_limit = TEXT_LIMITS.get(channel)
    if text_limit is not None and len(text) > text_limit:
        raise ValidationError(
            _("The text has %(n)s characters; %(channel)s allows at most %(max)s."),
            code="text_too_long",
            params={"n": len(text), "channel": ChannelKind(channel).label, "max": text_limit},
        )
    title = payload.get("title", "")
    title_limit = TITLE_LIMITS.get(channel)
    if title_limit is not None and isinstance(title, str) and len(title) > title_limit:
        raise ValidationError(
            _("The title has %(n)s characters; %(channel)s allows at most %(max)s."),
            code="title_too_long",
            params={"n": len(title), "channel": ChannelKind(channel).label, "max": title_limit},
        )
    return text


def _format_summary(channel: str, payload: Mapping[str, Any]) -> str:
    """Validate a ``{"format", "content"}`` payload; every error message names its field path."""
    if channel == ChannelKind.SMS:
        raise ValidationError(_("An SMS has no message formats; send a text."), code="payload_type")
    if not isinstance(payload.get("content"), Mapping):
        raise ValidationError(_("The message content must be an object."), code="payload_type")
    try:
        fmt = payload_format(channel, payload)
    except ValidationError as exc:
        messages = [
            message if path in (NON_FIELD_ERRORS, "format") else
            _("%(field)s: %(message)s") % {"field": path, "message": message}
            for path, items in exc.message_dict.items()
            for message in items
        ]  # fmt: skip
        raise ValidationError(messages, code="invalid_content") from exc
    if fmt is None:  # pragma: no cover - "format" was checked above
        raise ValidationError(_("The message needs a text."), code="text_required")
    return fmt.summary()
