"""WhatsApp templates (guide §12.4): list, *Add template* (General, Card type), view, submit, delete."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from assets import selectors, services
from assets.forms import BUTTON_ROWS, WhatsAppTemplateForm, buttons_from_post
from assets.models import WhatsAppTemplate
from assets.tabs import section_context
from channels_out.kinds import ChannelKind
from portal.accounts import permissions
from portal.core.htmx import redirect_after_form, render_page
from portal.core.list_views import list_response
from portal.core.listing import Column, Kind, ListSpec, register_list
from portal.core.request import PortalRequest
from portal.tenants.access import company_view, get_for_company_or_404

WHATSAPP_LIST = register_list(
    ListSpec(
        key="assets-whatsapp-templates",
        columns=(
            Column("name", gettext_lazy("Registered Name"), "registered_name", required=True),
            Column(
                "category",
                gettext_lazy("Service Category"),
                "category",
                Kind.CHOICE,
                choices=tuple(WhatsAppTemplate.Category.choices),
            ),
            Column("sender", gettext_lazy("Sender ID"), "sender_id"),
            Column(
                "status",
                gettext_lazy("Status"),
                "status",
                Kind.CHOICE,
                choices=tuple(WhatsAppTemplate.Status.choices),
            ),
            Column("language", gettext_lazy("Language"), "language"),
            Column("created", gettext_lazy("Created"), "created_at", Kind.DATETIME),
        ),
        default_sort="-created",
    )
)


@company_view(perm=permissions.WHATSAPP_TEMPLATES_MANAGE)
@require_GET
def whatsapp_list(request: PortalRequest) -> HttpResponse:
    return list_response(
        request,
        qs=selectors.whatsapp_template_list(company=request.company),
        spec=WHATSAPP_LIST,
        template="assets/whatsapp_list.html",
        context=section_context(request, "whatsapp"),
    )


def _data(form: WhatsAppTemplateForm, buttons: list[dict[str, str]]) -> services.WhatsAppTemplateData:
    d = form.cleaned_data
    return services.WhatsAppTemplateData(
        registered_name=d["registered_name"].strip(),
        sender_id=d["sender_id"].strip(),
        category=d["category"],
        language=d["language"].strip(),
        validity_seconds=d["validity_seconds"],
        header_type=d["header_type"],
        header_text=d["header_text"],
        header_media_url=d["header_media_url"],
        body=d["body"],
        footer=d["footer"],
        buttons=buttons,
        header_examples=[d["header_example"]] if d["header_example"].strip() else [],
        body_examples=d["body_examples"].splitlines(),
    )


_FIELD_OF = {"header_examples": "header_example", "header": "header_text", "buttons": None}


@company_view(perm=permissions.WHATSAPP_TEMPLATES_MANAGE)
@require_http_methods(["GET", "POST"])
def whatsapp_create(request: PortalRequest) -> HttpResponse:
    """Guide §12.4.1: *Save as draft* (→ Draft) or *Save* (submit → Submitted)."""
    form = WhatsAppTemplateForm(request.POST or None)
    buttons = buttons_from_post(request.POST) if request.method == "POST" else []
    button_errors: list[str] = []
    if request.method == "POST" and form.is_valid():
        try:
            template = services.whatsapp_template_create(
                company=request.company,
                actor=request.user,
                data=_data(form, buttons),
                submit=request.POST.get("action") != "draft",
            )
        except ValidationError as exc:
            errors = exc.message_dict
            button_errors = errors.pop("buttons", [])
            for key, msgs in errors.items():
                name = _FIELD_OF.get(key, key)
                for msg in msgs:
                    form.add_error(name if name in form.fields else None, msg)
        else:
            if template.status == WhatsAppTemplate.Status.SUBMITTED:
                messages.success(
                    request,
                    _("WhatsApp template %(name)s was submitted for approval.")
                    % {"name": template.registered_name},
                )
            else:
                messages.success(
                    request,
                    _("WhatsApp template %(name)s was saved as a draft.")
                    % {"name": template.registered_name},
                )
            return redirect_after_form(request, reverse("assets:whatsapp-detail", args=[template.uuid]))
    rows: list[dict[str, Any]] = [dict(b) for b in buttons] + [{} for _n in range(BUTTON_ROWS - len(buttons))]
    return render_page(
        request,
        "assets/whatsapp_form.html",
        section_context(
            request,
            "whatsapp",
            form=form,
            button_rows=[(n, row) for n, row in enumerate(rows)],
            button_errors=button_errors,
            whatsapp=ChannelKind.WHATSAPP,
        ),
        partial="form",
    )


@company_view(perm=permissions.WHATSAPP_TEMPLATES_MANAGE)
@require_GET
def whatsapp_detail(request: PortalRequest, uuid: str) -> HttpResponse:
    """Guide §12.4 *View*: read-only (there is no edit after submission)."""
    template = get_for_company_or_404(WhatsAppTemplate.objects, company=request.company, uuid=uuid)
    return render_page(
        request, "assets/whatsapp_detail.html", section_context(request, "whatsapp", template=template)
    )


@company_view(perm=permissions.WHATSAPP_TEMPLATES_MANAGE)
@require_POST
def whatsapp_submit(request: PortalRequest, uuid: str) -> HttpResponse:
    template = get_for_company_or_404(WhatsAppTemplate.objects, company=request.company, uuid=uuid)
    try:
        services.whatsapp_template_submit(company=request.company, actor=request.user, template=template)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(
            request,
            _("WhatsApp template %(name)s was submitted for approval.") % {"name": template.registered_name},
        )
    return redirect_after_form(request, reverse("assets:whatsapp-detail", args=[template.uuid]))


@company_view(perm=permissions.WHATSAPP_TEMPLATES_MANAGE)
@require_POST
def whatsapp_delete(request: PortalRequest, uuid: str) -> HttpResponse:
    """Guide §12.4: delete from both the System and WhatsApp, or from WhatsApp only (the row stays, Deleted)."""
    template = get_for_company_or_404(WhatsAppTemplate.objects, company=request.company, uuid=uuid)
    whatsapp_only = request.POST.get("scope") == "whatsapp"
    try:
        services.whatsapp_template_delete(
            company=request.company, actor=request.user, template=template, whatsapp_only=whatsapp_only
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect_after_form(request, reverse("assets:whatsapp-detail", args=[template.uuid]))
    messages.success(
        request, _("WhatsApp template %(name)s was deleted.") % {"name": template.registered_name}
    )
    return redirect_after_form(request, reverse("assets:whatsapp-list"))
