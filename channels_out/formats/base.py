"""The common part of the message formats: the error collector, field readers and the format registry.

Every format is a frozen dataclass with ``from_json(data)`` (validates, raises one ``ValidationError`` whose
``message_dict`` names each failing field by its path, e.g. ``cards.1.title``) and ``to_json()`` (the stored
JSON; ``from_json(x.to_json()) == x``). Formats are pure values: no queries, no vendor wire shapes (adapters
translate them, R6).
"""

from __future__ import annotations

import dataclasses
import datetime
import re
from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar, Self, TypeVar

import phonenumbers
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.core.validators import URLValidator
from django.utils.translation import gettext as _
from django.utils.translation import ngettext_lazy

_T = TypeVar("_T")
_URL = URLValidator(schemes=["http", "https"])
_DECIMAL_DEGREES = re.compile(r"^[+-]?\d{1,3}(\.\d+)?$")


# The count messages of list fields, by what they hold (full sentences, so each translates with its plural).
TOO_MANY = {
    "suggestions": ngettext_lazy(
        "At most %(max)d suggestion (there are %(n)d).",
        "At most %(max)d suggestions (there are %(n)d).",
        "max",
    ),
    "cards": ngettext_lazy(
        "At most %(max)d card (there are %(n)d).", "At most %(max)d cards (there are %(n)d).", "max"
    ),
    "buttons": ngettext_lazy(
        "At most %(max)d button (there are %(n)d).", "At most %(max)d buttons (there are %(n)d).", "max"
    ),
    "sections": ngettext_lazy(
        "At most %(max)d section (there are %(n)d).", "At most %(max)d sections (there are %(n)d).", "max"
    ),
    "options": ngettext_lazy(
        "At most %(max)d option (there are %(n)d).", "At most %(max)d options (there are %(n)d).", "max"
    ),
}
TOO_FEW = {
    "suggestions": ngettext_lazy(
        "Add at least %(min)d suggestion.", "Add at least %(min)d suggestions.", "min"
    ),
    "cards": ngettext_lazy("Add at least %(min)d card.", "Add at least %(min)d cards.", "min"),
    "buttons": ngettext_lazy("Add at least %(min)d button.", "Add at least %(min)d buttons.", "min"),
    "sections": ngettext_lazy("Add at least %(min)d section.", "Add at least %(min)d sections.", "min"),
    "options": ngettext_lazy("Add at least %(min)d option.", "Add at least %(min)d options.", "min"),
}


def join(prefix: str, key: str | int) -> str:
    """The path of ``key`` under ``prefix`` (``cards`` + 1 → ``cards.1``)."""
    return f"{prefix}.{key}" if prefix else str(key)


