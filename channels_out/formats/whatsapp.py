"""WhatsApp formats (guide §13, checks 67-72; agent limits of seeds 001-003 §2.5): six free types and templates.

The 24-hour customer window and the Verified-company rule are sending rules, not message shapes: they stay with
the sending services.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, ClassVar, Self

from django.utils.translation import gettext as _

from channels_out.formats.base import Format, Reader, join, register
from channels_out.formats.viber import extension, read_file
from channels_out.kinds import ChannelKind

TEXT_MAX = 4096
CARD_HEADER_MAX, BODY_MAX, FOOTER_MAX = 20, 1024, 60
BUTTONS_MIN, BUTTONS_MAX, BUTTON_TEXT_MAX = 1, 3, 20  # seeds 001-003 §2.5: ≥ 1 and ≤ 3 reply buttons of ≤ 20
LIST_HEADER_MAX = 60
LIST_OPTIONS_MAX, OPTION_TITLE_MAX, OPTION_DESCRIPTION_MAX, SECTION_TITLE_MAX = 10, 24, 72, 24
FILE_SIZE_MAX = (
    100 * 1024 * 1024
)  # documents; seed 004 E090 (images 5 MB, audio/video 16 MB: checked on upload)
FILE_EXTENSIONS = frozenset(
    [
        "jpg",
        "jpeg",
        "png",
        "webp",
        "ogg",
        "amr",
        "3gp",
        "aac",
        "mpeg",
        "mp3",
        "pdf",
        "doc",
        "docx",
        "pptx",
        "xlsx",
        "mp4",
    ]
)  # §13.2 (mpeg audio is stored as .mp3 or .mpeg)
# Media of a card's header (guide §13.2 card: "images, media and other file types"): WhatsApp headers take an
# image, a video or a document, not audio.
CARD_MEDIA_EXTENSIONS = FILE_EXTENSIONS - frozenset({"ogg", "amr", "aac", "mpeg", "mp3"})
TEMPLATE_NAME = re.compile(r"^[a-z0-9_]{1,512}$")
LANGUAGE = re.compile(r"^[a-z]{2,3}(_[A-Z]{2})?$")
PARAMS_MAX = 100
PARAM_MAX = 1024
_BAD_PARAM = re.compile(r"[\n\t]| {5,}")


@dataclass(frozen=True, kw_only=True)
class Button:
    text: str


def _button(r: Reader, raw: Any, path: str) -> Button:
    return Button(text=r.text(r.obj(raw, path), "text", path, max_len=BUTTON_TEXT_MAX, required=True))


@register
@dataclass(frozen=True, kw_only=True)
class WhatsAppCard(Format):
    channel: ClassVar[str] = ChannelKind.WHATSAPP
    key: ClassVar[str] = "card"
    body: str
    media_url: str = ""
    header: str = ""
    footer: str = ""
    buttons: tuple[Button, ...] = ()

    @classmethod
    def parse(cls, reader: Reader, data: Mapping[str, Any]) -> Self:
        buttons = reader.items(
            data, "buttons", "", _button, min_items=BUTTONS_MIN, max_items=BUTTONS_MAX, noun="buttons"
        )
        seen: set[str] = set()
        for index, button in enumerate(buttons):
            if button.text and button.text in seen:  # reply buttons are told apart by their text
                reader.add(join(join("buttons", index), "text"), _("Each button needs a different text."))
            seen.add(button.text)
        value = cls(
            media_url=reader.url(data, "media_url", ""),
            header=reader.text(data, "header", "", max_len=CARD_HEADER_MAX),
            body=reader.text(data, "body", "", max_len=BODY_MAX, required=True),
            footer=reader.text(data, "footer", "", max_len=FOOTER_MAX),
            buttons=buttons,
        )
        ext = extension(value.media_url)
        if value.media_url and ext and ext not in CARD_MEDIA_EXTENSIONS:
            reader.add(
                "media_url",
                _("Choose an image, a video or a document (%(allowed)s).")
                % {"allowed": ", ".join(sorted(CARD_MEDIA_EXTENSIONS))},
            )
        if value.media_url and value.header and len(value.body) + len(value.header) + 3 > BODY_MAX:
            # A WhatsApp header is a text or a medium, not both: with a picture, the header text goes in bold
            # on the first line of the text (CpaasAdapter), and both share the text's limit.
            reader.add(
                "body",
                _("With a picture, the header and the text together have at most %(max)d characters.")
                % {"max": BODY_MAX - 3},
            )
        return value


@dataclass(frozen=True, kw_only=True)
class Option:
    title: str
    description: str = ""


@dataclass(frozen=True, kw_only=True)
class Section:
    title: str = ""
    options: tuple[Option, ...] = ()


def _option(r: Reader, raw: Any, path: str) -> Option:
    data = r.obj(raw, path)
    return Option(
        title=r.text(data, "title", path, max_len=OPTION_TITLE_MAX, required=True),
        description=r.text(data, "description", path, max_len=OPTION_DESCRIPTION_MAX),
    )


def _section(r: Reader, raw: Any, path: str) -> Section:
    data = r.obj(raw, path)
    return Section(
        title=r.text(data, "title", path, max_len=SECTION_TITLE_MAX),
        options=r.items(
            data, "options", path, _option, min_items=1, max_items=LIST_OPTIONS_MAX, noun="options"
        ),
    )


@register
@dataclass(frozen=True, kw_only=True)
class WhatsAppList(Format):
    channel: ClassVar[str] = ChannelKind.WHATSAPP
    key: ClassVar[str] = "list"
    body: str
    button: str
    sections: tuple[Section, ...]
    header: str = ""
    footer: str = ""

    @classmethod
    def parse(cls, reader: Reader, data: Mapping[str, Any]) -> Self:
        sections = reader.items(
            data, "sections", "", _section, min_items=1, max_items=LIST_OPTIONS_MAX, noun="sections"
        )
        if len(sections) > 1:
            # WhatsApp (Meta) shows section titles as the list's headings: required once there are several.
            for index, section in enumerate(sections):
                if not section.title:
                    reader.add(
                        join(join("sections", index), "title"),
                        _("A list with several sections needs a title for each section."),
                    )
        total = sum(len(s.options) for s in sections)
        if total > LIST_OPTIONS_MAX:
            reader.add(
                "sections",
                _("A list has at most %(max)d options in all (there are %(n)d).")
                % {"max": LIST_OPTIONS_MAX, "n": total},
            )
        return cls(
            header=reader.text(data, "header", "", max_len=LIST_HEADER_MAX),
            body=reader.text(data, "body", "", max_len=BODY_MAX, required=True),
            footer=reader.text(data, "footer", "", max_len=FOOTER_MAX),
            button=reader.text(data, "button", "", max_len=BUTTON_TEXT_MAX, required=True),
            sections=sections,
        )


@register
@dataclass(frozen=True, kw_only=True)
class WhatsAppText(Format):
    channel: ClassVar[str] = ChannelKind.WHATSAPP
    key: ClassVar[str] = "text"
    text: str

    @classmethod
    def parse(cls, reader: Reader, data: Mapping[str, Any]) -> Self:
        return cls(text=reader.text(data, "text", "", max_len=TEXT_MAX, required=True))


@register
@dataclass(frozen=True, kw_only=True)
class WhatsAppFile(Format):
    channel: ClassVar[str] = ChannelKind.WHATSAPP
    key: ClassVar[str] = "file"
    url: str
    name: str
    size: int = 0
    caption: str = ""

    @classmethod
    def parse(cls, reader: Reader, data: Mapping[str, Any]) -> Self:
        url, name, size = read_file(reader, data, allowed=FILE_EXTENSIONS, max_size=FILE_SIZE_MAX)
        return cls(url=url, name=name, size=size, caption=reader.text(data, "caption", "", max_len=BODY_MAX))


@register
@dataclass(frozen=True, kw_only=True)
class WhatsAppRequestLocation(Format):
    channel: ClassVar[str] = ChannelKind.WHATSAPP
    key: ClassVar[str] = "request_location"
    text: str

    @classmethod
    def parse(cls, reader: Reader, data: Mapping[str, Any]) -> Self:
        return cls(text=reader.text(data, "text", "", max_len=BODY_MAX, required=True))


@register
@dataclass(frozen=True, kw_only=True)
class WhatsAppSendLocation(Format):
    channel: ClassVar[str] = ChannelKind.WHATSAPP
    key: ClassVar[str] = "send_location"
    latitude: Decimal
    longitude: Decimal
    name: str = ""
    address: str = ""

    @classmethod
    def parse(cls, reader: Reader, data: Mapping[str, Any]) -> Self:
        return cls(
            latitude=reader.degrees(data, "latitude", "", limit=90) or Decimal(0),
            longitude=reader.degrees(data, "longitude", "", limit=180) or Decimal(0),
            name=reader.text(data, "name", "", max_len=100),
            address=reader.text(data, "address", "", max_len=300),
        )


def _params(r: Reader, data: Mapping[str, Any], key: str) -> tuple[str, ...]:
    raw = data.get(key) or []
    if not isinstance(raw, list | tuple):
        r.add(key, _("Expected a list."))
        return ()
    if len(raw) > PARAMS_MAX:
        r.add(key, _("At most %(max)d parameters.") % {"max": PARAMS_MAX})
    values: list[str] = []
    for index, value in enumerate(raw):
        where = join(key, index)
        if not isinstance(value, str) or not value.strip():
            r.add(where, _("Fill in this parameter."))
        elif len(value) > PARAM_MAX:
            r.add(
                where, _("At most %(max)d characters (it has %(n)d).") % {"max": PARAM_MAX, "n": len(value)}
            )
        elif _BAD_PARAM.search(value):
            # Meta refuses parameters with a new line, a tab or more than four consecutive spaces.
            r.add(where, _("A parameter cannot contain a new line, a tab or more than four spaces in a row."))
        else:
            values.append(value)
            continue
        values.append(str(value))
    return tuple(values)


@register
@dataclass(frozen=True, kw_only=True)
class WhatsAppTemplate(Format):
    """A message from an approved WhatsApp template (guide §13.3): its name, language and parameters."""

    channel: ClassVar[str] = ChannelKind.WHATSAPP
    key: ClassVar[str] = "template"
    name: str
    language: str = "en"
    header_params: tuple[str, ...] = ()
    body_params: tuple[str, ...] = ()

    @classmethod
    def parse(cls, reader: Reader, data: Mapping[str, Any]) -> Self:
        # Only the shape is checked here. That the template is an Approved one of the company with exactly these
        # parameter counts needs the company: assets.services.whatsapp_template_check, run by broadcast steps,
        # content templates and the send API (#8).
        name = reader.text(data, "name", "", max_len=512, required=True)
        if name and not TEMPLATE_NAME.match(name):
            reader.add("name", _("A template name has only lower-case letters, digits and underscores."))
        language = reader.text(data, "language", "", max_len=10) or "en"
        if not LANGUAGE.match(language):
            reader.add("language", _("Enter a language code such as en or pt_BR."))
        return cls(
            name=name,
            language=language,
            header_params=_params(reader, data, "header_params"),
            body_params=_params(reader, data, "body_params"),
        )

    def summary(self) -> str:
        """The template's name, language and parameters (its text lives with the vendor's approved template)."""
        params = ", ".join((*self.header_params, *self.body_params))
        return f"{self.name} ({self.language})" + (f": {params}" if params else "")
