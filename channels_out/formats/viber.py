"""Viber formats (guide §12.1, checks 62-63): text only, file, text + button, text + media + button."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Self

from django.utils.translation import gettext as _

from channels_out.formats.base import Format, Reader, register
from channels_out.kinds import ChannelKind

TEXT_MAX = 1000
BUTTON_TEXT_MAX = 30  # [GAP] seed 004 E064: button title ≤ 30
FILE_NAME_MAX = 255
FILE_SIZE_MAX = 200 * 1024 * 1024  # 200 MB
IMAGE_EXTENSIONS = frozenset({"jpg", "jpeg", "png", "bmp", "gif", "svg"})
FILE_EXTENSIONS = IMAGE_EXTENSIONS | frozenset(
    {
        "mp4",
        *[
            "csv",
            "doc",
            "docx",
            "dot",
            "dotx",
            "eps",
            "fods",
            "fodt",
            "info",
            "odf",
            "ods",
            "odt",
            "pdax",
            "pdf",
            "rtf",
            "txt",
            "xls",
            "xlsx",
            "xltx",
            "xps",
        ],
    }
)


def extension(name: str) -> str:
    """The lower-case extension of a file name or URL path (``""`` when it has none)."""
    base = name.split("?", 1)[0].rsplit("/", 1)[-1]
    return base.rsplit(".", 1)[-1].lower() if "." in base else ""


def read_file(
    r: Reader, data: Mapping[str, Any], *, allowed: frozenset[str], max_size: int
) -> tuple[str, str, int]:
    """``url``, ``name`` and declared ``size`` of a file: extension whitelist and size limit checked."""
    url = r.url(data, "url", "", required=True)
    name = r.text(data, "name", "", max_len=FILE_NAME_MAX) or (url.rsplit("/", 1)[-1] if url else "")
    ext = extension(name)
    if url and ext not in allowed:
        r.add(
            "name",
            _("Files of type .%(ext)s cannot be sent; allowed: %(allowed)s.")
            % {"ext": ext or "?", "allowed": ", ".join(sorted(allowed))},
        )
    size = data.get("size", 0)
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        r.add("size", _("Expected the file size in bytes."))
        size = 0
    elif size > max_size:
        r.add("size", _("The file is larger than %(max)d MB.") % {"max": max_size // (1024 * 1024)})
    return url, name, size


@register
@dataclass(frozen=True, kw_only=True)
class ViberText(Format):
    channel: ClassVar[str] = ChannelKind.VIBER
    key: ClassVar[str] = "text"
    text: str

    @classmethod
    def parse(cls, reader: Reader, data: Mapping[str, Any]) -> Self:
        return cls(text=reader.text(data, "text", "", max_len=TEXT_MAX, required=True))


@register
@dataclass(frozen=True, kw_only=True)
class ViberFile(Format):
    channel: ClassVar[str] = ChannelKind.VIBER
    key: ClassVar[str] = "file"
    url: str
    name: str
    size: int = 0

    @classmethod
    def parse(cls, reader: Reader, data: Mapping[str, Any]) -> Self:
        url, name, size = read_file(reader, data, allowed=FILE_EXTENSIONS, max_size=FILE_SIZE_MAX)
        return cls(url=url, name=name, size=size)


@register
@dataclass(frozen=True, kw_only=True)
class ViberTextButton(Format):
    channel: ClassVar[str] = ChannelKind.VIBER
    key: ClassVar[str] = "text_button"
    text: str
    button_text: str
    button_url: str

    @classmethod
    def parse(cls, reader: Reader, data: Mapping[str, Any]) -> Self:
        return cls(
            text=reader.text(data, "text", "", max_len=TEXT_MAX, required=True),
            button_text=reader.text(data, "button_text", "", max_len=BUTTON_TEXT_MAX, required=True),
            button_url=reader.url(data, "button_url", "", required=True),
        )


@register
@dataclass(frozen=True, kw_only=True)
class ViberTextMediaButton(Format):
    channel: ClassVar[str] = ChannelKind.VIBER
    key: ClassVar[str] = "text_media_button"
    text: str
    image_url: str
    button_text: str
    button_url: str

    @classmethod
    def parse(cls, reader: Reader, data: Mapping[str, Any]) -> Self:
        image_url = reader.url(data, "image_url", "", required=True)
        ext = extension(image_url)
        if image_url and ext and ext not in IMAGE_EXTENSIONS:
            reader.add(
                "image_url",
                _("Choose an image (%(allowed)s).") % {"allowed": ", ".join(sorted(IMAGE_EXTENSIONS))},
            )
        return cls(
            text=reader.text(data, "text", "", max_len=TEXT_MAX, required=True),
            image_url=image_url,
            button_text=reader.text(data, "button_text", "", max_len=BUTTON_TEXT_MAX, required=True),
            button_url=reader.url(data, "button_url", "", required=True),
        )
