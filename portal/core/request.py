"""The typed request every portal view receives (CONVENTIONS R5)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.http import HttpRequest

if TYPE_CHECKING:
    from django_htmx.middleware import HtmxDetails

    from portal.accounts.models import Membership, User
    from portal.tenants.models import Company


class PortalRequest(HttpRequest):
    user: User
    company: Company
    membership: Membership
    htmx: HtmxDetails
