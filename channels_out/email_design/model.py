"""The e-mail design model: the blocks of the visual constructor as frozen dataclasses (guide §7.4.5.1).

Inventory A §14.2 lists seven elements (Text, Image, Button, Social, Divider, Spacer, Wrapper) and a layout of
columns. A design is ``{"settings": {...}, "blocks": [{"type": "text", ...}, ...]}``; a wrapper holds any of the
other six (not another wrapper) and lays them out in 1-3 columns. ``Design.from_json`` validates every field and
names each failure by its path (``blocks.2.url``, ``blocks.1.blocks.0.text``); ``to_json`` gives the stored form
(``Design.from_json(d.to_json()) == d``).

Inventory A §14 [GAP] decisions, recorded here as the one place for them:

- at most ``MAX_BLOCKS`` top-level blocks and ``MAX_CHILDREN`` per wrapper; a text block up to ``TEXT_MAX``
  characters, a button label up to ``LABEL_MAX``, alt text up to ``ALT_MAX``;
- links are full ``http(s)://`` addresses (``mailto:`` too for buttons and text links); a placeholder may stand in
  the path or query (``https://shop.example/?id={{id}}``) but never in the scheme or host, so a contact's
  value can never turn a link into ``javascript:``;
- colours are ``#rgb`` or ``#rrggbb``; sizes are whole pixels within the ranges below;
- text blocks take a small markup the toolbar writes: ``**bold**``, ``*italic*``, ``[label](https://…)``; no raw
  HTML is ever stored (everything the user types is escaped when rendered).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from channels_out.formats.base import Reader, join

MAX_BLOCKS = 50
MAX_CHILDREN = 20
MAX_SOCIAL_LINKS = 8
TEXT_MAX = 10_000
LABEL_MAX = 100
ALT_MAX = 255
URL_MAX = 2048
FONT_SIZE = (10, 48)
IMAGE_WIDTH = (10, 100)  # percent of the column
DIVIDER_THICKNESS = (1, 10)
SPACER_HEIGHT = (4, 200)
WRAPPER_PADDING = (0, 64)
WRAPPER_COLUMNS = (1, 2, 3)
ALIGNS = ("left", "center", "right")
FONTS = {
    "arial": "Arial, Helvetica, sans-serif",
    "verdana": "Verdana, Geneva, sans-serif",
    "tahoma": "Tahoma, Geneva, sans-serif",
    "georgia": "Georgia, 'Times New Roman', serif",
    "times": "'Times New Roman', Times, serif",
    "courier": "'Courier New', Courier, monospace",
}
SOCIAL_NETWORKS = {
    "facebook": "Facebook",
    "x": "X",
    "instagram": "Instagram",
    "linkedin": "LinkedIn",
    "youtube": "YouTube",
    "tiktok": "TikTok",
    "telegram": "Telegram",
    "whatsapp": "WhatsApp",
    "website": gettext_lazy("Website"),
}
COLOUR = re.compile(r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")
PLACEHOLDER = re.compile(r"\{\{\s*([^{}]+?)\s*\}\}")  # the syntax of broadcasts.personalize
LINK = re.compile(r"\[([^\]\n]+)\]\(([^)\s]+)\)")  # a text block's link markup: [label](address)
_HTTP = URLValidator(schemes=["http", "https"])
_MAILTO = re.compile(r"^mailto:[^@\s<>\"]+@[^@\s<>\"]+$")


def check_url(value: str, *, mailto: bool = False) -> str | None:
    """The error of a link, or ``None``: a full http(s) address (or ``mailto:``), placeholders only after the host."""
    if mailto and value.startswith("mailto:"):
        probe = PLACEHOLDER.sub("x@x.example" if "@" not in value else "x", value)
        return None if _MAILTO.match(probe) else _("Enter an e-mail link such as mailto:info@example.com.")
    head = re.match(r"^https?://[^/?#{}]+", value)
    if head is None or "{{" in head.group(0):
        return _("Enter a full web address starting with http:// or https://.")
    try:
        _HTTP(PLACEHOLDER.sub("x", value))
    except ValidationError:
        return _("Enter a full web address starting with http:// or https://.")
    return None


class _Fields:
    """Field readers on top of ``formats.base.Reader`` for the design's own kinds (links, colours, sizes)."""

    def __init__(self, reader: Reader, data: Mapping[str, Any], path: str) -> None:
        self.reader, self.data, self.path = reader, data, path

    def text(self, key: str, *, max_len: int, required: bool = False) -> str:
        return self.reader.text(self.data, key, self.path, max_len=max_len, required=required)

    def link(self, key: str, *, required: bool = False, mailto: bool = False) -> str:
        value = self.text(key, max_len=URL_MAX, required=required)
        if value:
            error = check_url(value, mailto=mailto)
            if error:
                self.reader.add(join(self.path, key), error)
        return value

    def colour(self, key: str, default: str) -> str:
        raw = self.data.get(key)
        if raw in (None, ""):
            return default
        value = str(raw).strip()
        if not COLOUR.match(value):
            self.reader.add(join(self.path, key), _("Enter a colour such as #1a73e8."))
            return default
        return value.lower()

    def number(self, key: str, bounds: tuple[int, int], default: int) -> int:
        raw = self.data.get(key)
        if raw in (None, ""):
            return default
        low, high = bounds
        if isinstance(raw, bool) or not (
            isinstance(raw, int) or (isinstance(raw, str) and raw.strip().isdigit())
        ):
            self.reader.add(join(self.path, key), _("Enter a whole number."))
            return default
        value = int(raw)
        if not low <= value <= high:
            self.reader.add(
                join(self.path, key),
                _("Enter a number from %(min)d to %(max)d.") % {"min": low, "max": high},
            )
            return default
        return value

    def choice(self, key: str, choices: tuple[str, ...], default: str) -> str:
        return self.reader.choice(self.data, key, self.path, choices, default=default)


