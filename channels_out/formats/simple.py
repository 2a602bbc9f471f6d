"""The one-format channels: push (§15), TTS (§16), mobile push (§17) and e-mail (§14, without its visual editor)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self

from django.utils.translation import gettext as _

from channels_out.formats.base import Format, Reader, register
from channels_out.kinds import ChannelKind

HEADER_MAX = 200  # [GAP] the guide gives no header limit for push and mobile push
BODY_MAX = 1000  # as channels_out.validation.TEXT_LIMITS
TTS_LANGUAGES = ("en", "es")
TTS_REPEATS = (1, 2, 3)
SUBJECT_MAX = 255  # [GAP]
HTML_MAX = 500_000


@register
@dataclass(frozen=True, kw_only=True)
class Push(Format):
    channel: ClassVar[str] = ChannelKind.PUSH
    key: ClassVar[str] = "push"
    image_url: str = ""
    header: str = ""
    text: str = ""

    @classmethod
    def parse(cls, reader: Reader, data: Mapping[str, Any]) -> Self:
        value = cls(
            image_url=reader.url(data, "image_url", ""),
            header=reader.text(data, "header", "", max_len=HEADER_MAX),
            text=reader.text(data, "text", "", max_len=BODY_MAX),
        )
        if not (value.image_url or value.header or value.text or reader.errors):
            reader.add("", _("A push needs a picture, a header or a text."))
        return value


@register
@dataclass(frozen=True, kw_only=True)
class MobilePush(Format):
    channel: ClassVar[str] = ChannelKind.MOBILE_PUSH
    key: ClassVar[str] = "mobile_push"
    header: str
    text: str

    @classmethod
    def parse(cls, reader: Reader, data: Mapping[str, Any]) -> Self:
        return cls(
            header=reader.text(data, "header", "", max_len=HEADER_MAX, required=True),
            text=reader.text(data, "text", "", max_len=BODY_MAX, required=True),
        )


@register
@dataclass(frozen=True, kw_only=True)
class Tts(Format):
    channel: ClassVar[str] = ChannelKind.TTS
    key: ClassVar[str] = "tts"
    text: str
    language: str = "en"
    repeat: int = 1

    @classmethod
    def parse(cls, reader: Reader, data: Mapping[str, Any]) -> Self:
        repeat = data.get("repeat", 1)
        if isinstance(repeat, str) and repeat.isdigit():
            repeat = int(repeat)
        if isinstance(repeat, bool) or repeat not in TTS_REPEATS:
            reader.add("repeat", _("Choose once, twice or three times."))
            repeat = 1
        language = data.get("language") or "en"
        if language not in TTS_LANGUAGES:
            reader.add("language", _("Choose English or Spanish."))
            language = "en"
        return cls(
            text=reader.text(data, "text", "", max_len=BODY_MAX, required=True),
            language=str(language),
            repeat=int(repeat),
        )


@register
@dataclass(frozen=True, kw_only=True)
class Email(Format):
    channel: ClassVar[str] = ChannelKind.EMAIL
    key: ClassVar[str] = "email"
    subject: str
    subtitle: str = ""
    html: str = ""
    text: str = ""
    # The visual editor's design model, validated by channels_out.email_design.model.Design.
    design: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, reader: Reader, data: Mapping[str, Any]) -> Self:
        from channels_out.email_design import Design, render_html, render_text  # imports this package

        design = data.get("design") or {}
        if not isinstance(design, dict):
            reader.add("design", _("Expected an object."))
            design = {}
        subject = reader.text(data, "subject", "", max_len=SUBJECT_MAX, required=True)
        subtitle = reader.text(data, "subtitle", "", max_len=SUBJECT_MAX)
        html = reader.text(data, "html", "", max_len=HTML_MAX)
        text = reader.text(data, "text", "", max_len=HTML_MAX)
        if design.get("blocks"):
            # Guide §7.4.5.1: the visual editor's design model (channels_out.email_design); missing parts are
            # rendered from it, so a design alone is a complete e-mail (a design without blocks is no design).
            errors_before = len(reader.errors)
            model = Design.parse(reader, design, "design")
            if len(reader.errors) == errors_before:
                design = model.to_json()
                html = html or render_html(model, subject=subject, subtitle=subtitle)
                text = text or render_text(model)
        value = cls(subject=subject, subtitle=subtitle, html=html, text=text, design=design)
        if not (value.html or value.text or any(k.startswith("design.") for k in reader.errors)):
            reader.add("text", _("An e-mail needs an HTML part or a text part."))
        return value

    def summary(self) -> str:
        """The subject and the plain-text part (the design model and the HTML are not searched)."""
        return " | ".join(p for p in (self.subject, self.subtitle, self.text) if p)[:5000]
