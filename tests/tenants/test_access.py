from __future__ import annotations

import uuid

import pytest
from django.http import Http404

from portal.accounts.models import Role
from portal.tenants.access import get_for_company_or_404
from portal.tenants.models import Company


def test_get_for_company_or_404_returns_own_object(company: Company) -> None:
    role = Role.objects.filter(company=company).first()
    assert role is not None
    assert get_for_company_or_404(Role.objects, company=company, uuid=role.uuid) == role


def test_other_company_object_is_404_like_a_missing_one(company: Company, other_company: Company) -> None:
    foreign = Role.objects.filter(company=other_company).first()
    assert foreign is not None
    with pytest.raises(Http404):
        get_for_company_or_404(Role.objects, company=company, uuid=foreign.uuid)
    with pytest.raises(Http404):
        get_for_company_or_404(Role.objects, company=company, uuid=uuid.uuid4())
    with pytest.raises(Http404):
        get_for_company_or_404(Role.objects, company=company, uuid="not-a-uuid")


def test_new_company_gets_the_four_system_roles(company: Company) -> None:
    roles = {r.system_key: len(r.permissions) for r in Role.objects.filter(company=company)}
    # Guide §13.4: Admin 27, Broadcast manager 16, Finance manager 7, NOC engineer 14 permissions.
    assert roles == {"admin": 27, "broadcast_manager": 16, "finance_manager": 7, "noc_engineer": 14}
