"""Pages of Import contacts (guide §8.2, inventory §8.4) and of contacts exports (issue 6 item 7).

The wizard's five steps: 1 File Upload, 2 Select the first row, 3 Attribute mapping, 4 Duplicate record management,
5 Import Results (guide L2252). Checks and imports run as jobs; their pages poll a progress fragment with htmx
(``hx-trigger="every 1s"``), and the fragment stops the polling once the job is done.
"""

from __future__ import annotations

from typing import Any, cast
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from contacts import selectors
from contacts.importing import column_letter
from contacts.models import ContactExport, ContactImport
from contacts.services import exports as export_services
from contacts.services import imports as services
from contacts.views import _ctx
from portal.accounts import permissions
from portal.core.exceptions import ApplicationError
from portal.core.forms import ServiceErrorsMixin, apply_service_error
from portal.core.htmx import is_fragment_request, next_url, redirect_after_form, render_page
from portal.core.request import PortalRequest
from portal.tenants.access import company_view, get_for_company_or_404

Status = ContactImport.Status
STEPS = (
    gettext_lazy("File Upload"),
    gettext_lazy("Select the first row"),
    gettext_lazy("Attribute mapping"),
    gettext_lazy("Duplicate record management"),
    gettext_lazy("Import Results"),
)
GRID_PAGE = 10


class UploadForm(ServiceErrorsMixin, forms.Form):
    file = forms.FileField(label=gettext_lazy("File"), help_text=gettext_lazy(".csv, .xls or .xlsx"))
    tag_name = forms.CharField(
        label=gettext_lazy("Tag"),
        required=False,
        max_length=100,
        help_text=gettext_lazy(
            "Every imported contact gets this tag; an existing tag name adds them to that tag's group."
        ),
    )


class FirstRowForm(ServiceErrorsMixin, forms.Form):
    first_row = forms.IntegerField(label=gettext_lazy("First row with contacts"), min_value=1)
    encoding = forms.ChoiceField(
        label=gettext_lazy("Encoding"), choices=ContactImport.Encoding.choices, required=False
    )


class MappingForm(ServiceErrorsMixin, forms.Form):
    mapping = forms.CharField(required=False)  # errors of the whole mapping are shown here
    preset_name = forms.CharField(
        label=gettext_lazy("Save as preset"),
        required=False,
        max_length=100,
        help_text=gettext_lazy("Next time, files with the same columns are mapped automatically."),
    )


class DuplicatesForm(ServiceErrorsMixin, forms.Form):
    duplicates = forms.ChoiceField(
        label=gettext_lazy("What to do with records whose phone number is stored already?"),
        choices=ContactImport.Duplicates.choices,
        widget=forms.RadioSelect,
    )


def _file_response(handle: Any, **kwargs: Any) -> HttpResponse:
    # A streamed download; company_view is typed for HttpResponse, which FileResponse stands in for here.
    return cast(HttpResponse, FileResponse(handle, **kwargs))


def _get(request: PortalRequest, uuid: str) -> ContactImport:
    return get_for_company_or_404(ContactImport.objects, company=request.company, uuid=uuid)


def _step_of(contact_import: ContactImport) -> int:
    return {
        Status.UPLOADED: 2,
        Status.FIRST_ROW_SET: 3,
        Status.MAPPED: 4,
        Status.CHECKING: 4,
    }.get(ContactImport.Status(contact_import.status), 5)


def _page(request: PortalRequest, contact_import: ContactImport, step: int, **extra: Any) -> HttpResponse:
    steps = [{"n": n, "label": label, "active": n == step} for n, label in enumerate(STEPS, start=1)]
    return render_page(
        request,
        "contacts/import_detail.html",
        _ctx(request, "contacts", imp=contact_import, step=step, steps=steps, **extra),
        partial="step",
    )


