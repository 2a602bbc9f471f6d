"""Writes on companies: creating one also seeds its System roles (guide §13.4)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import transaction

from portal.tenants.models import Company

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser


@transaction.atomic
def company_save(*, company: Company, actor: AbstractBaseUser | AnonymousUser | None) -> Company:
    """Validate and save a company; a new one gets the four System roles.

    Side effects: writes the company row and, on creation, its System role rows.
    Raises ValidationError when a field is invalid.
    """
    from portal.accounts.services import departments_seed_defaults, roles_seed_system

    created = company.pk is None
    company.full_clean()
    company.save()
    if created:
        roles_seed_system(company=company)
        departments_seed_defaults(company=company)
    return company


def company_create(*, name: str, **fields: object) -> Company:
    """Create a company with its System roles (used by the back office, demo data and tests)."""
    return company_save(company=Company(name=name, **fields), actor=None)
