"""The e-mail block editor's server side: read the posted fields, apply a block operation, build the view.

Posted names follow the constructor's contract (``channels_out.constructor``): ``<prefix>-<path>`` with the
format's JSON path, dots as dashes: ``s-0-c-subject``, ``s-0-c-design-blocks-2-url``,
``s-0-c-design-blocks-1-blocks-0-text``. Each block list also posts ``…-blocks-order``, the indices of its blocks
in page order, so a drag (SortableJS moves the elements) or the keyboard's up/down buttons reorder the design.
``<prefix>-eop`` carries one operation: ``add:<type>`` / ``add:<type>:<wrapper index>``, ``remove:<path>``,
``up:<path>``, ``down:<path>`` where ``<path>`` is ``2`` or ``1.0`` (child 0 of wrapper 1).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.utils.translation import gettext as _

from channels_out.email_design.model import (
    BLOCK_TYPES,
    FONTS,
    MAX_BLOCKS,
    MAX_CHILDREN,
    SOCIAL_NETWORKS,
    Design,
    ImageBlock,
    WrapperBlock,
)
from channels_out.email_design.render import render_html, render_text
from channels_out.formats.base import Reader

LIST_HARD_MAX = 100  # posted lists beyond this are not read (the model refuses far fewer)
FIELDS: dict[str, tuple[str, ...]] = {
    "text": ("text", "align", "color", "size"),
    "image": ("src", "alt", "href", "width", "align"),
    "button": ("text", "url", "color", "background", "align"),
    "social": ("align",),
    "divider": ("color", "thickness"),
    "spacer": ("height",),
    "wrapper": ("columns", "background", "padding"),
}
SETTINGS = ("background", "content_background", "font", "link_color")


def new_block(kind: str) -> dict[str, Any]:
    """The JSON of a block just added from the palette (defaults the user then edits)."""
    if kind == "text":
        return {"type": "text", "text": _("Write your text here.")}
    if kind == "button":
        return {"type": "button", "text": _("Open"), "url": ""}
    if kind == "social":
        return {"type": "social", "links": []}
    if kind == "image":
        return {"type": "image", "src": "", "alt": ""}
    return {"type": kind}


def _getlist(post: Mapping[str, Any], name: str) -> list[str]:
    getlist = getattr(post, "getlist", None)
    raw = getlist(name) if getlist is not None else post.get(name, [])
    if isinstance(raw, str):
        raw = [raw]
    return [str(v) for v in raw][:LIST_HARD_MAX]


def _read_blocks(post: Mapping[str, Any], base: str, *, nested: bool) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    for index in _getlist(post, f"{base}-blocks-order"):
        if not index.isdigit():
            continue
        name = f"{base}-blocks-{index}"
        kind = str(post.get(f"{name}-type", "") or "")
        if kind not in BLOCK_TYPES or (nested and kind == "wrapper"):
            continue
        block: dict[str, Any] = {"type": kind}
        for key in FIELDS[kind]:
            value = post.get(f"{name}-{key}")
            if value is not None:
                block[key] = str(value)
        if kind == "social":
            block["links"] = [
                {"network": network, "url": str(post.get(f"{name}-links-{network}", "")).strip()}
                for network in SOCIAL_NETWORKS
                if str(post.get(f"{name}-links-{network}", "") or "").strip()
            ]
        if kind == "wrapper":
            block["blocks"] = _read_blocks(post, name, nested=True)
        blocks.append(block)
    return blocks


def apply_op(design: dict[str, Any], op: str) -> dict[str, Any]:
    """Apply one block operation to the design JSON (unknown or impossible operations change nothing)."""
    verb, _sep, target = op.partition(":")
    blocks: list[dict[str, Any]] = design.setdefault("blocks", [])
    if verb == "add":
        kind, _sep, into = target.partition(":")
        if kind not in BLOCK_TYPES:
            return design
        if not into:
            if len(blocks) < MAX_BLOCKS:
                blocks.append(new_block(kind))
            return design
        parent = blocks[int(into)] if into.isdigit() and int(into) < len(blocks) else None
        if parent is None or parent.get("type") != "wrapper" or kind == "wrapper":
            return design
        children = parent.setdefault("blocks", [])
        if len(children) < MAX_CHILDREN:
            children.append(new_block(kind))
        return design
    parts = target.split(".")
    if verb not in ("remove", "up", "down") or not all(p.isdigit() for p in parts) or len(parts) > 2:
        return design
    items = blocks
    if len(parts) == 2:
        outer = int(parts[0])
        if outer >= len(blocks) or blocks[outer].get("type") != "wrapper":
            return design
        items = blocks[outer].setdefault("blocks", [])
    index = int(parts[-1])
    if index >= len(items):
        return design
    if verb == "remove":
        del items[index]
    elif verb == "up" and index > 0:
        items[index - 1], items[index] = items[index], items[index - 1]
    elif verb == "down" and index < len(items) - 1:
        items[index], items[index + 1] = items[index + 1], items[index]
    return design


def rendered_parts(design_json: Mapping[str, Any], *, subject: str, subtitle: str) -> tuple[str, str]:
    """``(html, text)`` of a design, or ``("", "")`` while it does not validate (its errors come from the format)."""
    try:
        design = Design.from_json(design_json)
    except ValidationError:
        return "", ""
    return render_html(design, subject=subject, subtitle=subtitle), render_text(design)


def read(post: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    """The e-mail format's JSON from the posted editor (the constructor's ``Editor.read``), after its operation.

    ``html`` and ``text`` are rendered from the design here, on every read, so what is saved and sent is always
    the design's rendering (guide §7.4.5.1).
    """
    base = f"{prefix}-design"
    design: dict[str, Any] = {
        "settings": {
            key: str(post.get(f"{base}-settings-{key}"))
            for key in SETTINGS
            if post.get(f"{base}-settings-{key}") is not None
        },
        "blocks": _read_blocks(post, base, nested=False),
    }
    op = str(post.get(f"{prefix}-eop", "") or "")
    if op:
        design = apply_op(design, op)
    subject = str(post.get(f"{prefix}-subject", "") or "").strip()
    subtitle = str(post.get(f"{prefix}-subtitle", "") or "").strip()
    html, text = rendered_parts(design, subject=subject, subtitle=subtitle)
    return {"subject": subject, "subtitle": subtitle, "design": design, "html": html, "text": text}


@dataclass
class BlockView:
    """One block as the editor shows it: its posted name, its values and its errors by field."""

    index: int  # the position in its list
    path: str  # "2" or "1.0"
    name: str  # the posted name prefix: s-0-c-design-blocks-1-blocks-0
    kind: str
    label: str
    data: dict[str, Any]
    errors: dict[str, list[str]]
    first: bool
    last: bool
    children: list[BlockView] = field(default_factory=list)
    links: list[tuple[str, str, str, list[str]]] = field(default_factory=list)  # network, label, url, errors

    @property
    def error_count(self) -> int:
        own = sum(len(v) for v in self.errors.values()) + sum(len(link[3]) for link in self.links)
        return own + sum(c.error_count for c in self.children)

    @property
    def summary(self) -> str:
        """A short name for the block's header (its text, label, alt text or address)."""
        for key in ("text", "alt", "src"):
            value = str(self.data.get(key) or "").strip()
            if value:
                return value[:60] + ("…" if len(value) > 60 else "")
        return ""


