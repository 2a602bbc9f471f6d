"""Declarative editor schemas: one tuple of ``Field`` per format reads the posted fields into the format's JSON and
binds the JSON (with its errors by path) back to named inputs, so every format shares one reader and one template.

The format's own validation stays in ``channels_out.formats``; the schema only gives sizes and choices to the
inputs (``maxlength`` and ``required`` help the browser, the server decides).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS

LIST_HARD_MAX = 100  # posted list lengths above this are not read (the format refuses far fewer anyway)

# Field kinds: text, textarea, url, media (URL through the media field), choice, int, datetime, degrees, group
# (an object of ``fields``) and list (a list of objects of ``fields``).


@dataclass(frozen=True)
class Field:
    name: str
    label: Any
    kind: str = "text"
    max_length: int | None = None
    required: bool = False
    choices: tuple[tuple[str, Any], ...] = ()
    fields: tuple[Field, ...] = ()
    max_items: int = 0
    min_items: int = 0
    item_label: Any = ""  # "Card %(n)d": the heading of the n-th item
    add_label: Any = ""  # "Add a card"
    # Shown and read only while each sibling field ``name`` has one of its ``values``: ((name, values), ...).
    when: tuple[tuple[str, tuple[str, ...]], ...] = ()
    rerender: bool = False  # a change re-renders the editor (e.g. a suggestion's type shows other fields)
    media_kind: str = ""  # image, file, video: what the media field accepts
    help: Any = ""
    new_item: tuple[tuple[str, str], ...] = ()  # the JSON of a newly added list item
    initial: str = ""  # a choice's default when it is not the first one (the format's own default)

    @property
    def default(self) -> str:
        return self.initial or (self.choices[0][0] if self.choices else "")


def field_name(prefix: str, path: str) -> str:
    """The posted name of ``path`` under ``prefix``: ``s-0-c`` + ``cards.1.title`` → ``s-0-c-cards-1-title``."""
    return f"{prefix}-{path.replace('.', '-')}" if path else prefix


def _join(path: str, key: str | int) -> str:
    return f"{path}.{key}" if path else str(key)


def _visible(field: Field, values: Mapping[str, Any]) -> bool:
    return all(str(values.get(name, "")) in allowed for name, allowed in field.when)


def list_length(post: Mapping[str, Any], name: str) -> int:
    raw = str(post.get(f"{name}-n", "") or "").strip()
    return min(int(raw), LIST_HARD_MAX) if raw.isdigit() else 0


def read_fields(post: Mapping[str, Any], name: str, fields: tuple[Field, ...]) -> dict[str, Any]:
    """The JSON object of ``fields`` posted under ``name``; empty values are left out."""
    out: dict[str, Any] = {}
    for field in fields:
        if not _visible(field, {f.name: out.get(f.name, f.default) for f in fields}):
            continue
        key = f"{name}-{field.name}"
        if field.kind == "group":
            group = read_fields(post, key, field.fields)
            if group:
                out[field.name] = group
        elif field.kind == "list":
            items = [read_fields(post, f"{key}-{i}", field.fields) for i in range(list_length(post, key))]
            if items:
                out[field.name] = items
        else:
            raw = post.get(key)
            if raw is None:
                continue
            value = str(raw).strip()
            if not value:
                continue
            if field.kind == "int" and value.isdigit():
                out[field.name] = int(value)
            else:
                out[field.name] = value  # the format refuses a non-number where it wants one
    return out


def _text(value: Any) -> str:
    if value is None or isinstance(value, dict | list):
        return ""
    return str(value)


def bind(
    fields: tuple[Field, ...],
    data: Mapping[str, Any],
    errors: Mapping[str, list[str]],
    *,
    prefix: str,
    path: str = "",
    used: set[str] | None = None,
) -> list[dict[str, Any]]:
    """The render tree of ``fields``: each with its posted name, value, errors and (lists) items and controls.

    ``used`` collects the error paths shown next to a field, so the editor can list the others at its top.
    """
    used = used if used is not None else set()
    values = {f.name: data.get(f.name, f.default) for f in fields}
    bound = []
    for field in fields:
        if not _visible(field, values):
            continue
        where = _join(path, field.name)
        used.add(where)
        item: dict[str, Any] = {
            "field": field,
            "name": field_name(prefix, where),
            "path": where,
            "errors": errors.get(where, []),
        }
        raw = data.get(field.name)
        if field.kind == "group":
            item["children"] = bind(
                field.fields,
                raw if isinstance(raw, Mapping) else {},
                errors,
                prefix=prefix,
                path=where,
                used=used,
            )
        elif field.kind == "list":
            entries = raw if isinstance(raw, list) else []
            rows = []
            for index, entry in enumerate(entries):
                item_path = _join(where, index)
                used.add(item_path)
                rows.append(
                    {
                        "index": index,
                        "number": index + 1,
                        "title": str(field.item_label) % {"n": index + 1} if field.item_label else "",
                        "path": item_path,
                        "name": field_name(prefix, item_path),
                        "errors": errors.get(item_path, []),
                        "first": index == 0,
                        "last": index == len(entries) - 1,
                        "children": bind(
                            field.fields,
                            entry if isinstance(entry, Mapping) else {},
                            errors,
                            prefix=prefix,
                            path=item_path,
                            used=used,
                        ),
                    }
                )
            item["items"] = rows
            item["count"] = len(entries)
            item["can_add"] = len(entries) < field.max_items
        else:
            item["value"] = (
                _text(raw) if raw is not None else (field.default if field.kind == "choice" else "")
            )
        bound.append(item)
    return bound


def other_errors(errors: Mapping[str, list[str]], used: set[str]) -> list[tuple[str, str]]:
    """Errors no bound field shows (the whole message's, or a path the schema lacks), as (path, message)."""
    out: list[tuple[str, str]] = []
    for path, messages in errors.items():
        if path in used:
            continue
        shown = "" if path == NON_FIELD_ERRORS else path
        out.extend((shown, message) for message in messages)
    return out


def blank_fields(fields: tuple[Field, ...], data: Mapping[str, Any]) -> bool:
    """``data`` holds nothing but choice values (and empty groups): nothing was typed."""
    by_name = {f.name: f for f in fields}
    for name, value in data.items():
        field = by_name.get(name)
        if field is None:
            return False
        if field.kind == "choice":
            continue
        if field.kind == "group" and isinstance(value, Mapping):
            if not blank_fields(field.fields, value):
                return False
        elif value not in ("", None, [], {}):
            return False
    return True


# -- list operations (add / remove / up / down) on the JSON, by path ------------------------------------------


def _find(fields: tuple[Field, ...], parts: list[str]) -> Field | None:
    """The list field at ``parts`` (names and indexes alternate: ``cards``, ``1``, ``suggestions``)."""
    current = fields
    found: Field | None = None
    for part in parts:
        if part.isdigit():
            continue
        found = next((f for f in current if f.name == part), None)
        if found is None:
            return None
        current = found.fields
    return found


def _container(data: Any, parts: list[str]) -> Any:
    """The value at ``parts`` in ``data``, creating missing objects and lists on the way."""
    for position, part in enumerate(parts):
        following = parts[position + 1] if position + 1 < len(parts) else ""
        if isinstance(data, list) and part.isdigit() and int(part) < len(data):
            data = data[int(part)]
        elif isinstance(data, dict) and not part.isdigit():
            empty: Any = {} if following and not following.isdigit() else []
            if not isinstance(data.get(part), dict | list):
                data[part] = empty
            data = data[part]
        else:
            return None
    return data


def apply_op(fields: tuple[Field, ...], data: dict[str, Any], op: str) -> dict[str, Any]:
    """Apply ``add:<list path>``, ``remove:<item path>``, ``up:<item path>``, ``down:<item path>`` to ``data``.

    Unknown paths and adds beyond the list's maximum leave ``data`` unchanged.
    """
    verb, _sep, target = op.partition(":")
    parts = [p for p in target.split(".") if p]
    if not parts:
        return data
    if verb == "add":
        field = _find(fields, parts)
        if field is None or field.kind != "list":
            return data
        items = _container(data, parts)
        if isinstance(items, list) and len(items) < field.max_items:
            items.append(dict(field.new_item))
        return data
    if verb not in ("remove", "up", "down") or not parts[-1].isdigit() or len(parts) < 2:
        return data
    field = _find(fields, parts[:-1])
    if field is None or field.kind != "list":
        return data
    items = _container(data, parts[:-1])
    if isinstance(items, list):
        item_op(items, verb, int(parts[-1]))
    return data


def item_op(items: list[Any], verb: str, index: int) -> None:
    """Apply ``remove``, ``up`` or ``down`` to ``items[index]`` in place; the other items keep their relative order.

    The one list-editing rule of the constructor's lists and the broadcast steps editor. An index out of range, a
    move past an end or another verb leaves ``items`` as it is.
    """
    if not 0 <= index < len(items):
        return
    if verb == "remove":
        del items[index]
    elif verb == "up" and index > 0:
        items[index - 1], items[index] = items[index], items[index - 1]
    elif verb == "down" and index < len(items) - 1:
        items[index + 1], items[index] = items[index], items[index + 1]
