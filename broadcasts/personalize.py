"""Personalisation placeholders of the message constructor (inventory A §9.2, acceptance check 78).

Inventory A §9.2 [GAP] decision: the syntax is ``{{name}}`` where *name* is a contact field (``first_name``,
``last_name``, ``phone``, ``email``) or the name of a custom attribute as the Attribute manager shows it, matched
without regard to case and surrounding spaces. A placeholder with no value (no such attribute, an empty value, or a
typed number that is no contact) becomes an empty string.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote

from django.utils.html import escape
from django.utils.translation import gettext_lazy as _

from contacts.models import ContactAttribute

PLACEHOLDER = re.compile(r"\{\{\s*([^{}]+?)\s*\}\}")
CONTACT_FIELDS: tuple[tuple[str, Any], ...] = (
    ("first_name", _("Name")),
    ("last_name", _("Surname")),
    ("phone", _("Phone number")),
    ("email", _("E-mail")),
)


def placeholder_choices(attributes: Iterable[ContactAttribute]) -> list[tuple[str, str]]:
    """The placeholders the composer offers: ``[("{{first_name}}", "Name"), ("{{City}}", "City"), ...]``."""
    choices = [("{{%s}}" % key, str(label)) for key, label in CONTACT_FIELDS]  # noqa: UP031  (braces)
    choices.extend(("{{%s}}" % a.name, a.name) for a in attributes)  # noqa: UP031  (braces)
    return choices


def contact_values(
    *, fields: Mapping[str, Any], attributes: Mapping[str, Any] | None, names: Mapping[str, str]
) -> dict[str, str]:
    """The placeholder values of one recipient: contact fields plus attributes (``names``: lower name → slot key)."""
    values = {key: str(fields.get(key) or "") for key, _label in CONTACT_FIELDS}
    attrs = attributes or {}
    for lowered, key in names.items():
        value = attrs.get(key)
        if value is None:
            continue
        if isinstance(value, bool):
            value = str(_("Yes") if value else _("No"))
        values.setdefault(lowered, str(value))
    return values


def render(text: str, values: Mapping[str, str]) -> str:
    """Fill ``{{name}}`` placeholders of ``text`` from ``values`` (keys lower-cased); unknown ones become ""."""
    if "{{" not in text:
        return text
    return PLACEHOLDER.sub(lambda m: values.get(m.group(1).strip().lower(), ""), text)


def has_placeholders(text: str) -> bool:
    return bool(PLACEHOLDER.search(text))


# The link fields of the constructor formats (channels_out.formats): a value placed in them is percent-encoded.
# (e-mail design blocks: ``src`` and ``href`` of an image, ``url`` of a button or a social link).
URL_KEYS = frozenset({"url", "button_url", "image_url", "media_url", "fallback_url", "src", "href"})


def render_tree(value: Any, values: Mapping[str, str], *, key: str = "") -> Any:
    """``value`` (a constructor format's JSON) with every string leaf rendered (acceptance check 78).

    The ``html`` part of an e-mail gets its values HTML-escaped, so a contact's ``<`` cannot change the markup;
    link fields (``URL_KEYS``) get them percent-encoded, so "Ana María" stays one valid URL; every other leaf is
    plain text. Keys, numbers and booleans are kept as they are.
    """
    if isinstance(value, str):
        if "{{" in value and key == "html":
            return render(value, {k: escape(v) for k, v in values.items()})
        if "{{" in value and key in URL_KEYS:
            return render(value, {k: quote(v, safe="@") for k, v in values.items()})  # mailto:{{email}} works
        return render(value, values)
    if isinstance(value, Mapping):
        # An e-mail's design is personalised too: a design alone is a complete e-mail whose parts the format
        # renders at send time (channels_out.formats.simple.Email), and its links stay valid (percent-encoded).
        return {k: render_tree(v, values, key=str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [render_tree(v, values, key=key) for v in value]
    return value
