"""Broadcasts pages (guide §6): the runs table, the New/Edit form with the steps editor and the SMS composer,
run actions, and the statistics view with per-recipient timelines; the Templates tab and form (guide §7)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from broadcasts import selectors, services, template_services
from broadcasts.chain_form import ChainPage, chain_form_page, sms_counter_of
from broadcasts.forms import (
    BroadcastForm,
    BroadcastSettingsForm,
    TemplateForm,
    initial_of,
    step_data,
    step_rows_of,
    steps_from_post,
    template_initial_of,
    template_step_rows,
)
from broadcasts.models import Broadcast, BroadcastRecipient, BroadcastTemplate
from broadcasts.preview import fallback_preview
from broadcasts.services import StepData, numbers_clean
from portal.accounts import permissions
from portal.core.exceptions import ApplicationError
from portal.core.forms import apply_service_error
from portal.core.htmx import redirect_after_form, render_page
from portal.core.list_views import list_response
from portal.core.listing import Column, Kind, ListSpec, register_list
from portal.core.request import PortalRequest
from portal.tenants.access import company_view, get_for_company_or_404

PERM = permissions.BROADCASTS_MANAGE


def _detail_link(b: Broadcast, text: Any) -> str:
    return format_html('<a href="{}">{}</a>', reverse("broadcasts:broadcast-detail", args=[b.uuid]), text)


def _progress(b: Broadcast) -> str:
    """Guide §6.3 Progress: a bar of successful and unsuccessful shares; the title shows the percentages."""
    shares = b.progress
    title = _("Successful %(ok)s%%, unsuccessful %(bad)s%% of %(total)s contacts") % {
        "ok": shares["successful"],
        "bad": shares["unsuccessful"],
        "total": b.contacts,
    }
    return format_html(
        '<span class="bc-progress" title="{}" aria-label="{}"><span class="bc-ok" style="width:{}%"></span>'
        '<span class="bc-bad" style="width:{}%"></span></span>',
        title,
        title,
        shares["successful"],
        shares["unsuccessful"],
    )


BROADCAST_LIST = register_list(
    ListSpec(
        key="broadcasts",
        columns=(
            Column("id", gettext_lazy("ID"), "id", Kind.NUMBER, required=True, value=lambda b: _detail_link(b, b.pk)),
            Column("name", gettext_lazy("Broadcast Name"), "name", required=True, value=lambda b: _detail_link(b, b.name)),
            Column("progress", gettext_lazy("Progress"), value=_progress),
            Column("type", gettext_lazy("Type"), "type", Kind.CHOICE, choices=tuple(Broadcast.Type.choices)),
            Column("status", gettext_lazy("Status"), "status", Kind.CHOICE, choices=tuple(Broadcast.Status.choices)),
            Column("scheduled", gettext_lazy("Scheduled for"), "scheduled_for", Kind.DATETIME),
            Column("contacts", gettext_lazy("Contacts"), "contacts", Kind.NUMBER),
            Column("launched", gettext_lazy("Launched"), "launched_at", Kind.DATETIME),
            Column("launch", gettext_lazy("Launch"), "launch_type", Kind.CHOICE, choices=tuple(Broadcast.LaunchType.choices)),
            Column("finished", gettext_lazy("Finished"), "finished_at", Kind.DATETIME),
            # Guide §6.2: shown as the template ID.
            Column("template", gettext_lazy("Template"), "template_id", Kind.NUMBER),
            Column("description", gettext_lazy("Description"), "description", default=False),
            Column("created", gettext_lazy("Created"), "created_at", Kind.DATETIME, default=False),
        ),
        default_sort="-id",  # guide §6.3 [INFER]: newest first
        page_size=100,  # guide §6.3: "Show 100 Rows"
    )
)  # fmt: skip


@company_view(perm=PERM)
@require_GET
def broadcast_list(request: PortalRequest) -> HttpResponse:
    """The Broadcasts tab (guide §6.3): the guide's columns, column picker, filter, sort, keyset pages."""
    return list_response(
        request,
        qs=selectors.broadcast_list(company=request.company),
        spec=BROADCAST_LIST,
        template="broadcasts/broadcast_list.html",
        context={"active_menu": "broadcasts"},
    )


# -- the form ------------------------------------------------------------------------------------------------------


