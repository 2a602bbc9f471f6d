"""``{% email_editor %}``: the e-mail block editor inside the message constructor (``channels_out.email_design``)."""

from __future__ import annotations

from typing import Any

from django import template

from channels_out.email_design.editor import editor_context

register = template.Library()


@register.inclusion_tag("channels_out/email_design/_editor.html", takes_context=True)
def email_editor(context: template.Context) -> dict[str, Any]:
    """Render the block editor from the constructor's context (``prefix``, ``data``, ``errors``, ``request``)."""
    return editor_context(
        context.get("request"),
        prefix=str(context["prefix"]),
        data=context.get("data") or {},
        errors=context.get("errors") or {},
    )