@company_view(perm=permissions.CONTACTS_MANAGE)
@require_http_methods(["GET", "POST"])
def import_start(request: PortalRequest) -> HttpResponse:
    """Step 1 (guide §8.2 L2189-L2227): upload, tag, quick or regular import, and the last 5 files."""
    form = UploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        quick = request.POST.get("kind") == ContactImport.Kind.QUICK
        upload = form.cleaned_data["file"]
        try:
            contact_import = services.import_upload(
                company=request.company,
                actor=request.user,
                file=upload,
                name=upload.name or "",
                kind=ContactImport.Kind.QUICK if quick else ContactImport.Kind.REGULAR,
                tag_name=form.cleaned_data["tag_name"],
            )
        except ValidationError as exc:
            apply_service_error(form, exc)
        else:
            return redirect_after_form(request, reverse("contacts:import-detail", args=[contact_import.uuid]))
    steps = [{"n": n, "label": label, "active": n == 1} for n, label in enumerate(STEPS, start=1)]
    return render_page(
        request,
        "contacts/import_start.html",
        _ctx(
            request,
            "contacts",
            form=form,
            steps=steps,
            history=selectors.import_history(company=request.company),
        ),
        partial="form",
    )


@company_view(perm=permissions.CONTACTS_MANAGE)
@require_GET
def import_detail(request: PortalRequest, uuid: str) -> HttpResponse:
    """The step the import is at, or its result once it ran."""
    contact_import = _get(request, uuid)
    status = contact_import.status
    if (
        status in (Status.UPLOADED, Status.FIRST_ROW_SET)
        and contact_import.kind == ContactImport.Kind.REGULAR
    ):
        return redirect(
            "contacts:import-first-row" if status == Status.UPLOADED else "contacts:import-mapping",
            uuid=contact_import.uuid,
        )
    if status in (Status.MAPPED, Status.CHECKING) and contact_import.kind == ContactImport.Kind.REGULAR:
        return redirect("contacts:import-duplicates", uuid=contact_import.uuid)
    return _page(request, contact_import, 5, progress=services.import_progress(contact_import))


