"""Reads on API accesses: the portal list, one access of a company, and the key lookup of authentication."""

from __future__ import annotations

import hmac
from uuid import UUID

from portal.api import keys
from portal.api.models import ApiAccess
from portal.core.models import TenantQuerySet
from portal.tenants.access import get_for_company_or_404
from portal.tenants.models import Company


def api_access_list(*, company: Company) -> TenantQuerySet[ApiAccess]:
    """Return the company's API accesses (the list engine filters, sorts and pages them)."""
    return ApiAccess.objects.for_company(company).order_by("-id")


def api_access_get(*, company: Company, uuid: UUID | str) -> ApiAccess:
    """Return one API access of ``company``; another company's or a missing one raises Http404."""
    return get_for_company_or_404(ApiAccess.objects, company=company, uuid=uuid)


def api_access_for_key(*, key: str) -> ApiAccess | None:
    """Return the API access whose key is ``key``, or None.

    The row is found through the unique prefix index and the stored HMAC is compared in constant time. Keys of
    deactivated companies do not authenticate.
    """
    if not keys.key_is_well_formed(key):
        return None
    # Hash first, so a missing prefix and a wrong key take the same time.
    candidate = keys.key_hash(key)
    access = (
        ApiAccess.objects.select_related("company")
        .filter(key_prefix=keys.key_prefix(key), company__is_active=True)
        .first()
    )
    if access is None or not hmac.compare_digest(candidate, access.key_hash):
        return None
    return access
