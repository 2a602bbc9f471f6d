"""Reads of the audit log (guide §14)."""

from __future__ import annotations

from django.db.models import QuerySet

from portal.audit.models import AuditDetail, AuditEntry
from portal.tenants.models import Company


def audit_entry_list(*, company: Company) -> QuerySet[AuditEntry]:
    return AuditEntry.objects.filter(company=company)


def audit_detail_list(*, company: Company, entry: AuditEntry) -> QuerySet[AuditDetail]:
    return AuditDetail.objects.filter(company=company, entry=entry).order_by("pk")
