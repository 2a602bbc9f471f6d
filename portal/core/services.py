"""Writes of cross-cutting UI state: the columns a user keeps on a list."""

from __future__ import annotations

from collections.abc import Sequence

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from portal.accounts.models import User
from portal.core.listing import LIST_SPECS
from portal.core.models import ListPreference
from portal.tenants.models import Company


def list_columns_save(*, company: Company, user: User, list_key: str, columns: Sequence[str]) -> list[str]:
    """Keep the user's column choice for ``list_key``; required columns are always kept.

    Side effects: upserts one ListPreference row. Raises ValidationError for an unknown list or column, or when
    no column is left.
    """
    spec = LIST_SPECS.get(list_key)
    if spec is None:
        raise ValidationError(_("Unknown list."))
    known = {c.key for c in spec.columns}
    unknown = [c for c in columns if c not in known]
    if unknown:
        raise ValidationError(_("Unknown columns: %(cols)s.") % {"cols": ", ".join(unknown)})
    chosen = [c.key for c in spec.columns if c.key in set(columns) or c.required]
    if not chosen:
        raise ValidationError(_("Keep at least one column."))
    ListPreference.objects.update_or_create(
        company=company, user=user, list_key=list_key, defaults={"columns": chosen}
    )
    return chosen