@dataclass(frozen=True, kw_only=True)
class Block:
    """Base of the seven elements; ``kind`` is the ``type`` key of the stored JSON."""

    kind: ClassVar[str]
    label: ClassVar[Any]

    @classmethod
    def parse(cls, f: _Fields) -> Self:
        raise NotImplementedError


@dataclass(frozen=True, kw_only=True)
class TextBlock(Block):
    kind: ClassVar[str] = "text"
    label: ClassVar[Any] = gettext_lazy("Text")
    text: str
    align: str = "left"
    color: str = "#222222"
    size: int = 16

    @classmethod
    def parse(cls, f: _Fields) -> Self:
        text = f.text("text", max_len=TEXT_MAX, required=True)
        for match in LINK.finditer(text):
            error = check_url(match.group(2), mailto=True)
            if error:
                f.reader.add(
                    join(f.path, "text"),
                    _("The link “%(label)s”: %(error)s") % {"label": match.group(1), "error": error},
                )
        return cls(
            text=text,
            align=f.choice("align", ALIGNS, "left"),
            color=f.colour("color", "#222222"),
            size=f.number("size", FONT_SIZE, 16),
        )


@dataclass(frozen=True, kw_only=True)
class ImageBlock(Block):
    kind: ClassVar[str] = "image"
    label: ClassVar[Any] = gettext_lazy("Image")
    src: str
    alt: str = ""
    href: str = ""
    width: int = 100
    align: str = "center"

    @classmethod
    def parse(cls, f: _Fields) -> Self:
        return cls(
            src=f.link("src", required=True),
            alt=f.text("alt", max_len=ALT_MAX),
            href=f.link("href"),
            width=f.number("width", IMAGE_WIDTH, 100),
            align=f.choice("align", ALIGNS, "center"),
        )


