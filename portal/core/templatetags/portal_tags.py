from __future__ import annotations

import datetime
from collections.abc import Iterable
from typing import Any

from django import template
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
