"""The message constructor's server-side model: one frozen dataclass per (channel, format) (issue 8, guide §9-§17).

Broadcast steps, conversations, chatbots and notification templates store a message as JSON keyed by its format,
``{"rich_card": {...}}``; this package validates and reads that JSON (``message_from_json``), names every failing
field by its path (``cards.1.title``), and gives the adapters typed values to translate to their vendor's wire
format. An ``OutboundMessage.payload`` carries one as ``{"format": <key>, "content": {...}}`` (``payload_format``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from channels_out.formats import rcs, simple, viber, whatsapp  # noqa: F401  (registers the formats)
from channels_out.formats.base import FORMATS, Format, join
from channels_out.kinds import ChannelKind

__all__ = [
    "FORMATS",
    "Format",
    "content_errors",
    "message_from_json",
    "payload_format",
    "sent_format_key",
]


def message_from_json(channel: str, key: str, data: Any) -> Format:
    """Validate ``data`` as format ``key`` of ``channel``. Raises ValidationError (paths relative to ``data``)."""
    cls = FORMATS.get((channel, key))
    if cls is None:
        label = ChannelKind(channel).label if channel in ChannelKind.values else channel
        raise ValidationError(
            {"format": [_("%(channel)s has no %(format)s format.") % {"channel": label, "format": key}]}
        )
    return cls.from_json(data)


def content_errors(
    channel: str, content: Mapping[str, Any], *, prefix: str = "", skip: frozenset[str] = frozenset()
) -> dict[str, list[str]]:
    """The errors of every format in a stored ``{format_key: data}`` message, keyed ``<prefix>.<key>.<path>``."""
    errors: dict[str, list[str]] = {}
    for key, data in content.items():
        if key in skip:
            continue
        try:
            message_from_json(channel, key, data)
        except ValidationError as exc:
            for path, messages in exc.message_dict.items():
                where = join(join(prefix, key), path) if path != "format" else join(prefix, key)
                errors.setdefault(where, []).extend(messages)
    return errors


def payload_format(channel: str, payload: Mapping[str, Any]) -> Format | None:
    """The format an ``OutboundMessage.payload`` carries (``None`` for a plain payload). ValidationError if bad."""
    key = payload.get("format")
    if not key:
        return None
    return message_from_json(channel, str(key), payload.get("content") or {})


def sent_format_key(channel: str, content: Mapping[str, Any]) -> str | None:
    """Which format of a stored ``{format_key: data}`` message is sent; ``None`` sends the plain ``text`` entry.

    The plain entry (``{"text": {"text", "title" | "subject" | "header"}}``) is every step's text form, kept for the
    SMS-like channels and the message log. A constructor format of the channel next to it is what the recipient
    gets (the constructor stores the one the user picked; with several, the first in the guide's order of §11-§17
    wins). An RCS text with suggestion chips is sent as the ``text`` format, since the plain form has no chips.
    """
    keys = [key for (kind, key) in FORMATS if kind == channel and key != "text" and key in content]
    if keys:
        return keys[0]
    plain = content.get("text")
    if (channel, "text") in FORMATS and isinstance(plain, Mapping) and plain.get("suggestions"):
        return "text"
    return None