def _views(
    blocks: list[Any], errors: Mapping[str, list[str]], *, base: str, epath: str, ppath: str
) -> list[BlockView]:
    out: list[BlockView] = []
    for index, raw in enumerate(blocks):
        data = raw if isinstance(raw, dict) else {}
        kind = str(data.get("type") or "")
        if kind not in BLOCK_TYPES:
            continue
        here = f"{epath}.{index}"
        mine = {
            key[len(here) + 1 :] or "__all__": msgs
            for key, msgs in errors.items()
            if (key == here or key.startswith(here + "."))
            and not key.startswith(here + ".blocks.")  # children carry their own
        }
        view = BlockView(
            index=index,
            path=f"{ppath}.{index}" if ppath else str(index),
            name=f"{base}-{index}",
            kind=kind,
            label=str(BLOCK_TYPES[kind].label),
            data=data,
            errors=mine,
            first=index == 0,
            last=index == len(blocks) - 1,
        )
        if kind == "wrapper":
            view.children = _views(
                list(data.get("blocks") or []),
                errors,
                base=f"{view.name}-blocks",
                epath=f"{here}.blocks",
                ppath=view.path,
            )
        if kind == "social":
            # Each network's address with its own errors (``links.<i>.url`` names the i-th link given).
            found: dict[str, tuple[str, list[str]]] = {}
            for i, link in enumerate(data.get("links") or []):
                if isinstance(link, dict):
                    found[str(link.get("network"))] = (
                        str(link.get("url") or ""),
                        [m for k, v in mine.items() if k.startswith(f"links.{i}.") for m in v],
                    )
            view.links = [
                (key, str(label), *found.get(key, ("", []))) for key, label in SOCIAL_NETWORKS.items()
            ]
            view.errors = {k: v for k, v in mine.items() if not k.startswith("links.")}
        out.append(view)
    return out