def _broadcast_blank(request: PortalRequest) -> dict[str, Any]:
    # Contacts → Targets "To broadcasts" (guide §8.3) opens this form with the target chosen; a quick import
    # (guide §8.2 L2221) opens it with the import's tag.
    return {"instantly": True, "targets": request.GET.getlist("target"), "tags": request.GET.getlist("tag")}


def _broadcast_save(
    request: PortalRequest,
    form: BroadcastForm,
    steps: list[StepData],
    broadcast: Broadcast | None,
    action: str,
) -> Broadcast:
    return services.broadcast_save(
        company=request.company,
        actor=request.user,
        data=form.data_with(steps),
        broadcast=broadcast,
        action=action,
    )


def _broadcast_done(action: str, saved: Broadcast) -> tuple[str, str]:
    if action == "draft":
        return _("The broadcast was saved as a draft."), reverse("broadcasts:broadcast-list")
    if action == "moderation":
        text = _("The broadcast was sent to moderation.")
    elif saved.status == Broadcast.Status.IN_PROGRESS:
        text = _("The broadcast was launched.")
    else:
        text = _("The broadcast was scheduled.")
    return text, reverse("broadcasts:broadcast-detail", args=[saved.uuid])


BROADCAST_PAGE = ChainPage(
    template="broadcasts/broadcast_form.html",
    form_class=BroadcastForm,
    object_name="broadcast",
    actions=("draft", "launch", "moderation"),
    initial_of=initial_of,
    blank_initial=_broadcast_blank,
    rows_of=step_rows_of,
    save=_broadcast_save,
    done=_broadcast_done,
)


@company_view(perm=PERM)
@require_http_methods(["GET", "POST"])
def broadcast_create(request: PortalRequest) -> HttpResponse:
    """New broadcast (guide §6.6): Save as draft, Launch, or Send to moderation when the company has it on."""
    return chain_form_page(request, BROADCAST_PAGE, None)


@company_view(perm=PERM)
@require_http_methods(["GET", "POST"])
def broadcast_edit(request: PortalRequest, uuid: str) -> HttpResponse:
    """Edit a Draft or Scheduled run (guide §6.3: Edit only then); other statuses go to the statistics."""
    broadcast = get_for_company_or_404(Broadcast.objects, company=request.company, uuid=uuid)
    if not broadcast.can_edit:
        messages.error(request, _("Only Draft and Scheduled broadcasts can be edited."))
        return redirect_after_form(request, reverse("broadcasts:broadcast-detail", args=[broadcast.uuid]))
    return chain_form_page(request, BROADCAST_PAGE, broadcast)


@company_view(perm=PERM)
@require_POST
def recipients_count(request: PortalRequest) -> HttpResponse:
    """The resolved recipient count while the form is filled in (htmx fragment; inventory checks 22-23)."""
    form = BroadcastForm(initial=BroadcastForm.posted_initial(request.POST), company=request.company)
    context: dict[str, Any] = {"form": form}
    try:
        numbers = numbers_clean(company=request.company, raw=[request.POST.get("numbers", "")])
    except ValidationError as exc:
        context["count_error"] = " ".join(exc.messages)
        numbers = []
    data = BroadcastForm(request.POST, company=request.company)
    data.is_valid()  # only targets and tags are read; other fields may be incomplete here
    built = data.data_with([])
    context["count"] = selectors.recipients_count(
        company=request.company,
        target_ids=list(built.target_ids),
        tag_ids=list(built.tag_ids),
        numbers=numbers,
    )
    return render_page(request, "broadcasts/broadcast_form.html", context, partial="count")


@company_view(perm=PERM)
@require_POST
def sms_counter(request: PortalRequest) -> HttpResponse:
    """The SMS composer's live counter for step ``n`` (htmx fragment)."""
    n = request.POST.get("n", "0")
    text = request.POST.get(f"s-{n}-text", request.POST.get("text", ""))
    return render_page(
        request,
        "broadcasts/broadcast_form.html",
        {"counter": sms_counter_of(text), "n": n},
        partial="counter",
    )


# -- actions -------------------------------------------------------------------------------------------------------

