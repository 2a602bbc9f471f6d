"""The message constructor in the steps editor (issue 8): each step's editor block, with the service's errors
(``steps.<n>.content.<format>.<path>``, ``steps.<n>.text``) shown next to the constructor's fields."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS
from django.http import HttpRequest
from django.utils.safestring import SafeString

from broadcasts.forms import editor_prefix
from channels_out.constructor import formats_for, render_editor


def editor_errors(index: int, format_key: str, errors: Mapping[str, list[str]]) -> dict[str, list[str]]:
    """Step ``index``'s message errors keyed by the path inside its format (``cards.1.title``)."""
    base = f"steps.{index}."
    mine: dict[str, list[str]] = {}
    for path, messages in errors.items():
        if path.startswith(f"{base}content."):
            key, _dot, inner = path[len(f"{base}content.") :].partition(".")
            where = inner if key == format_key and inner else NON_FIELD_ERRORS
            mine.setdefault(where, []).extend(messages)
        elif path == f"{base}text":
            mine.setdefault("text" if format_key == "text" else NON_FIELD_ERRORS, []).extend(messages)
    return mine


def step_editor(
    request: HttpRequest, index: int, row: Mapping[str, Any], errors: Mapping[str, list[str]]
) -> SafeString | None:
    """The constructor block of step ``index`` (``None`` for a channel without editors: SMS keeps its composer)."""
    channel = str(row.get("channel", ""))
    if not formats_for(channel):
        return None
    key = str(row.get("format") or "text")
    data = row.get("data") or {}
    return render_editor(
        request,
        prefix=editor_prefix(index),
        channel=channel,
        format_key=key,
        data=data if isinstance(data, Mapping) else {},
        errors=editor_errors(index, key, errors),
    )


def with_editors(
    request: HttpRequest, steps: list[dict[str, Any]], errors: Mapping[str, list[str]]
) -> list[dict[str, Any]]:
    """Add each step's ``editor`` (its constructor HTML, or ``None``) to the steps editor's context."""
    for step in steps:
        step["editor"] = step_editor(request, step["n"], step["row"], errors)
    return steps
