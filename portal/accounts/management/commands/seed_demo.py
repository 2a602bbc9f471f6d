"""Create the demo companies and one user per System role, then print the logins (idempotent)."""

from __future__ import annotations

import os
from typing import Any

from django.core.management.base import BaseCommand
from django.db import transaction

from portal.accounts.models import Department, Role, User
from portal.accounts.permissions import SYSTEM_ROLES
from portal.accounts.services import user_create
from portal.tenants.models import Company
from portal.tenants.services import company_create

DEMO_PASSWORD = "Demo-pass-2026"  # noqa: S105  (a published demo password, printed on purpose)
DEMO_COMPANIES = (
    ("Acme Retail", "acme", "US", "America/New_York"),
    ("Globex Bank", "globex", "ES", "Europe/Madrid"),
)


class Command(BaseCommand):
    help = "Create two demo companies with a user per System role and print their logins."

    def handle(self, *args: Any, **options: Any) -> None:
        rows = []
        with transaction.atomic():
            for name, prefix, country, tz in DEMO_COMPANIES:
                company = Company.objects.filter(name=name).first() or company_create(
                    name=name, default_country=country, time_zone=tz
                )
                for spec in SYSTEM_ROLES:
                    login = f"{prefix}-{spec.key.replace('_', '-')}"
                    if not User.objects.filter(username__iexact=login).exists():
                        user_create(
                            company=company,
                            actor=None,
                            login=login,
                            password=DEMO_PASSWORD,
                            email=f"{login}@example.com",
                            first_name=spec.name.split()[0],
                            last_name=name.split()[0],
                            roles=[Role.objects.get(company=company, system_key=spec.key)],
                            must_change_password=False,
                            department=Department.objects.get(
                                company=company,
                                kind=Department.Kind.ADMIN
                                if spec.key == "admin"
                                else Department.Kind.FIRST_LINE,
                            ),
                        )
                    rows.append((name, spec.name, login))
            if not User.objects.filter(username__iexact="backoffice").exists():
                User.objects.create_superuser("backoffice", "backoffice@example.com", DEMO_PASSWORD)
        self.stdout.write(self.style.SUCCESS(f"Demo logins (password for all: {DEMO_PASSWORD})"))
        for company_name, role, login in rows:
            self.stdout.write(f"  {company_name:<14} {role:<18} {login}")
        self.stdout.write(
            f"  {'Back office':<14} {'platform staff':<18} backoffice   (http://127.0.0.1:{os.environ.get('PORT', '8000')}/admin/)"
        )