ACTIONS: dict[str, tuple[Callable[..., Broadcast], Any]] = {
    "pause": (services.broadcast_pause, gettext_lazy("The broadcast was paused.")),
    "resume": (services.broadcast_resume, gettext_lazy("The broadcast was resumed.")),
    "abort": (services.broadcast_abort, gettext_lazy("The broadcast was aborted.")),
    "launch": (services.broadcast_launch, gettext_lazy("The broadcast was launched.")),
    "copy": (services.broadcast_copy, gettext_lazy("A copy was saved as a draft.")),
    "relaunch": (services.broadcast_relaunch_failed, gettext_lazy("A run for the unsuccessful recipients was launched.")),
}  # fmt: skip


def _run_action(
    request: PortalRequest, service: Callable[..., Any], message: Any, **target: Any
) -> tuple[bool, Any]:
    """Run a row action's service on ``target`` (a run or a template): whether it was done and its result. The
    outcome, ``message`` or the service's refusal, is shown on the page the action goes to next."""
    try:
        result = service(company=request.company, actor=request.user, **target)
    except (ApplicationError, ValidationError) as exc:
        messages.error(request, exc.message if isinstance(exc, ApplicationError) else " ".join(exc.messages))
        return False, None
    messages.success(request, str(message))
    return True, result


@company_view(perm=PERM)
@require_POST
def broadcast_action(request: PortalRequest, uuid: str, action: str) -> HttpResponse:
    """Pause, resume, abort, launch, copy or relaunch for failed (guide §6.3 actions; [GAP] Resume and Abort)."""
    broadcast = get_for_company_or_404(Broadcast.objects, company=request.company, uuid=uuid)
    if action not in ACTIONS:
        return HttpResponse(status=404)
    done, result = _run_action(request, *ACTIONS[action], broadcast=broadcast)
    if not done:
        return redirect_after_form(request, reverse("broadcasts:broadcast-detail", args=[broadcast.uuid]))
    if action == "copy":
        return redirect_after_form(request, reverse("broadcasts:broadcast-edit", args=[result.uuid]))
    return redirect_after_form(request, reverse("broadcasts:broadcast-detail", args=[result.uuid]))


# -- statistics ----------------------------------------------------------------------------------------------------

RECIPIENT_LIST = register_list(
    ListSpec(
        key="broadcast_recipients",
        columns=(
            Column("address", gettext_lazy("Phone number"), "address", required=True),
            Column("state", gettext_lazy("Outcome"), "state", Kind.CHOICE, choices=tuple(BroadcastRecipient.State.choices), required=True),
            Column("step", gettext_lazy("Current step"), "step_order", Kind.NUMBER),
            Column("reason", gettext_lazy("Reason"), "reason"),
            Column("resolved", gettext_lazy("Resolved"), "resolved_at", Kind.DATETIME),
        ),
        default_sort="address",
        page_size=50,
    )
)  # fmt: skip


@company_view(perm=PERM)
@require_GET
def broadcast_detail(request: PortalRequest, uuid: str) -> HttpResponse:
    """Statistics of one run (guide §6.5): totals, per-channel messages, recipients; htmx polls ``#stats``."""
    broadcast = get_for_company_or_404(
        Broadcast.objects.select_related("created_by"), company=request.company, uuid=uuid
    )
    stats = selectors.broadcast_stats(company=request.company, broadcast=broadcast)
    context = {
        "broadcast": broadcast,
        "stats": stats,
        "steps": selectors.broadcast_steps(company=request.company, broadcast=broadcast),
        "held": selectors.held_counts(company=request.company, broadcast=broadcast),
        # Issue 7 item 6: the live send-rate gauge with ETA, only while the run sends.
        "rate": selectors.broadcast_send_rate(company=request.company, broadcast=broadcast)
        if broadcast.status == Broadcast.Status.IN_PROGRESS
        else None,
        "active_menu": "broadcasts",
    }
    if request.GET.get("part") == "stats":
        return render_page(request, "broadcasts/broadcast_detail.html", context, partial="stats")
    from portal.core.list_views import list_page_for

    context["page"] = list_page_for(
        request, selectors.recipient_list(company=request.company, broadcast=broadcast), RECIPIENT_LIST
    )
    return render_page(request, "broadcasts/broadcast_detail.html", context, partial="table")


