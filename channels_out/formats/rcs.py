"""RCS formats (guide §11, inventory A §11 and checks 52-58): text, file, rich card, carousel, and suggestions."""

from __future__ import annotations

import datetime
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, ClassVar, Self

from django.utils.translation import gettext as _

from channels_out.formats.base import Format, Reader, join, register
from channels_out.kinds import ChannelKind

TITLE_MAX = 200  # §11.2
TEXT_MAX = 2000  # §11.2 (also the Text format, as channels_out.validation.TEXT_LIMITS)
CTA_MAX = 25  # §11.3: the text says 25, a screenshot 20; the text wins (recorded decision)
CARD_SUGGESTIONS_MAX = 4  # §11.2 panel 1
MESSAGE_SUGGESTIONS_MAX = 11  # §11.2 panel 2
CAROUSEL_MIN, CAROUSEL_MAX = 2, 12  # §11.4 ([GAP] minimum 2)
CALENDAR_TITLE_MAX, CALENDAR_DESCRIPTION_MAX = 100, 500  # [GAP] RBM's limits
POSTBACK_MAX = 2048
_NO_TIME = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
_MIME = re.compile(r"^[a-z]+/[a-z0-9.+-]+$")

LAYOUTS = ("vertical", "horizontal")
ALIGNMENTS = ("left", "right")  # image side of a horizontal card
HEIGHTS = ("short", "medium", "tall")
WIDTHS = ("small", "medium")
OPEN_MODES = ("browser", "webview")
DIAL_ACTIONS = ("phone", "enriched", "video")  # enriched and video: GSMA only, not Google RBM (check 61)
MAP_MODES = ("coordinates", "query", "request_location")


# -- suggestions (§11.3) -------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Reply:
    kind: ClassVar[str] = "reply"
    text: str
    postback: str = ""


@dataclass(frozen=True, kw_only=True)
class UrlAction:
    kind: ClassVar[str] = "url"
    text: str
    url: str
    open_mode: str = "browser"


@dataclass(frozen=True, kw_only=True)
class DialAction:
    kind: ClassVar[str] = "dial"
    text: str
    phone: str
    action: str = "phone"
    fallback_url: str = ""


@dataclass(frozen=True, kw_only=True)
class MapAction:
    kind: ClassVar[str] = "map"
    text: str
    mode: str = "coordinates"
    latitude: Decimal | None = None
    longitude: Decimal | None = None
    query: str = ""
    label: str = ""
    fallback_url: str = ""


@dataclass(frozen=True, kw_only=True)
class CalendarAction:
    kind: ClassVar[str] = "calendar"
    text: str
    title: str
    start: datetime.datetime
    end: datetime.datetime
    description: str = ""
    fallback_url: str = ""


Suggestion = Reply | UrlAction | DialAction | MapAction | CalendarAction
SUGGESTION_TYPES = ("reply", "url", "dial", "map", "calendar")


def parse_suggestion(r: Reader, raw: Any, path: str) -> Suggestion | None:
    """One suggestion chip; ``type`` picks the reply or one of the four action categories."""
    data = r.obj(raw, path)
    kind = data.get("type")
    if kind not in SUGGESTION_TYPES:
        r.add(join(path, "type"), _("Choose one of: %(values)s.") % {"values": ", ".join(SUGGESTION_TYPES)})
        return None
    text = r.text(data, "text", path, max_len=CTA_MAX, required=True)
    if kind == "reply":
        return Reply(text=text, postback=r.text(data, "postback", path, max_len=POSTBACK_MAX))
    if kind == "url":
        return UrlAction(
            text=text,
            url=r.url(data, "url", path, required=True),
            open_mode=r.choice(data, "open_mode", path, OPEN_MODES, default="browser"),
        )
    if kind == "dial":
        return DialAction(
            text=text,
            phone=r.phone(data, "phone", path),
            action=r.choice(data, "action", path, DIAL_ACTIONS, default="phone"),
            fallback_url=r.url(data, "fallback_url", path),
        )
    if kind == "map":
        mode = r.choice(data, "mode", path, MAP_MODES, default="coordinates")
        if mode == "request_location":
            return MapAction(text=text, mode=mode)  # request location push: the CTA is all it needs
        coordinates = mode == "coordinates"
        return MapAction(
            text=text,
            mode=mode,
            latitude=r.degrees(data, "latitude", path, limit=90) if coordinates else None,
            longitude=r.degrees(data, "longitude", path, limit=180) if coordinates else None,
            query="" if coordinates else r.text(data, "query", path, max_len=200, required=True),
            label=r.text(data, "label", path, max_len=100),
            fallback_url=r.url(data, "fallback_url", path),
        )
    title = r.text(data, "title", path, max_len=CALENDAR_TITLE_MAX, required=True)
    start = r.moment(data, "start", path)
    end = r.moment(data, "end", path)
    if start and end:
        if (start.tzinfo is None) != (end.tzinfo is None):
            r.add(join(path, "end"), _("Give the start and the end in the same time zone form."))
        elif end <= start:
            r.add(join(path, "end"), _("The event must end after it starts."))
    return CalendarAction(
        text=text,
        title=title,
        start=start or _NO_TIME,  # only when an error is recorded: the value is never returned then
        end=end or _NO_TIME,
        description=r.text(data, "description", path, max_len=CALENDAR_DESCRIPTION_MAX),
        fallback_url=r.url(data, "fallback_url", path),
    )


