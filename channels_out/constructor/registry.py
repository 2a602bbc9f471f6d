"""The editor registry and the functions of the constructor's contract (see the package docstring)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS
from django.http import HttpRequest
from django.template import TemplateDoesNotExist
from django.template.loader import get_template, render_to_string
from django.utils.safestring import SafeString, mark_safe

from channels_out.constructor.schema import Field, apply_op, bind, blank_fields, other_errors, read_fields
from channels_out.formats import sent_format_key
from channels_out.formats.base import FORMATS, Format, Reader
from channels_out.formats.preview import format_preview
from channels_out.kinds import ChannelKind

EDITOR_TEMPLATE = "channels_out/constructor/_editor.html"
SCHEMA_TEMPLATE = "channels_out/constructor/_schema_fields.html"
MEDIA_FIELD_TEMPLATE = "assets/_media_field.html"
PREFIX = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,39}$")

Read = Callable[[Mapping[str, Any], str], dict[str, Any]]


@dataclass(frozen=True)
class Editor:
    """One format's editor: its template, its reader of the posted fields, and its label in the format chooser."""

    template: str
    read: Read
    label: Any
    fields: tuple[Field, ...] = ()  # schema editors: the fields ``read`` and the template share

    def apply(self, data: dict[str, Any], op: str) -> dict[str, Any]:
        """A list operation (``add:cards`` ...) on ``data``; editors without a schema ignore it."""
        return apply_op(self.fields, data, op) if self.fields else data


EDITORS: dict[tuple[str, str], Editor] = {}


def register_editor(channel: str, key: str, editor: Editor) -> None:
    EDITORS[(str(channel), key)] = editor


def schema_editor(label: Any, fields: tuple[Field, ...]) -> Editor:
    """An editor read and rendered from its schema (every built-in editor)."""

    def read(post: Mapping[str, Any], prefix: str) -> dict[str, Any]:
        return read_fields(post, prefix, fields)

    return Editor(template=SCHEMA_TEMPLATE, read=read, label=label, fields=fields)


def formats_for(channel: str) -> list[tuple[str, Any]]:
    """The formats a channel's chooser offers: ``[(key, label)]`` in registration order."""
    return [(key, editor.label) for (ch, key), editor in EDITORS.items() if ch == channel]


def read_message(post: Mapping[str, Any], prefix: str) -> tuple[str, dict[str, Any]]:
    """The format key and JSON of the editor posted under ``prefix`` (``("", {})`` when it has no editor)."""
    channel = str(post.get(f"{prefix}-channel", "") or "")
    key = str(post.get(f"{prefix}-format", "") or "")
    editor = EDITORS.get((channel, key))
    if editor is None:
        offered = formats_for(channel)
        if not offered:
            return "", {}
        key = offered[0][0]
        editor = EDITORS[(channel, key)]
    return key, editor.read(post, prefix)


def message_blank(channel: str, key: str, data: Any) -> bool:
    """Nothing typed yet: ``data`` holds at most the editor's choices (a draft may keep such a message)."""
    if not data:
        return True
    editor = EDITORS.get((channel, key))
    if editor is None or not editor.fields or not isinstance(data, Mapping):
        return False
    return blank_fields(editor.fields, data)


def content_format(channel: str, content: Mapping[str, Any] | None) -> tuple[str, Any]:
    """The one format of a stored ``{format_key: data}`` message that is sent, with its data: the engine's rule
    (``formats.sent_format_key``), so the editor reopens what the recipient gets; ``("text", {})`` when empty."""
    content = content or {}
    key = sent_format_key(channel, content) or "text"
    return key, content.get(key) or {}


# The plain-text message of a one-format channel, as that format's JSON (reopening a step saved before issue 8).
_TEXT_UPGRADES: dict[str, tuple[str, dict[str, str]]] = {
    ChannelKind.PUSH: ("push", {"header": "header", "text": "text"}),
    ChannelKind.MOBILE_PUSH: ("mobile_push", {"header": "header", "text": "text"}),
    ChannelKind.TTS: ("tts", {"text": "text"}),
    ChannelKind.EMAIL: ("email", {"subject": "subject", "text": "text"}),
}


def text_upgrade(channel: str, key: str, data: Any) -> tuple[str, dict[str, Any]]:
    """``(key, data)`` for the editor: a plain ``"text"`` message of a channel with no text editor becomes its
    one format's JSON when that format has an editor; anything else is returned as it is."""
    plain = data if isinstance(data, Mapping) else {}
    if key == "text" and (channel, "text") not in EDITORS and channel in _TEXT_UPGRADES:
        target, names = _TEXT_UPGRADES[channel]
        if (channel, target) in EDITORS:
            return target, {new: plain[old] for old, new in names.items() if plain.get(old)}
    return key, dict(plain)


@cache
def media_field_template() -> str:
    """The assets app's media field include when it exists (empty until then: a plain URL input is shown)."""
    try:
        get_template(MEDIA_FIELD_TEMPLATE)
    except TemplateDoesNotExist:
        return ""
    return MEDIA_FIELD_TEMPLATE


def preview_of(channel: str, key: str, data: Mapping[str, Any]) -> SafeString:
    """The recipient's view of ``data`` as far as it can be read: the preview follows the typing even while a
    field is still invalid (the errors are the editor's business)."""
    cls: type[Format] | None = FORMATS.get((channel, key))
    if cls is None:
        return SafeString("")
    try:
        value = cls.parse(Reader(), data)
    except (TypeError, ValueError, AttributeError):  # pragma: no cover - the readers never raise on bad input
        return SafeString("")
    return format_preview(value)


def editor_context(
    *,
    prefix: str,
    channel: str,
    format_key: str,
    data: Mapping[str, Any],
    errors: Mapping[str, list[str]],
) -> dict[str, Any]:
    editor = EDITORS.get((channel, format_key))
    used: set[str] = set()
    fields = (
        bind(editor.fields, data, errors, prefix=prefix, used=used)
        if editor is not None and editor.fields
        else []
    )
    if editor is not None and not editor.fields:
        used = set(errors)  # a custom editor shows its own errors
    return {
        "prefix": prefix,
        "channel": channel,
        "channel_label": ChannelKind(channel).label if channel in ChannelKind.values else channel,
        "format_key": format_key,
        "formats": formats_for(channel),
        "editor": editor,
        "data": data,
        "errors": errors,
        "fields": fields,
        "general_errors": other_errors(errors, used),
        "has_errors": bool(errors),
        "preview": preview_of(channel, format_key, data),
        "media_template": media_field_template(),
        "non_field": errors.get(NON_FIELD_ERRORS, []),
    }


def render_editor(
    request: HttpRequest | None,
    *,
    prefix: str,
    channel: str,
    format_key: str,
    data: Mapping[str, Any],
    errors: Mapping[str, list[str]] | None = None,
) -> SafeString:
    """The editor block of one message (chooser, fields with their errors, live preview) as HTML."""
    if not PREFIX.match(prefix):
        raise ValueError(f"Invalid constructor prefix: {prefix!r}")
    if (channel, format_key) not in EDITORS and formats_for(channel):
        format_key = formats_for(channel)[0][0]
    context = editor_context(
        prefix=prefix, channel=channel, format_key=format_key, data=data, errors=errors or {}
    )
    html = render_to_string(EDITOR_TEMPLATE, context, request=request)
    return mark_safe(html)  # noqa: S308  (render_to_string autoescapes every value)
