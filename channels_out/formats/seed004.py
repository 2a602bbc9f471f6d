"""The send API's message shapes (seed 004 E075 Viber, E090 WhatsApp) read into constructor formats (issue 8).

``/api/v1/viber/message/send`` and ``/api/v1/whatsapp/message/send`` take the seed's ``message`` object,
``{"type": ..., "payload": {...}}``, in the same shapes the CPaaS adapter sends to the vendor. This module maps
each rich shape to its format's JSON, so an API message is validated, stored, logged and serialised exactly like
one composed in the portal. A plain text stays the plain payload (``{"text": ...}``); what has no format in the
guide is refused with the field to fix. The format's own limits are checked afterwards by ``payload_text``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

VIBER_META = ("category", "ttl")
WHATSAPP_MEDIA = ("image", "audio", "video", "document")


def _obj(value: Any, path: str) -> Mapping[str, Any]:
    if isinstance(value, Mapping):
        return value
    raise ValidationError({path: [_("Expected an object.")]})


def _str(value: Any) -> Any:
    """Strings as given (the format reports wrong types by field); a missing value as an empty string."""
    return "" if value is None else value


def _formatted(key: str, content: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    return {"format": key, "content": content, **extra}


def _file_name(url: Any) -> str:
    return str(url or "").split("?", 1)[0].rsplit("/", 1)[-1]


def viber_payload(message: Mapping[str, Any], meta: Mapping[str, Any]) -> dict[str, Any]:
    """The payload of a seed 004 E075 Viber ``message`` (guide §12.1: text, file, text + button, text + media +
    button). ``meta`` category and TTL travel next to the format. Raises ValidationError naming the field."""
    extra = {key: str(meta[key]) for key in VIBER_META if meta.get(key)}
    kind = message.get("type") or "text"
    body = _obj(message.get("payload"), "message.payload")
    button = body.get("button")
    if button is not None:
        button = _obj(button, "message.payload.button")
    if kind == "text":
        return {"text": _str(body.get("text")), **extra}
    if kind == "file":
        url = _str(body.get("url"))
        name = body.get("file_name") or _file_name(url)
        return _formatted("file", {"url": url, "name": name, "size": body.get("size", 0)}, extra)
    if kind == "interactive" and button is not None:
        content = {"text": _str(body.get("text")), "button_text": _str(button.get("title")), "button_url": _str(button.get("url"))}  # fmt: skip
        return _formatted("text_button", content, extra)
    if kind == "image" and button is not None:
        content = {
            "text": _str(body.get("text")),
            "image_url": _str(body.get("url")),
            "button_text": _str(button.get("title")),
            "button_url": _str(button.get("url")),
        }
        return _formatted("text_media_button", content, extra)
    if kind == "image" and not body.get("text"):
        url = _str(body.get("url"))
        return _formatted("file", {"url": url, "name": _file_name(url)}, extra)
    if kind in {"interactive", "image"}:
        raise ValidationError(
            {"message.payload.button": [_("Add a button: Viber sends a text or an image with a button.")]}
        )
    raise ValidationError(
        {"message.type": [_("Choose one of: %(values)s.") % {"values": "text, file, interactive, image"}]}
    )


def whatsapp_payload(message: Mapping[str, Any], meta: Mapping[str, Any]) -> dict[str, Any]:
    """The payload of a seed 004 E090 WhatsApp ``message`` (guide §13.2-§13.3). Raises ValidationError."""
    extra = {"tags": list(meta["tags"])} if isinstance(meta.get("tags"), list) else {}
    kind = message.get("type") or "text"
    body = _obj(message.get("payload"), "message.payload")
    if kind == "text":
        return {"text": _str(body.get("text")), **extra}
    if kind == "template":
        content = {"name": _str(body.get("name")), "language": body.get("language") or "en"}
        for key in ("header_params", "body_params"):
            value = body.get(key)
            if isinstance(value, Mapping):  # seed 004 shows header_params as an object: its values, in order
                value = list(value.values())
            if value:
                content[key] = value
        return _formatted("template", content, extra)
    if kind in WHATSAPP_MEDIA:
        url = _str(body.get("url") or body.get("link"))
        content = {"url": url, "name": body.get("filename") or _file_name(url), "size": body.get("size", 0)}
        if body.get("caption"):
            content["caption"] = body["caption"]
        return _formatted("file", content, extra)
    if kind == "location":
        content = {key: body.get(key) for key in ("latitude", "longitude", "name", "address") if key in body}
        return _formatted("send_location", content, extra)
    if kind == "interactive":
        return _formatted(*_interactive(body), extra)
    raise ValidationError(
        {
            "message.type": [
                _("Choose one of: %(values)s.")
                % {"values": "text, template, image, audio, video, document, location, interactive"}
            ]
        }
    )


def _text_of(value: Any) -> Any:
    return _str(value.get("text")) if isinstance(value, Mapping) else _str(value)


def _interactive(body: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """An E090 interactive message: reply buttons (the card), a list, or a location request."""
    kind = body.get("type")
    action = _obj(body.get("action") or {}, "message.payload.action")
    header = body.get("header")
    content: dict[str, Any] = {}
    if kind == "location_request_message":
        return "request_location", {"text": _text_of(body.get("body"))}
    if isinstance(header, Mapping):
        if header.get("type") == "image":
            image = header.get("image")
            content["media_url"] = _str(image.get("link") if isinstance(image, Mapping) else image)
        else:
            content["header"] = _str(header.get("text"))
    if body.get("footer"):
        content["footer"] = _text_of(body["footer"])
    content["body"] = _text_of(body.get("body"))
    if kind == "button":
        buttons = action.get("buttons") or []
        if not isinstance(buttons, list):
            raise ValidationError({"message.payload.action.buttons": [_("Expected a list.")]})
        content["buttons"] = [
            {"text": _str(_obj(_obj(b, where).get("reply") or {}, f"{where}.reply").get("title"))}
            for i, b in enumerate(buttons)
            for where in [f"message.payload.action.buttons.{i}"]
        ]
        return "card", content
    if kind == "list":
        if "media_url" in content:
            raise ValidationError({"message.payload.header": [_("A list has a text header only.")]})
        sections = action.get("sections") or []
        if not isinstance(sections, list):
            raise ValidationError({"message.payload.action.sections": [_("Expected a list.")]})
        content["button"] = _str(action.get("button"))
        content["sections"] = []
        for i, raw in enumerate(sections):
            section = _obj(raw, f"message.payload.action.sections.{i}")
            rows = section.get("rows") or []
            if not isinstance(rows, list):
                raise ValidationError({f"message.payload.action.sections.{i}.rows": [_("Expected a list.")]})
            options = [
                {k: v for k, v in _obj(row, f"message.payload.action.sections.{i}.rows.{j}").items()
                 if k in ("title", "description")}
                for j, row in enumerate(rows)
            ]  # fmt: skip
            content["sections"].append({"title": section.get("title") or "", "options": options})
        return "list", content
    raise ValidationError(
        {
            "message.payload.type": [
                _("Choose one of: %(values)s.") % {"values": "button, list, location_request_message"}
            ]
        }
    )
