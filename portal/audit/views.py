"""The Audit page (guide §14): the company's log, read-only, with expandable details and CSV download."""

from __future__ import annotations

import csv
import json

from django.http import HttpResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET

from portal.accounts import permissions
from portal.audit import actions
from portal.audit.models import AuditEntry
from portal.audit.selectors import audit_detail_list, audit_entry_list
from portal.core.exports import csv_safe
from portal.core.htmx import render_page
from portal.core.list_views import list_response
from portal.core.listing import Column, Kind, ListSpec, register_list
from portal.core.request import PortalRequest
from portal.tenants.access import company_view, get_for_company_or_404


def _cidr(entry: AuditEntry) -> str:
    """Guide §14 shows addresses in CIDR form, e.g. 163.172.249.55/32."""
    if not entry.ip:
        return ""
    return f"{entry.ip}/{128 if ':' in entry.ip else 32}"


AUDIT_LIST = register_list(
    ListSpec(
        key="audit",
        columns=(
            Column("when", gettext_lazy("Date & Time"), "created_at", Kind.DATETIME, required=True),
            Column("user", gettext_lazy("User"), "actor_login"),
            Column("ip", gettext_lazy("IP Address"), "ip", value=_cidr),
            Column(
                "action",
                gettext_lazy("Logged Action"),
                "action",
                Kind.CHOICE,
                choices=tuple(actions.LABELS.items()),
                required=True,
            ),
            Column("target", gettext_lazy("Object"), "target_type", default=False),
        ),
        default_sort="-when",
        page_size=100,  # guide §14 sample: "Rows 1-100 of 8983"
    )
)


@company_view(perm=permissions.AUDIT_VIEW)
@require_GET
def audit_list(request: PortalRequest) -> HttpResponse:
    return list_response(
        request,
        qs=audit_entry_list(company=request.company),
        spec=AUDIT_LIST,
        template="audit/audit_list.html",
        context={"active_menu": "audit"},
    )


@company_view(perm=permissions.AUDIT_VIEW)
@require_GET
def audit_details(request: PortalRequest, uuid: str) -> HttpResponse:
    """The detail rows of one entry (the expand arrow of guide §14), as an htmx fragment or a page."""
    entry = get_for_company_or_404(AuditEntry.objects, company=request.company, uuid=uuid)
    details = audit_detail_list(company=request.company, entry=entry)
    return render_page(
        request, "audit/audit_detail.html", {"entry": entry, "details": details, "active_menu": "audit"},
        partial="details",
    )  # fmt: skip


@company_view(perm=permissions.AUDIT_VIEW)
@require_GET
def audit_details_csv(request: PortalRequest, uuid: str) -> HttpResponse:
    """Download the detail rows of one entry as CSV (guide §14 "Download CSV")."""
    entry = get_for_company_or_404(AuditEntry.objects, company=request.company, uuid=uuid)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="audit-{entry.uuid}.csv"'
    writer = csv.writer(response)
    writer.writerow([_("Table"), _("Operation"), _("Object ID"), _("Old value"), _("New value")])
    for detail in audit_detail_list(company=request.company, entry=entry):
        writer.writerow(
            [
                detail.table,
                detail.get_operation_display(),
                detail.object_id,
                csv_safe(json.dumps(detail.old_value, ensure_ascii=False))
                if detail.old_value is not None
                else "",
                csv_safe(json.dumps(detail.new_value, ensure_ascii=False))
                if detail.new_value is not None
                else "",
            ]
        )
    return response
