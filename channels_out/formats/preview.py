"""The recipient's view of a constructor format, as an HTML partial (issue 8; the step editor swaps it in)."""

from __future__ import annotations

from django.template.loader import render_to_string
from django.utils.safestring import SafeString, mark_safe

from channels_out.formats.base import Format

TEMPLATE = "channels_out/formats/_preview.html"


def format_preview(fmt: Format) -> SafeString:
    """Render ``fmt`` as the handset would show it (RCS text, rich card, carousel, file; WhatsApp card)."""
    html = render_to_string(TEMPLATE, {"fmt": fmt, "channel": str(fmt.channel), "key": fmt.key})
    return mark_safe(html)  # noqa: S308  (render_to_string autoescapes every value)
