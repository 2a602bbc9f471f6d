"""Vendor adapters, one package per vendor (CONVENTIONS R6), and what they share about constructor formats."""

from __future__ import annotations

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError

from channels_out.base import AdapterError, OutboundMessage
from channels_out.formats import Format, payload_format

# Catalogue codes (channels_out.errors.PORTAL_ERRORS) of the refusals an adapter makes before any vendor call.
INVALID_CONTENT = "INVALID-CONTENT"
FORMAT_UNSUPPORTED = "FORMAT-UNSUPPORTED"


def message_format(message: OutboundMessage) -> Format | None:
    """The constructor format ``message`` carries (``None`` for a plain payload), validated again.

    The sending services validated it already; an adapter checks again because a stored payload may predate a
    limit. Raises a permanent AdapterError (``INVALID-CONTENT``, naming the field paths) before any HTTP call.
    """
    try:
        return payload_format(message.channel, message.payload)
    except ValidationError as exc:
        fields = "; ".join(
            " ".join(items) if path == NON_FIELD_ERRORS else f"{path}: {' '.join(items)}"
            for path, items in exc.message_dict.items()
        )
        raise AdapterError(f"Invalid message: {fields}", permanent=True, vendor_code=INVALID_CONTENT) from exc


def unsupported(reason: str) -> AdapterError:
    """The permanent error of a format or file type this vendor cannot send (``FORMAT-UNSUPPORTED``)."""
    return AdapterError(reason, permanent=True, vendor_code=FORMAT_UNSUPPORTED)