@company_view(perm=PERM)
@require_GET
def broadcast_recipient(request: PortalRequest, uuid: str, pk: int) -> HttpResponse:
    """One recipient's timeline across channels: every attempt, raw and mapped statuses, why the next hop fired."""
    broadcast = get_for_company_or_404(Broadcast.objects, company=request.company, uuid=uuid)
    recipient = get_for_company_or_404(
        BroadcastRecipient.objects.select_related("contact"),
        company=request.company,
        broadcast=broadcast,
        pk=pk,
    )
    timeline = selectors.recipient_timeline(company=request.company, recipient=recipient)
    return render_page(
        request,
        "broadcasts/recipient_detail.html",
        {"broadcast": broadcast, "recipient": recipient, "timeline": timeline, "active_menu": "broadcasts"},
        partial="timeline",
    )


# -- templates (guide §7) ------------------------------------------------------------------------------------------


def _template_link(t: BroadcastTemplate, text: Any) -> str:
    return format_html('<a href="{}">{}</a>', reverse("broadcasts:template-edit", args=[t.uuid]), text)


def _tick(value: bool) -> str:
    return "✓" if value else "×"


TEMPLATE_LIST = register_list(
    ListSpec(
        key="broadcast_templates",
        columns=(
            Column("id", gettext_lazy("ID"), "id", Kind.NUMBER, required=True, value=lambda t: _template_link(t, t.pk)),
            Column("name", gettext_lazy("Name"), "name", required=True, value=lambda t: _template_link(t, t.name)),
            Column("type", gettext_lazy("Type"), "type", Kind.CHOICE, choices=tuple(Broadcast.Type.choices)),
            Column("launches", gettext_lazy("Launches"), "launches", Kind.NUMBER),
            Column("last_launch", gettext_lazy("Last launch"), "last_launch_at", Kind.DATETIME),
            Column("target", gettext_lazy("Target"), value=lambda t: _tick(t.has_target)),
            Column("schedule", gettext_lazy("Schedule"), value=lambda t: _tick(t.is_scheduled)),
            Column("schedule_status", gettext_lazy("Schedule status"), "schedule_status", Kind.CHOICE, choices=tuple(BroadcastTemplate.ScheduleStatus.choices)),
            # Guide §7.1: when the schedule is not active, Next launch shows the last launch instead.
            Column("next_launch", gettext_lazy("Next launch"), "next_launch_at", Kind.DATETIME, value=lambda t: t.shown_next_launch),
            Column("effective_from", gettext_lazy("Effective from"), "effective_from", Kind.DATETIME),
            Column("effective_till", gettext_lazy("Effective till"), "effective_till", Kind.DATETIME),
            Column("state", gettext_lazy("State"), "state", Kind.CHOICE, choices=tuple(BroadcastTemplate.State.choices), default=False),
            Column("description", gettext_lazy("Description"), "description", default=False),
        ),
        default_sort="-id",
        page_size=100,
    )
)  # fmt: skip


@company_view(perm=PERM)
@require_GET
def template_list(request: PortalRequest) -> HttpResponse:
    """The Templates tab (guide §7.2): the guide's columns, column picker, filter, sort, pages."""
    return list_response(
        request,
        qs=selectors.template_list(company=request.company),
        spec=TEMPLATE_LIST,
        template="broadcasts/template_list.html",
        context={"active_menu": "broadcasts"},
    )


def _template_save(
    request: PortalRequest,
    form: TemplateForm,
    steps: list[StepData],
    template: BroadcastTemplate | None,
    action: str,
) -> BroadcastTemplate:
    return template_services.template_save(
        company=request.company,
        actor=request.user,
        data=form.data_with(steps),
        template=template,
        action=action,
    )


def _template_done(action: str, saved: BroadcastTemplate) -> tuple[str, str]:
    text = {
        "save": _("The template was saved."),
        "draft": _("The template was saved as a draft."),
        "moderation": _("The template was sent to moderation."),
    }[action]
    return text, reverse("broadcasts:template-list")


TEMPLATE_PAGE = ChainPage(
    template="broadcasts/template_form.html",
    form_class=TemplateForm,
    object_name="template_obj",
    actions=("save", "draft", "moderation"),
    initial_of=template_initial_of,
    blank_initial=lambda request: {},
    rows_of=template_step_rows,
    save=_template_save,
    done=_template_done,
)


@company_view(perm=PERM)
@require_http_methods(["GET", "POST"])
def template_create(request: PortalRequest) -> HttpResponse:
    """New template (guide §7.3): Save, or Save as draft / Send to moderation when the company has it on."""
    return chain_form_page(request, TEMPLATE_PAGE, None)