def preview_document(design_json: Mapping[str, Any], *, subject: str = "", subtitle: str = "") -> str:
    """The preview of what can be read so far: blocks that do not validate yet are left out."""
    raw_blocks = design_json.get("blocks")
    valid: list[dict[str, Any]] = []
    for raw in raw_blocks if isinstance(raw_blocks, list) else []:
        if isinstance(raw, dict) and raw.get("type") == "wrapper":
            kids = [k for k in raw.get("blocks") or [] if _one_valid(k)]
            raw = {**raw, "blocks": kids}
        if _one_valid(raw):
            valid.append(raw)
    # Invalid settings fall back to their defaults; an empty list shows an empty message.
    design = Design.parse(Reader(), {"settings": design_json.get("settings") or {}, "blocks": valid})
    return render_html(design, subject=subject, subtitle=subtitle)


def _one_valid(raw: Any) -> bool:
    reader = Reader()
    Design.parse(reader, {"blocks": [raw]})
    return not reader.errors


def editor_state(*, prefix: str, data: Mapping[str, Any], errors: Mapping[str, list[str]]) -> dict[str, Any]:
    """The template's view of one e-mail editor: subject, subtitle, settings, the block tree and the preview."""
    design = data.get("design")
    if not isinstance(design, dict):
        design = {}
    settings = design.get("settings") if isinstance(design.get("settings"), dict) else {}
    base = f"{prefix}-design-blocks"
    blocks = _views(list(design.get("blocks") or []), errors, base=base, epath="design.blocks", ppath="")
    general = [
        message
        for key, messages in errors.items()
        if key not in {"subject", "subtitle"} and not key.startswith(("design.blocks.", "design.settings."))
        for message in messages
    ]
    return {
        "root": f"{prefix}-email",
        "subject": data.get("subject") or "",
        "subtitle": data.get("subtitle") or "",
        "settings": {
            "background": "#f4f4f4",
            "content_background": "#ffffff",
            "font": "arial",
            "link_color": "#1a73e8",
            **(settings or {}),
        },
        "settings_errors": {
            key[len("design.settings.") :]: msgs
            for key, msgs in errors.items()
            if key.startswith("design.settings.")
        },
        "subject_errors": errors.get("subject", []),
        "subtitle_errors": errors.get("subtitle", []),
        "general_errors": general,
        "blocks": blocks,
        "design_name": f"{prefix}-design",
        "order_name": f"{base}-order",
        "palette": [(kind, str(cls.label)) for kind, cls in BLOCK_TYPES.items()],
        "child_palette": [
            (kind, str(cls.label)) for kind, cls in BLOCK_TYPES.items() if cls is not WrapperBlock
        ],
        "fonts": [(key, value.split(",")[0].strip("'")) for key, value in FONTS.items()],
        "preview": preview_document(
            design, subject=str(data.get("subject") or ""), subtitle=str(data.get("subtitle") or "")
        ),
        "can_add": len(blocks) < MAX_BLOCKS,
        "image_kind": ImageBlock.kind,
    }


def placeholders_for(request: HttpRequest | None) -> list[tuple[str, str]]:
    """The personalisation toolbar's placeholders: contact fields and the company's own attributes."""
    # Imported here: the channel layer does not depend on contacts and broadcasts at import time.
    from broadcasts.personalize import placeholder_choices
    from contacts.selectors import attribute_list

    company = getattr(request, "company", None) if request is not None else None
    attributes = attribute_list(company=company) if company is not None else []
    return placeholder_choices(attributes)


def editor_context(
    request: HttpRequest | None,
    *,
    prefix: str,
    data: Mapping[str, Any],
    errors: Mapping[str, list[str]],
) -> dict[str, Any]:
    """Everything ``email_design/_editor.html`` needs for the editor of ``prefix``."""
    from channels_out.constructor.registry import media_field_template

    return {
        "prefix": prefix,
        "st": editor_state(prefix=prefix, data=data, errors=errors),
        "placeholders": placeholders_for(request),
        "media_template": media_field_template(),
        "request": request,
    }
