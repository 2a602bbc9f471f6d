"""Factories for the root fixtures. Tenant rows always take their company explicitly (CONVENTIONS R12)."""

from __future__ import annotations

import itertools
from collections.abc import Iterable

from portal.accounts.models import Role, User
from portal.accounts.services import user_create
from portal.tenants.models import Company
from portal.tenants.services import company_create

PASSWORD = "Test-pass-2026"
_seq = itertools.count(1)


def make_company(name: str | None = None, **fields: object) -> Company:
    return company_create(name=name or f"Company {next(_seq)}", **fields)


def system_role(company: Company, key: str) -> Role:
    return Role.objects.get(company=company, system_key=key)


def make_role(company: Company, permissions: Iterable[str], name: str | None = None) -> Role:
    return Role.objects.create(
        company=company, name=name or f"Role {next(_seq)}", permissions=sorted(permissions)
    )


def make_user(
    company: Company,
    roles: Iterable[Role] = (),
    *,
    login: str | None = None,
    password: str = PASSWORD,
    must_change_password: bool = False,
    **fields: object,
) -> User:
    login = login or f"user{next(_seq)}"
    return user_create(
        company=company,
        actor=None,
        login=login,
        password=password,
        email=str(fields.pop("email", f"{login}@example.com")),
        first_name=str(fields.pop("first_name", "Test")),
        last_name=str(fields.pop("last_name", login.capitalize())),
        roles=list(roles),
        must_change_password=must_change_password,
        **fields,  # type: ignore[arg-type]
    )