@company_view(perm=PERM)
@require_http_methods(["GET", "POST"])
def template_edit(request: PortalRequest, uuid: str) -> HttpResponse:
    """Edit a template (guide §7.2 Edit); a deleted template is not found."""
    template = get_for_company_or_404(
        BroadcastTemplate.objects.filter(deleted_at__isnull=True), company=request.company, uuid=uuid
    )
    return chain_form_page(request, TEMPLATE_PAGE, template)


TEMPLATE_ACTIONS: dict[str, tuple[Callable[..., Any], Any]] = {
    "copy": (template_services.template_copy, gettext_lazy("A copy of the template was saved as a draft.")),
    "launch": (template_services.template_launch, gettext_lazy("A broadcast was launched from the template.")),
    "pause": (template_services.template_schedule_pause, gettext_lazy("The schedule was paused.")),
    "resume": (template_services.template_schedule_resume, gettext_lazy("The schedule was resumed.")),
    "delete": (template_services.template_delete, gettext_lazy("The template was deleted; its past runs are kept.")),
}  # fmt: skip


@company_view(perm=PERM)
@require_POST
def template_action(request: PortalRequest, uuid: str, action: str) -> HttpResponse:
    """Copy, Launch manually, Pause/Resume schedule, Delete (guide §7.2 actions)."""
    template = get_for_company_or_404(
        BroadcastTemplate.objects.filter(deleted_at__isnull=True), company=request.company, uuid=uuid
    )
    if action not in TEMPLATE_ACTIONS:
        return HttpResponse(status=404)
    done, result = _run_action(request, *TEMPLATE_ACTIONS[action], template=template)
    if not done:
        return redirect_after_form(request, reverse("broadcasts:template-list"))
    if action == "launch":
        return redirect_after_form(request, reverse("broadcasts:broadcast-detail", args=[result.uuid]))
    if action == "copy":
        return redirect_after_form(request, reverse("broadcasts:template-edit", args=[result.uuid]))
    return redirect_after_form(request, reverse("broadcasts:template-list"))


@company_view(perm=PERM)
@require_POST
def broadcast_preview(request: PortalRequest) -> HttpResponse:
    """Fallback preview of the form as filled in (issue 7 item 5): paths, counts per hop, SMS parts, finish time.

    htmx: the ``panel`` fragment into ``#broadcast-preview``; without JavaScript, a page of its own.
    """
    form = BroadcastForm(request.POST, company=request.company)
    form.is_valid()  # the preview reads what is usable; the form's own errors show on Save or Launch
    data = form.data_with(step_data(steps_from_post(request.POST)))
    context: dict[str, Any] = {"active_menu": "broadcasts", "time_zone": request.company.time_zone}
    try:
        context["preview"] = fallback_preview(company=request.company, data=data, rcs_check=data.rcs_check)
    except ValidationError as exc:
        context["preview_error"] = " ".join(exc.messages)
    return render_page(request, "broadcasts/broadcast_preview.html", context, partial="panel")


@company_view(perm=PERM)
@require_http_methods(["GET", "POST"])
def broadcast_settings(request: PortalRequest) -> HttpResponse:
    """The company's quiet hours (issue 7 item 5): allowed sending hours in the recipient's time zone."""
    current = selectors.broadcast_settings_get(company=request.company)
    initial = {
        "quiet_enabled": current.quiet_enabled,
        "allowed_from": current.allowed_from,
        "allowed_till": current.allowed_till,
        "tz_attribute": current.tz_attribute,
    }
    form = BroadcastSettingsForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.broadcast_settings_save(
                company=request.company,
                actor=request.user,
                quiet_enabled=form.cleaned_data["quiet_enabled"],
                allowed_from=form.cleaned_data["allowed_from"],
                allowed_till=form.cleaned_data["allowed_till"],
                tz_attribute=form.cleaned_data["tz_attribute"],
            )
        except ValidationError as exc:
            apply_service_error(form, exc)
        else:
            messages.success(request, _("The quiet hours were saved."))
            return redirect_after_form(request, reverse("broadcasts:broadcast-settings"))
    return render_page(
        request,
        "broadcasts/broadcast_settings.html",
        {"form": form, "active_menu": "broadcasts"},
        partial="form",
    )
