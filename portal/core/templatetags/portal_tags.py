from __future__ import annotations

import datetime
from collections.abc import Iterable
from typing import Any

from django import template
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from portal.core.listing import Column, Kind

register = template.Library()

# Guide §13.1 and §14 show dates as DD.MM.YYYY HH:MM:SS.
DATETIME_FORMAT = "%d.%m.%Y %H:%M:%S"
DATE_FORMAT = "%d.%m.%Y"


@register.filter
def portal_datetime(value: datetime.datetime | None) -> str:
    if value is None:
        return "—"
    return timezone.localtime(value).strftime(DATETIME_FORMAT)


@register.simple_tag
def cell(value: Any, column: Column) -> str:
    """Format a list cell by its column kind."""
    if value is None or value == "":
        return "—"
    if isinstance(value, datetime.datetime):
        return portal_datetime(value)
    if isinstance(value, datetime.date):
        return value.strftime(DATE_FORMAT)
    if column.kind == Kind.BOOL or isinstance(value, bool):
        return _("Yes") if value else _("No")
    if column.kind == Kind.CHOICE and column.choices:
        return str(dict(column.choices).get(value, value))
    if isinstance(value, Iterable) and not isinstance(value, str):
        return ", ".join(str(v) for v in value)
    return str(value)


@register.inclusion_tag("components/post_button.html")
def post_button(
    label: str, viewname: str, *args: Any, confirm: str = "", danger: bool = False
) -> dict[str, Any]:
    """A row action: a POST form with one small submit button, in list rows and small detail-page lists.

    {% post_button _("Copy") "broadcasts:broadcast-action" obj.uuid "copy" %}
    {% post_button _("Delete") "contacts:word-delete" obj.uuid confirm=confirm danger=True %}

    The URL is reversed from ``viewname`` and ``args`` as ``{% url %}`` does. Texts stay translatable: pass literals
    as ``_("...")`` (makemessages reads them in any tag), texts with placeholders through
    ``{% blocktranslate ... asvar confirm %}``. ``confirm`` becomes the form's data-confirm (portal.js asks before
    posting). The inclusion tag copies the caller's ``csrf_token`` into the component's context, so the component
    renders ``{% csrf_token %}`` without ``takes_context``.
    """
    return {"label": label, "url": reverse(viewname, args=args), "confirm": confirm, "danger": danger}