class Reader:
    """Reads one JSON object and collects the errors of every field instead of stopping at the first."""

    def __init__(self) -> None:
        self.errors: dict[str, list[str]] = {}

    def add(self, path: str, message: str) -> None:
        self.errors.setdefault(path or NON_FIELD_ERRORS, []).append(message)

    def raise_if_errors(self) -> None:
        if self.errors:
            raise ValidationError(self.errors)

    def obj(self, data: Any, path: str) -> Mapping[str, Any]:
        """``data`` as an object; an error (and an empty object) otherwise."""
        if isinstance(data, Mapping):
            return data
        self.add(path, _("Expected an object."))
        return {}

    def text(
        self, data: Mapping[str, Any], key: str, path: str, *, max_len: int, required: bool = False
    ) -> str:
        """A string field, stripped; refused when over ``max_len`` characters or empty while required."""
        where = join(path, key)
        raw = data.get(key, "")
        if raw is None:
            raw = ""
        if not isinstance(raw, str):
            self.add(where, _("Expected a text."))
            return ""
        value: str = raw.strip()
        if required and not value:
            self.add(where, _("This field is required."))
        elif len(value) > max_len:
            self.add(
                where,
                _("At most %(max)d characters (it has %(n)d).") % {"max": max_len, "n": len(value)},
            )
        return value

    def url(self, data: Mapping[str, Any], key: str, path: str, *, required: bool = False) -> str:
        """An http(s) URL; a URL without its scheme ("www.example.com") is refused."""
        value = self.text(data, key, path, max_len=2048, required=required)
        if value:
            try:
                _URL(value)
            except ValidationError:
                self.add(
                    join(path, key),
                    _("Enter a full web address starting with http:// or https://."),
                )
        return value

    def choice(
        self, data: Mapping[str, Any], key: str, path: str, choices: tuple[str, ...], *, default: str
    ) -> str:
        value = data.get(key) or default
        if value not in choices:
            self.add(join(path, key), _("Choose one of: %(values)s.") % {"values": ", ".join(choices)})
            return default
        return str(value)

    def degrees(self, data: Mapping[str, Any], key: str, path: str, *, limit: int) -> Decimal | None:
        """A coordinate in decimal degrees (``55.7558``), within ±``limit``; degrees-minutes are refused."""
        where = join(path, key)
        raw = data.get(key)
        if raw is None or raw == "":
            self.add(where, _("This field is required."))
            return None
        if isinstance(raw, bool) or not isinstance(raw, str | int | float):
            self.add(where, _("Enter the coordinate in decimal degrees, e.g. 55.7558."))
            return None
        text = str(raw).strip()
        if not _DECIMAL_DEGREES.match(text):
            self.add(where, _("Enter the coordinate in decimal degrees, e.g. 55.7558."))
            return None
        try:
            value = Decimal(text)
        except InvalidOperation:  # pragma: no cover - the pattern already guarantees a number
            self.add(where, _("Enter the coordinate in decimal degrees, e.g. 55.7558."))
            return None
        if abs(value) > limit:
            self.add(where, _("Must be between -%(max)d and %(max)d.") % {"max": limit})
            return None
        return value

    def phone(self, data: Mapping[str, Any], key: str, path: str) -> str:
        """A phone number in international format, returned as E.164."""
        value = self.text(data, key, path, max_len=32, required=True)
        if not value:
            return ""
        try:
            number = phonenumbers.parse(value, None)
            valid = phonenumbers.is_valid_number(number)
        except phonenumbers.NumberParseException:
            valid = False
        if not valid:
            self.add(
                join(path, key),
                _("Enter a valid phone number in international format, e.g. +14155550100."),
            )
            return value
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)

    def moment(self, data: Mapping[str, Any], key: str, path: str) -> datetime.datetime | None:
        """An ISO 8601 date and time (with or without its offset)."""
        where = join(path, key)
        raw = data.get(key)
        if not raw:
            self.add(where, _("This field is required."))
            return None
        if isinstance(raw, datetime.datetime):
            return raw
        try:
            return datetime.datetime.fromisoformat(str(raw))
        except ValueError:
            self.add(where, _("Enter a date and time such as 2026-05-01T09:30."))
            return None

    def items(
        self,
        data: Mapping[str, Any],
        key: str,
        path: str,
        parse: Callable[[Reader, Any, str], _T | None],
        *,
        max_items: int,
        min_items: int = 0,
        noun: str,  # a key of TOO_MANY / TOO_FEW
    ) -> tuple[_T, ...]:
        """A list field whose items ``parse`` reads; refused over ``max_items`` or under ``min_items``."""
        where = join(path, key)
        raw = data.get(key) or []
        if not isinstance(raw, list | tuple):
            self.add(where, _("Expected a list."))
            return ()
        if len(raw) > max_items:
            self.add(
                where,
                str(TOO_MANY[noun] % {"max": max_items, "n": len(raw)}),
            )
        elif len(raw) < min_items:
            self.add(where, str(TOO_FEW[noun] % {"min": min_items}))
        parsed = (parse(self, item, join(where, index)) for index, item in enumerate(raw))
        return tuple(item for item in parsed if item is not None)


def to_plain(value: Any) -> Any:
    """JSON-ready form of a format value: dataclasses become objects, tuples lists, Decimals and datetimes text."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out = {f.name: to_plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
        kind = getattr(value, "kind", None)
        if isinstance(kind, str):
            out = {"type": kind, **out}
        return {k: v for k, v in out.items() if v not in ("", None, [], {})}
    if isinstance(value, tuple | list):
        return [to_plain(v) for v in value]
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    return value


class Format:
    """Base of every message format; subclasses are frozen dataclasses registered with ``register``."""

    channel: ClassVar[str]
    key: ClassVar[str]

    @classmethod
    def parse(cls, reader: Reader, data: Mapping[str, Any]) -> Self:
        raise NotImplementedError

    @classmethod
    def from_json(cls, data: Any) -> Self:
        """Validate ``data`` and build the format. Raises ValidationError naming every failing field path."""
        reader = Reader()
        value = cls.parse(reader, reader.obj(data, ""))
        reader.raise_if_errors()
        return value

    def to_json(self) -> dict[str, Any]:
        plain = to_plain(self)
        if not isinstance(plain, dict):  # pragma: no cover - every format is a dataclass
            raise TypeError(type(self).__name__)
        return plain

    def summary(self) -> str:
        """The message as one line of text, for the message log and its search (not sent anywhere).

        The readable fields (header, title, text, body, footer, caption, subject, file name, option titles) in
        the order the format declares them, joined by " | ".
        """
        parts: list[str] = []
        _collect_text(to_plain(self), parts)
        return " | ".join(parts)[:SUMMARY_MAX]


SUMMARY_MAX = 5000
_SUMMARY_KEYS = frozenset(
    {
        "subject",
        "subtitle",
        "header",
        "title",
        "text",
        "body",
        "footer",
        "caption",
        "name",
        "button",
        "description",
    }
)


def _collect_text(value: Any, parts: list[str], key: str = "") -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            _collect_text(v, parts, k)
    elif isinstance(value, list):
        for v in value:
            _collect_text(v, parts, key)
    elif isinstance(value, str) and key in _SUMMARY_KEYS and value and value not in parts:
        parts.append(value)


FORMATS: dict[tuple[str, str], type[Format]] = {}
_F = TypeVar("_F", bound=type[Format])


def register(cls: _F) -> _F:
    """Class decorator: file ``cls`` under ``(cls.channel, cls.key)`` in ``FORMATS``."""
    FORMATS[(str(cls.channel), cls.key)] = cls
    return cls