@dataclass(frozen=True, kw_only=True)
class ButtonBlock(Block):
    kind: ClassVar[str] = "button"
    label: ClassVar[Any] = gettext_lazy("Button")
    text: str
    url: str
    color: str = "#ffffff"
    background: str = "#1a73e8"
    align: str = "center"

    @classmethod
    def parse(cls, f: _Fields) -> Self:
        return cls(
            text=f.text("text", max_len=LABEL_MAX, required=True),
            url=f.link("url", required=True, mailto=True),
            color=f.colour("color", "#ffffff"),
            background=f.colour("background", "#1a73e8"),
            align=f.choice("align", ALIGNS, "center"),
        )


@dataclass(frozen=True, kw_only=True)
class SocialLink:
    network: str
    url: str


@dataclass(frozen=True, kw_only=True)
class SocialBlock(Block):
    kind: ClassVar[str] = "social"
    label: ClassVar[Any] = gettext_lazy("Social")
    links: tuple[SocialLink, ...]
    align: str = "center"

    @classmethod
    def parse(cls, f: _Fields) -> Self:
        where = join(f.path, "links")
        raw = f.data.get("links") or []
        links: list[SocialLink] = []
        if not isinstance(raw, list | tuple):
            f.reader.add(where, _("Expected a list."))
            raw = []
        if not raw:
            f.reader.add(where, _("Add at least one social network link."))
        elif len(raw) > MAX_SOCIAL_LINKS:
            f.reader.add(
                where,
                ngettext(
                    "At most %(max)d link (there are %(n)d).",
                    "At most %(max)d links (there are %(n)d).",
                    MAX_SOCIAL_LINKS,
                )
                % {"max": MAX_SOCIAL_LINKS, "n": len(raw)},
            )
        for index, item in enumerate(raw):
            sub = _Fields(f.reader, f.reader.obj(item, join(where, index)), join(where, index))
            links.append(
                SocialLink(
                    network=sub.choice("network", tuple(SOCIAL_NETWORKS), "website"),
                    url=sub.link("url", required=True),
                )
            )
        return cls(links=tuple(links), align=f.choice("align", ALIGNS, "center"))


@dataclass(frozen=True, kw_only=True)
class DividerBlock(Block):
    kind: ClassVar[str] = "divider"
    label: ClassVar[Any] = gettext_lazy("Divider")
    color: str = "#dddddd"
    thickness: int = 1

    @classmethod
    def parse(cls, f: _Fields) -> Self:
        return cls(
            color=f.colour("color", "#dddddd"),
            thickness=f.number("thickness", DIVIDER_THICKNESS, 1),
        )


@dataclass(frozen=True, kw_only=True)
class SpacerBlock(Block):
    kind: ClassVar[str] = "spacer"
    label: ClassVar[Any] = gettext_lazy("Spacer")
    height: int = 24

    @classmethod
    def parse(cls, f: _Fields) -> Self:
        return cls(height=f.number("height", SPACER_HEIGHT, 24))


@dataclass(frozen=True, kw_only=True)
class WrapperBlock(Block):
    kind: ClassVar[str] = "wrapper"
    label: ClassVar[Any] = gettext_lazy("Wrapper")
    blocks: tuple[Block, ...] = ()
    columns: int = 1
    background: str = "#ffffff"
    padding: int = 16

    @classmethod
    def parse(cls, f: _Fields) -> Self:
        columns = f.number("columns", (1, 3), 1)
        return cls(
            blocks=_parse_blocks(f.reader, f.data, f.path, max_items=MAX_CHILDREN, nested=True),
            columns=columns,
            background=f.colour("background", "#ffffff"),
            padding=f.number("padding", WRAPPER_PADDING, 16),
        )

    def rows(self) -> list[tuple[Block, ...]]:
        """The children cut into rows of ``columns`` cells, left to right (the last row may be shorter)."""
        return [self.blocks[i : i + self.columns] for i in range(0, len(self.blocks), self.columns)]


BLOCK_TYPES: dict[str, type[Block]] = {
    cls.kind: cls
    for cls in (
        TextBlock,
        ImageBlock,
        ButtonBlock,
        SocialBlock,
        DividerBlock,
        SpacerBlock,
        WrapperBlock,
    )
}


