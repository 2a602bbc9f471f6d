"""The one place that reads phone numbers and attribute values, wherever they enter (form, mass edit, import, API).

Guide §8.1 and G4: one normaliser for validation and duplicate detection everywhere.
"""

from __future__ import annotations

import datetime
import decimal
import math
import re
from typing import Any

import phonenumbers
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.translation import gettext as _

from contacts.models import ContactAttribute

TEXT_MAX = 1000
_DOTTED_DATE = re.compile(r"^(\d{1,2})\.(\d{1,2})\.(\d{4})$")
_YES = {"1", "true", "yes", "y", "on"}
_NO = {"0", "false", "no", "n", "off"}


def normalize_phone(raw: str, *, country: str) -> str:
    """Return ``raw`` as E.164 (``+34612345678``), reading numbers without ``+`` in ``country``.

    Raises ValidationError with a message for the user when the number is empty, unreadable or not a valid number.
    """
    text = (raw or "").strip()
    if not text:
        raise ValidationError(_("Enter a phone number."), code="required")
    # Spreadsheets often turn 34612345678 into 34612345678.0; and 00 is the international prefix in most countries.
    if text.endswith(".0") and text[:-2].isdigit():
        text = text[:-2]
    if text.startswith("00"):
        text = "+" + text[2:]
    try:
        number = phonenumbers.parse(text, country.upper() or None)
    except phonenumbers.NumberParseException as exc:
        raise ValidationError(
            _("“%(value)s” is not a phone number."), code="invalid_phone", params={"value": raw}
        ) from exc
    if not phonenumbers.is_valid_number(number):
        raise ValidationError(
            _("“%(value)s” is not a valid phone number."), code="invalid_phone", params={"value": raw}
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def parse_date(raw: str) -> datetime.date:
    """Read ``YYYY-MM-DD`` or the guide's ``DD.MM.YYYY``; raise ValueError otherwise (``31.02.2024`` too)."""
    text = raw.strip()
    match = _DOTTED_DATE.match(text)
    if match:
        day, month, year = (int(g) for g in match.groups())
        return datetime.date(year, month, day)
    return datetime.date.fromisoformat(text)


def clean_attribute_value(attribute: ContactAttribute, raw: Any) -> Any:
    """Return ``raw`` as the JSON value stored for ``attribute``, or None for an empty value.

    Raises ValidationError naming the attribute when the value does not fit its type (guide §8.2, acceptance 3).
    """
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    kind = attribute.type
    name = attribute.name
    if kind == ContactAttribute.Type.BOOL:
        if isinstance(raw, bool):
            return raw
        lowered = str(raw).strip().lower()
        if lowered in _YES or lowered == _("Yes").lower():
            return True
        if lowered in _NO or lowered == _("No").lower():
            return False
        raise ValidationError(_("%(name)s: answer yes or no.") % {"name": name}, code="invalid")
    if kind == ContactAttribute.Type.NUMBER:
        if isinstance(raw, bool):
            raise ValidationError(_("%(name)s: enter a number.") % {"name": name}, code="invalid")
        try:
            number = decimal.Decimal(str(raw).strip().replace(" ", "").replace(",", "."))
        except decimal.InvalidOperation as exc:
            raise ValidationError(_("%(name)s: enter a number.") % {"name": name}, code="invalid") from exc
        if not number.is_finite() or abs(number) >= 10**15:
            raise ValidationError(_("%(name)s: enter a number.") % {"name": name}, code="invalid")
        # JSON numbers: integral values stay integers so 18 and 18.0 compare and display the same.
        if number == number.to_integral_value():
            return int(number)
        value = float(number)
        if math.isinf(value):
            raise ValidationError(_("%(name)s: enter a number.") % {"name": name}, code="invalid")
        return value
    if kind == ContactAttribute.Type.DATE:
        if isinstance(raw, datetime.datetime):
            return raw.date().isoformat()
        if isinstance(raw, datetime.date):
            return raw.isoformat()
        try:
            return parse_date(str(raw)).isoformat()
        except ValueError as exc:
            raise ValidationError(
                _("%(name)s: “%(value)s” is not a date; use DD.MM.YYYY or YYYY-MM-DD.")
                % {"name": name, "value": raw},
                code="invalid",
            ) from exc
    text = str(raw).strip()
    if len(text) > TEXT_MAX:
        raise ValidationError(
            _("%(name)s: at most %(max)d characters.") % {"name": name, "max": TEXT_MAX}, code="invalid"
        )
    if kind == ContactAttribute.Type.EMAIL:
        try:
            validate_email(text)
        except ValidationError as exc:
            raise ValidationError(
                _("%(name)s: “%(value)s” is not an e-mail address.") % {"name": name, "value": text},
                code="invalid",
            ) from exc
        return text
    if kind == ContactAttribute.Type.LIST:
        by_lower = {option.lower(): option for option in attribute.options}
        if text.lower() not in by_lower:
            raise ValidationError(
                _("%(name)s: “%(value)s” is not in the list (%(options)s).")
                % {"name": name, "value": text, "options": ", ".join(attribute.options)},
                code="invalid",
            )
        return by_lower[text.lower()]
    return text


def display_value(attribute: ContactAttribute, value: Any) -> Any:
    """The stored JSON value as shown in the list and forms (a date as a date, a number as given)."""
    if value is None:
        return None
    if attribute.type == ContactAttribute.Type.DATE and isinstance(value, str):
        try:
            return datetime.date.fromisoformat(value)
        except ValueError:
            return value
    return value
