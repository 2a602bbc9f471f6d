"""Template tags of the Assets editors: the WhatsApp template chooser reads the company's Approved templates."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django import template

from assets import selectors
from assets.models import PLACEHOLDER, WhatsAppTemplate
from portal.accounts import permissions

register = template.Library()


def _params(values: Any, count: int, errors: Mapping[str, list[str]], key: str) -> list[dict[str, Any]]:
    given = list(values) if isinstance(values, list | tuple) else []
    given = (given + [""] * count)[:count]
    return [
        {"n": i + 1, "index": i, "value": value, "errors": errors.get(f"{key}.{i}", [])}
        for i, value in enumerate(given)
    ]


def _filled(text: str, values: list[dict[str, Any]]) -> str:
    by_number = {item["n"]: item["value"] or "{{" + str(item["n"]) + "}}" for item in values}
    return PLACEHOLDER.sub(lambda m: str(by_number.get(int(m.group(1)), m.group(0))), text)


@register.simple_tag(takes_context=True)
def whatsapp_template_editor(
    context: Any, data: Mapping[str, Any], errors: Mapping[str, list[str]]
) -> dict[str, Any]:
    """What the editor shows: the Approved templates of the request's company, the chosen one, its parameter inputs
    (exactly its counts, filled with the message's values) and the preview text with the values in place."""
    request = context.get("request")
    company = getattr(request, "company", None)
    approved: list[WhatsAppTemplate] = (
        list(selectors.whatsapp_template_approved(company=company)) if company is not None else []
    )
    name, language = str(data.get("name") or ""), str(data.get("language") or "en")
    chosen = next((t for t in approved if t.registered_name == name and t.language == language), None)
    header = _params(
        data.get("header_params"), chosen.header_param_count if chosen else 0, errors, "header_params"
    )
    body = _params(data.get("body_params"), chosen.body_param_count if chosen else 0, errors, "body_params")
    return {
        "choices": [
            (f"{t.registered_name}:{t.language}", f"{t.registered_name} ({t.language})") for t in approved
        ],
        "value": f"{name}:{language}" if name else "",
        "chosen": chosen,
        "unknown": bool(name) and chosen is None,
        "header": header,
        "body": body,
        "header_preview": _filled(chosen.header_text, header) if chosen else "",
        "body_preview": _filled(chosen.body, body) if chosen else "",
        "name_errors": list(errors.get("name", [])) + list(errors.get("language", [])),
        "header_errors": errors.get("header_params", []),
        "body_errors": errors.get("body_params", []),
    }


@register.filter
def may_use_content_templates(request: Any) -> bool:
    """Whether the request's role may save and pick content templates (Manage Content templates, guide §13.5)."""
    membership = getattr(request, "membership", None)
    return membership is not None and membership.has_perm(permissions.CONTENT_TEMPLATES_MANAGE)