def _parse_blocks(
    reader: Reader, data: Mapping[str, Any], path: str, *, max_items: int, nested: bool
) -> tuple[Block, ...]:
    where = join(path, "blocks")
    raw = data.get("blocks") or []
    if not isinstance(raw, list | tuple):
        reader.add(where, _("Expected a list."))
        return ()
    if len(raw) > max_items:
        reader.add(
            where,
            ngettext(
                "At most %(max)d block (there are %(n)d).",
                "At most %(max)d blocks (there are %(n)d).",
                max_items,
            )
            % {"max": max_items, "n": len(raw)},
        )
    blocks: list[Block] = []
    for index, item in enumerate(raw):
        at = join(where, index)
        obj = reader.obj(item, at)
        if not obj:
            continue
        cls = BLOCK_TYPES.get(str(obj.get("type") or ""))
        if cls is None or (nested and cls is WrapperBlock):
            reader.add(
                join(at, "type"),
                _("A wrapper cannot hold another wrapper.")
                if cls is WrapperBlock
                else _("Choose one of: %(values)s.") % {"values": ", ".join(BLOCK_TYPES)},
            )
            continue
        blocks.append(cls.parse(_Fields(reader, obj, at)))
    return tuple(blocks)


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Whole-message settings: page and content background, text font and link colour."""

    background: str = "#f4f4f4"
    content_background: str = "#ffffff"
    font: str = "arial"
    link_color: str = "#1a73e8"

    @classmethod
    def parse(cls, f: _Fields) -> Self:
        return cls(
            background=f.colour("background", "#f4f4f4"),
            content_background=f.colour("content_background", "#ffffff"),
            font=f.choice("font", tuple(FONTS), "arial"),
            link_color=f.colour("link_color", "#1a73e8"),
        )


@dataclass(frozen=True, kw_only=True)
class Design:
    """One e-mail's design: settings and the top-level blocks, in order."""

    settings: Settings = field(default_factory=Settings)
    blocks: tuple[Block, ...] = ()

    @classmethod
    def parse(cls, reader: Reader, data: Mapping[str, Any], path: str = "") -> Self:
        """Read ``data`` collecting errors into ``reader`` under ``path`` (``design`` inside an e-mail format)."""
        settings_path = join(path, "settings")
        settings = Settings.parse(
            _Fields(reader, reader.obj(data.get("settings") or {}, settings_path), settings_path)
        )
        blocks = _parse_blocks(reader, data, path, max_items=MAX_BLOCKS, nested=False)
        if not data.get("blocks"):
            reader.add(join(path, "blocks"), _("Add at least one block to the e-mail."))
        return cls(settings=settings, blocks=blocks)

    @classmethod
    def from_json(cls, data: Any) -> Self:
        """Validate ``data``; raises one ValidationError naming every failing field by its path."""
        reader = Reader()
        design = cls.parse(reader, reader.obj(data, ""))
        reader.raise_if_errors()
        return design

    def to_json(self) -> dict[str, Any]:
        return {
            "settings": _plain(self.settings),
            "blocks": [block_to_json(b) for b in self.blocks],
        }


def block_to_json(block: Block) -> dict[str, Any]:
    """The stored form of one block: ``{"type": kind, ...fields}`` (every field kept, defaults included)."""
    out: dict[str, Any] = {"type": block.kind}
    out.update(_plain(block))
    if isinstance(block, WrapperBlock):
        out["blocks"] = [block_to_json(b) for b in block.blocks]
    if isinstance(block, SocialBlock):
        out["links"] = [{"network": link.network, "url": link.url} for link in block.links]
    return out


def _plain(value: Any) -> dict[str, Any]:
    """The scalar fields of a dataclass (lists of nested values are added by the caller)."""
    return {
        f.name: getattr(value, f.name)
        for f in dataclasses.fields(value)
        if not isinstance(getattr(value, f.name), tuple)
    }