@company_view(perm=permissions.CONTACTS_MANAGE)
@require_http_methods(["GET", "POST"])
def import_first_row(request: PortalRequest, uuid: str) -> HttpResponse:
    """Step 2 (L2229-L2258): the raw grid with letter headers; pick the first row that holds contacts."""
    contact_import = _get(request, uuid)
    form = FirstRowForm(
        request.POST or None,
        initial={"first_row": contact_import.first_row, "encoding": contact_import.encoding},
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.import_first_row_set(
                company=request.company,
                actor=request.user,
                contact_import=contact_import,
                first_row=form.cleaned_data["first_row"],
                encoding=form.cleaned_data["encoding"],
            )
        except ValidationError as exc:
            form.apply_service_error(exc)
        except ApplicationError as exc:
            messages.error(request, exc.message)
        else:
            if request.POST.get("action") == "reload":
                return redirect_after_form(request, reverse("contacts:import-first-row", args=[uuid]))
            return redirect_after_form(request, reverse("contacts:import-mapping", args=[uuid]))
    sample = contact_import.sample
    try:
        page = max(1, int(request.GET.get("page", "1")))
    except ValueError:
        page = 1
    pages = max(1, -(-len(sample) // GRID_PAGE))
    page = min(page, pages)
    start = (page - 1) * GRID_PAGE
    rows = [(start + i + 1, row) for i, row in enumerate(sample[start : start + GRID_PAGE])]
    return _page(
        request,
        contact_import,
        2,
        form=form,
        letters=[column_letter(i) for i in range(contact_import.columns)],
        rows=rows,
        grid_page=page,
        grid_pages=pages,
    )


def _mapping_columns(contact_import: ContactImport, mapping: dict[str, str]) -> list[dict[str, Any]]:
    sample = contact_import.sample
    first = contact_import.first_row
    header = sample[first - 2] if first >= 2 and len(sample) >= first - 1 else []
    return [
        {
            "index": i,
            "letter": column_letter(i),
            "header": header[i] if i < len(header) else "",
            "selected": mapping.get(str(i), ""),
        }
        for i in range(contact_import.columns)
    ]


@company_view(perm=permissions.CONTACTS_MANAGE)
@require_http_methods(["GET", "POST"])
def import_mapping(request: PortalRequest, uuid: str) -> HttpResponse:
    """Step 3 (L2260-L2298): a "Select attribute" per column, presets, and a link to the Attribute manager."""
    contact_import = _get(request, uuid)
    form = MappingForm(request.POST or None)
    preset = None
    mapping: dict[str, str] = dict(contact_import.mapping)
    if request.method == "POST":
        mapping = {str(i): request.POST.get(f"col_{i}", "").strip() for i in range(contact_import.columns)}
        if form.is_valid():
            try:
                services.import_mapping_set(
                    company=request.company,
                    actor=request.user,
                    contact_import=contact_import,
                    mapping={int(k): v for k, v in mapping.items()},
                    preset_name=form.cleaned_data["preset_name"],
                )
            except ValidationError as exc:
                form.apply_service_error(exc)
            except ApplicationError as exc:
                messages.error(request, exc.message)
            else:
                return redirect_after_form(request, reverse("contacts:import-duplicates", args=[uuid]))
    else:
        chosen = request.GET.get("preset")
        preset = (
            selectors.import_preset_get(company=request.company, uuid=chosen)
            if chosen
            else services.preset_for(company=request.company, contact_import=contact_import)
        )
        if preset is not None:
            # Guide §8.2 L2294: a preset maps files of a similar structure automatically.
            mapping = {k: v for k, v in preset.mapping.items() if int(k) < contact_import.columns}
    return _page(
        request,
        contact_import,
        3,
        form=form,
        columns=_mapping_columns(contact_import, mapping),
        sample_rows=contact_import.sample[contact_import.first_row - 1 : contact_import.first_row + 7],
        targets=services.mapping_targets(request.company),
        preset=preset,
        presets=selectors.import_preset_list(company=request.company),
        # Guide §8.2 L2292: creating an attribute resets the import to step 1.
        attribute_url=reverse("contacts:attribute-create") + "?next=" + reverse("contacts:import-start"),
    )


@company_view(perm=permissions.CONTACTS_MANAGE)
@require_http_methods(["GET", "POST"])
def import_duplicates(request: PortalRequest, uuid: str) -> HttpResponse:
    """Step 4 (L2300-L2318): the check's matches with stored contacts, and not import / override / enrich."""
    contact_import = _get(request, uuid)
    form = DuplicatesForm(request.POST or None, initial={"duplicates": contact_import.duplicates})
    if request.method == "POST" and form.is_valid():
        try:
            services.import_duplicates_set(
                company=request.company,
                actor=request.user,
                contact_import=contact_import,
                mode=form.cleaned_data["duplicates"],
            )
        except ValidationError as exc:
            form.apply_service_error(exc)
        except ApplicationError as exc:
            messages.error(request, exc.message)
        else:
            return redirect_after_form(request, reverse("contacts:import-detail", args=[uuid]))
    return _page(request, contact_import, 4, form=form, progress=services.import_progress(contact_import))


@company_view(perm=permissions.CONTACTS_MANAGE)
@require_GET
def import_progress(request: PortalRequest, uuid: str) -> HttpResponse:
    """The progress fragment polled while a check or an import runs; a finished job refreshes its page.

    A finished quick import goes on to Broadcasts (guide §8.2 L2221).
    """
    contact_import = _get(request, uuid)
    if not contact_import.is_busy and is_fragment_request(request):
        if contact_import.kind == ContactImport.Kind.QUICK and contact_import.status == Status.IMPORTED:
            return _after_quick_import(request, contact_import)
        return HttpResponseClientRedirect(next_url(request, reverse("contacts:import-detail", args=[uuid])))
    return render_page(
        request,
        "contacts/import_detail.html",
        {"imp": contact_import, "progress": services.import_progress(contact_import)},
        partial="progress",
    )


def _after_quick_import(request: PortalRequest, contact_import: ContactImport) -> HttpResponse:
    """Guide §8.2 L2221 (acceptance 24): on to New broadcast with the imported numbers (the import's tag) as
    recipients; a role that may not create broadcasts stays on the import's report."""
    tag = contact_import.tag
    messages.success(
        request,
        _(
            "%(imported)d new numbers imported, %(skipped)d stored ones kept; all of them carry the tag "
            "“%(tag)s”."
        )
        % {
            "imported": contact_import.imported,
            "skipped": contact_import.skipped,
            "tag": tag.name if tag else "",
        },
    )
    if tag is not None and request.membership.has_perm(permissions.BROADCASTS_MANAGE):
        return HttpResponseClientRedirect(
            reverse("broadcasts:broadcast-create") + "?" + urlencode({"tag": str(tag.uuid)})
        )
    return HttpResponseClientRedirect(reverse("contacts:import-detail", args=[contact_import.uuid]))


@company_view(perm=permissions.CONTACTS_MANAGE)
@require_POST
def import_run(request: PortalRequest, uuid: str) -> HttpResponse:
    """Step 5 *Import*: queue the job and go to Contacts (L2347), which shows its progress and report."""
    contact_import = _get(request, uuid)
    try:
        services.import_run_start(company=request.company, actor=request.user, contact_import=contact_import)
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect_after_form(request, reverse("contacts:import-detail", args=[uuid]))
    if contact_import.kind == ContactImport.Kind.QUICK:
        return redirect_after_form(request, reverse("contacts:import-detail", args=[uuid]))
    return redirect_after_form(request, reverse("contacts:contact-list") + f"?import={contact_import.uuid}")


@company_view(perm=permissions.CONTACTS_MANAGE)
@require_POST
def import_cancel(request: PortalRequest, uuid: str) -> HttpResponse:
    contact_import = _get(request, uuid)
    try:
        services.import_cancel(company=request.company, actor=request.user, contact_import=contact_import)
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect_after_form(request, reverse("contacts:import-detail", args=[uuid]))
    messages.success(request, _("The import was cancelled."))
    return redirect_after_form(request, reverse("contacts:import-start"))


@company_view(perm=permissions.CONTACTS_MANAGE)
@require_GET
def import_report(request: PortalRequest, uuid: str) -> HttpResponse:
    """The rejected rows of the check or the import as CSV: row number, phone number, reason (G9)."""
    contact_import = _get(request, uuid)
    if not contact_import.report:
        raise Http404("No report yet")
    return _file_response(
        contact_import.report.open("rb"),
        as_attachment=True,
        filename=f"rejected-rows-{contact_import.uuid}.csv",
        content_type="text/csv; charset=utf-8",
    )


# -- exports (issue 6 item 7) ----------------------------------------------------------------------------------


def _export_allowed(request: PortalRequest) -> None:
    # Exporting contacts needs both: the data (Manage Contacts) and the right to take it out (Export Entities).
    if not request.membership.has_perm(permissions.CONTACTS_MANAGE):
        raise PermissionDenied(_("Your role does not allow this."))


@company_view(perm=permissions.EXPORT_ENTITIES)
@require_POST
def export_create(request: PortalRequest) -> HttpResponse:
    """Export the contacts the list's current filter selects, as CSV or XLSX, in the background."""
    _export_allowed(request)
    params = {k: request.POST[k] for k in export_services.FILTER_KEYS if request.POST.get(k)}
    try:
        export = export_services.export_start(
            company=request.company,
            actor=request.user,
            params=params,
            file_format=request.POST.get("format", ""),
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect_after_form(request, reverse("contacts:contact-list"))
    return redirect_after_form(request, reverse("contacts:export-detail", args=[export.uuid]))


@company_view(perm=permissions.EXPORT_ENTITIES)
@require_GET
def export_detail(request: PortalRequest, uuid: str) -> HttpResponse:
    """The export's progress (polled fragment ``progress``) and, when done, its download link."""
    _export_allowed(request)
    export = get_for_company_or_404(ContactExport.objects, company=request.company, uuid=uuid)
    return render_page(
        request,
        "contacts/export_detail.html",
        _ctx(request, "contacts", export=export, percent=export_services.export_progress(export)),
        partial="progress",
    )


@company_view(perm=permissions.EXPORT_ENTITIES)
@require_GET
def export_download(request: PortalRequest, uuid: str) -> HttpResponse:
    _export_allowed(request)
    export = get_for_company_or_404(ContactExport.objects, company=request.company, uuid=uuid)
    if export.status != ContactExport.Status.DONE or not export.file:
        raise Http404("Not ready")
    content_type = (
        "text/csv; charset=utf-8"
        if export.format == ContactExport.Format.CSV
        else "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    return _file_response(
        export.file.open("rb"),
        as_attachment=True,
        filename=f"contacts-{export.created_at:%Y%m%d-%H%M%S}.{export.format}",
        content_type=content_type,
    )