def _suggestions(r: Reader, data: Mapping[str, Any], path: str, *, max_items: int) -> tuple[Suggestion, ...]:
    return r.items(data, "suggestions", path, parse_suggestion, max_items=max_items, noun="suggestions")


# -- media and cards ---------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Media:
    url: str
    type: str = ""  # MIME type, e.g. image/jpeg


def parse_media(r: Reader, raw: Any, path: str) -> Media | None:
    if raw in (None, "", {}):
        return None
    data = r.obj(raw, path)
    mime = r.text(data, "type", path, max_len=100)
    if mime and not _MIME.match(mime):
        r.add(join(path, "type"), _("Enter a media type such as image/jpeg."))
    return Media(url=r.url(data, "url", path, required=True), type=mime)


@dataclass(frozen=True, kw_only=True)
class Card:
    media: Media | None = None
    title: str = ""
    text: str = ""
    suggestions: tuple[Suggestion, ...] = ()


def parse_card(r: Reader, raw: Any, path: str) -> Card | None:
    data = r.obj(raw, path)
    card = Card(
        media=parse_media(r, data.get("media"), join(path, "media")),
        title=r.text(data, "title", path, max_len=TITLE_MAX),
        text=r.text(data, "text", path, max_len=TEXT_MAX),
        suggestions=_suggestions(r, data, path, max_items=CARD_SUGGESTIONS_MAX),
    )
    if not (card.media or card.title or card.text):
        r.add(path, _("A card needs an image, a title or a text."))
    return card


# -- the four formats (§11.1) ------------------------------------------------------------------------------


@register
@dataclass(frozen=True, kw_only=True)
class RcsText(Format):
    channel: ClassVar[str] = ChannelKind.RCS
    key: ClassVar[str] = "text"
    text: str
    suggestions: tuple[Suggestion, ...] = ()

    @classmethod
    def parse(cls, reader: Reader, data: Mapping[str, Any]) -> Self:
        return cls(
            text=reader.text(data, "text", "", max_len=TEXT_MAX, required=True),
            suggestions=_suggestions(reader, data, "", max_items=MESSAGE_SUGGESTIONS_MAX),
        )


@register
@dataclass(frozen=True, kw_only=True)
class RcsFile(Format):
    channel: ClassVar[str] = ChannelKind.RCS
    key: ClassVar[str] = "file"
    file: Media
    suggestions: tuple[Suggestion, ...] = ()

    @classmethod
    def parse(cls, reader: Reader, data: Mapping[str, Any]) -> Self:
        media = parse_media(reader, data.get("file"), "file")
        if media is None:
            reader.add("file", _("Choose a file."))
        return cls(
            file=media or Media(url=""),
            suggestions=_suggestions(reader, data, "", max_items=MESSAGE_SUGGESTIONS_MAX),
        )

    def summary(self) -> str:
        """The file's name (the last part of its URL) and the suggestion chips."""
        name = self.file.url.split("?", 1)[0].rsplit("/", 1)[-1]
        return " | ".join(p for p in (name, super().summary()) if p)


@register
@dataclass(frozen=True, kw_only=True)
class RcsRichCard(Format):
    channel: ClassVar[str] = ChannelKind.RCS
    key: ClassVar[str] = "rich_card"
    card: Card
    layout: str = "vertical"
    image_alignment: str = "left"
    image_height: str = "medium"
    suggestions: tuple[Suggestion, ...] = ()  # message-level chips, below the card

    @classmethod
    def parse(cls, reader: Reader, data: Mapping[str, Any]) -> Self:
        layout = reader.choice(data, "layout", "", LAYOUTS, default="vertical")
        card = parse_card(reader, data.get("card"), "card") or Card()
        if layout == "horizontal" and card.media is None:
            reader.add("card.media", _("A horizontal card needs an image."))
        return cls(
            card=card,
            layout=layout,
            image_alignment=reader.choice(data, "image_alignment", "", ALIGNMENTS, default="left"),
            image_height=reader.choice(data, "image_height", "", HEIGHTS, default="medium"),
            suggestions=_suggestions(reader, data, "", max_items=MESSAGE_SUGGESTIONS_MAX),
        )


@register
@dataclass(frozen=True, kw_only=True)
class RcsCarousel(Format):
    channel: ClassVar[str] = ChannelKind.RCS
    key: ClassVar[str] = "carousel"
    cards: tuple[Card, ...]
    card_width: str = "medium"
    image_height: str = "medium"
    suggestions: tuple[Suggestion, ...] = ()

    @classmethod
    def parse(cls, reader: Reader, data: Mapping[str, Any]) -> Self:
        return cls(
            cards=reader.items(
                data,
                "cards",
                "",
                parse_card,
                min_items=CAROUSEL_MIN,
                max_items=CAROUSEL_MAX,
                noun="cards",
            ),
            card_width=reader.choice(data, "card_width", "", WIDTHS, default="medium"),
            image_height=reader.choice(data, "image_height", "", HEIGHTS, default="medium"),
            suggestions=_suggestions(reader, data, "", max_items=MESSAGE_SUGGESTIONS_MAX),
        )
