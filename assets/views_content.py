"""Content templates (guide §12.3): the list, the add/edit page with the message constructor, and the two controls
of a step editor, "Save as template" and "Pick a template" (issue #8 item 7, inventory A §9.2)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse, HttpResponseBadRequest
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from assets import selectors, services
from assets.models import ContentTemplate
from assets.tabs import section_context
from channels_out.constructor import formats_for, read_message, render_editor
from channels_out.constructor.registry import PREFIX
from channels_out.kinds import ChannelKind
from channels_out.sms import sms_info
from portal.accounts import permissions
from portal.core.htmx import redirect_after_form, render_page
from portal.core.list_views import list_response
from portal.core.listing import Column, Kind, ListSpec, register_list
from portal.core.request import PortalRequest
from portal.tenants.access import company_view, get_for_company_or_404

EDITOR_PREFIX = "ct"


def _format_label(template: ContentTemplate) -> str:
    return str(dict(formats_for(template.channel)).get(template.format_key, template.format_key))


CONTENT_LIST = register_list(
    ListSpec(
        key="assets-content-templates",
        columns=(
            Column("id", gettext_lazy("ID"), "id", Kind.NUMBER),
            Column("name", gettext_lazy("Template Name"), "name", required=True),
            Column(
                "channel", gettext_lazy("Channel"), "channel", Kind.CHOICE, choices=tuple(ChannelKind.choices)
            ),
            Column("format", gettext_lazy("Format"), None, value=_format_label),
            Column("modified", gettext_lazy("Last Modified"), "updated_at", Kind.DATETIME),
        ),
        default_sort="-modified",
    )
)


def composable_channels() -> list[tuple[str, str]]:
    """The channels of content templates (guide §12.3 lists 8): SMS (a text) and every channel whose messages the
    constructor composes (a channel joins when its editor is registered)."""
    return [
        (value, str(label))
        for value, label in ChannelKind.choices
        if value == ChannelKind.SMS or formats_for(value)
    ]


def _read(request: PortalRequest, channel: str) -> tuple[str, dict[str, Any]]:
    if channel == ChannelKind.SMS:
        return "text", {"text": request.POST.get(f"{EDITOR_PREFIX}-text", "")}
    return read_message(request.POST, EDITOR_PREFIX)


def _sms_counter(text: str) -> dict[str, Any]:
    info = sms_info(text)
    return {
        "encoding": info.encoding,
        "characters": len(text),
        "segments": info.segments,
        "per": info.per_segment,
    }


def _editor(
    request: PortalRequest, channel: str, format_key: str, data: dict[str, Any], errors: dict[str, list[str]]
) -> str:
    if channel == ChannelKind.SMS:
        text = str(data.get("text", ""))
        return render_to_string(
            "assets/_sms_editor.html",
            {
                "prefix": EDITOR_PREFIX,
                "text": text,
                "counter": _sms_counter(text),
                "errors": errors.get("text", []),
            },
            request=request,
        )
    return render_editor(
        request, prefix=EDITOR_PREFIX, channel=channel, format_key=format_key, data=data, errors=errors
    )


@company_view(perm=permissions.CONTENT_TEMPLATES_MANAGE)
@require_POST
def content_sms_counter(request: PortalRequest) -> HttpResponse:
    """The live counter of an SMS template's text (encoding, characters, SMS parts)."""
    text = request.POST.get(f"{EDITOR_PREFIX}-text", "")
    return render(
        request, "assets/_sms_counter.html", {"prefix": EDITOR_PREFIX, "counter": _sms_counter(text)}
    )


@company_view(perm=permissions.CONTENT_TEMPLATES_MANAGE)
@require_GET
def content_list(request: PortalRequest) -> HttpResponse:
    return list_response(
        request,
        qs=selectors.content_template_list(company=request.company),
        spec=CONTENT_LIST,
        template="assets/content_list.html",
        context=section_context(request, "content"),
    )


def _errors(exc: ValidationError) -> tuple[dict[str, list[str]], list[str]]:
    """Split a service error into the editor's field paths and the page's own fields (name, channel)."""
    if not hasattr(exc, "error_dict"):
        return {}, list(exc.messages)
    editor: dict[str, list[str]] = {}
    page: list[str] = []
    for path, msgs in exc.message_dict.items():
        if path in ("name", "channel", "content"):
            page.extend(msgs)
        else:
            editor[path] = msgs
    return editor, page


def _form_page(request: PortalRequest, template: ContentTemplate | None) -> HttpResponse:
    channel = (
        template.channel if template else request.GET.get("channel", "") or request.POST.get("channel", "")
    )
    channels = composable_channels()
    if template is None and channel not in dict(channels):
        # Guide §12.3 add panel: Name, Channel, then the channel's editor. First the channel.
        return render_page(
            request,
            "assets/content_form.html",
            section_context(request, "content", channels=channels, template=None, choose_channel=True),
        )
    name = request.POST.get("name", template.name if template else "")
    format_key = template.format_key if template else ""
    data: dict[str, Any] = dict(template.content) if template else {}
    editor_errors: dict[str, list[str]] = {}
    page_errors: list[str] = []
    if request.method == "POST":
        format_key, data = _read(request, channel)
        try:
            if template is None:
                template = services.content_template_create(
                    company=request.company,
                    actor=request.user,
                    name=name,
                    channel=channel,
                    format_key=format_key,
                    content=data,
                )
            else:
                services.content_template_update(
                    company=request.company,
                    actor=request.user,
                    template=template,
                    name=name,
                    format_key=format_key,
                    content=data,
                )
        except ValidationError as exc:
            editor_errors, page_errors = _errors(exc)
        else:
            messages.success(request, _("Content template %(name)s was saved.") % {"name": template.name})
            return redirect_after_form(request, reverse("assets:content-list"))
    editor = mark_safe(_editor(request, channel, format_key, data, editor_errors))  # noqa: S308  (autoescaped)
    return render_page(
        request,
        "assets/content_form.html",
        section_context(
            request,
            "content",
            template=template if template and template.pk else None,
            channel=channel,
            channel_label=ChannelKind(channel).label,
            name=name,
            editor=editor,
            page_errors=page_errors,
        ),
        partial="form",
    )


@company_view(perm=permissions.CONTENT_TEMPLATES_MANAGE)
@require_http_methods(["GET", "POST"])
def content_create(request: PortalRequest) -> HttpResponse:
    return _form_page(request, None)


@company_view(perm=permissions.CONTENT_TEMPLATES_MANAGE)
@require_http_methods(["GET", "POST"])
def content_edit(request: PortalRequest, uuid: str) -> HttpResponse:
    template = get_for_company_or_404(ContentTemplate.objects, company=request.company, uuid=uuid)
    return _form_page(request, template)


@company_view(perm=permissions.CONTENT_TEMPLATES_MANAGE)
@require_http_methods(["GET", "POST"])
def content_rename(request: PortalRequest, uuid: str) -> HttpResponse:
    """Rename only (the list's row action); the message stays as it is."""
    template = get_for_company_or_404(ContentTemplate.objects, company=request.company, uuid=uuid)
    error = ""
    name = request.POST.get("name", template.name)
    if request.method == "POST":
        try:
            services.content_template_update(
                company=request.company, actor=request.user, template=template, name=name
            )
        except ValidationError as exc:
            error = " ".join(exc.messages)
        else:
            messages.success(request, _("Content template %(name)s was saved.") % {"name": template.name})
            return redirect_after_form(request, reverse("assets:content-list"))
    return render_page(
        request,
        "assets/content_rename.html",
        section_context(request, "content", template=template, name=name, error=error),
        partial="form",
    )


@company_view(perm=permissions.CONTENT_TEMPLATES_MANAGE)
@require_POST
def content_delete(request: PortalRequest, uuid: str) -> HttpResponse:
    template = get_for_company_or_404(ContentTemplate.objects, company=request.company, uuid=uuid)
    services.content_template_delete(company=request.company, actor=request.user, template=template)
    messages.success(request, _("Content template %(name)s was deleted.") % {"name": template.name})
    return redirect_after_form(request, reverse("assets:content-list"))


# -- the step editor's controls ----------------------------------------------------------------------------------


def _prefix(request: PortalRequest) -> str:
    source = request.POST if request.method == "POST" else request.GET
    prefix = source.get("prefix", "")
    if not PREFIX.match(prefix):
        raise ValidationError(_("Unknown message editor."))
    return prefix


def _tools(request: PortalRequest, prefix: str, channel: str, **extra: Any) -> HttpResponse:
    return render(
        request, "assets/_content_template_tools.html", {"prefix": prefix, "channel": channel, **extra}
    )


@company_view(perm=permissions.CONTENT_TEMPLATES_MANAGE)
@require_POST
def content_save_from_editor(request: PortalRequest) -> HttpResponse:
    """*Save as template* in a step: the step's editor fields (hx-include) saved under the typed name."""
    try:
        prefix = _prefix(request)
    except ValidationError as exc:
        return HttpResponseBadRequest(" ".join(exc.messages))
    channel = request.POST.get(f"{prefix}-channel", "")
    name = request.POST.get(f"{prefix}-ct-name", "")
    format_key, data = read_message(request.POST, prefix)
    try:
        template = services.content_template_create(
            company=request.company,
            actor=request.user,
            name=name,
            channel=channel,
            format_key=format_key,
            content=data,
        )
    except ValidationError as exc:
        paths = exc.message_dict if hasattr(exc, "error_dict") else {"": exc.messages}
        errors = [
            msg if path in ("", "name", "channel", "content", "__all__") else f"{path}: {msg}"
            for path, msgs in paths.items()
            for msg in msgs
        ]
        return _tools(request, prefix, channel, errors=errors, name=name)
    return _tools(
        request,
        prefix,
        channel,
        saved=_("Saved as content template %(name)s.") % {"name": template.name},
    )


@company_view(perm=permissions.CONTENT_TEMPLATES_MANAGE)
@require_GET
def content_pick_list(request: PortalRequest) -> HttpResponse:
    """*Pick a template*: the company's templates of the step's channel."""
    try:
        prefix = _prefix(request)
    except ValidationError as exc:
        return HttpResponseBadRequest(" ".join(exc.messages))
    channel = request.GET.get("channel", "")
    labels = dict(formats_for(channel))
    templates = selectors.content_template_list(company=request.company, channel=channel).order_by("name")[
        :200
    ]
    items = [(t, labels.get(t.format_key, t.format_key)) for t in templates]
    return render(
        request, "assets/_content_template_pick.html", {"prefix": prefix, "channel": channel, "items": items}
    )


@company_view(perm=permissions.CONTENT_TEMPLATES_MANAGE)
@require_GET
def content_apply(request: PortalRequest, uuid: str) -> HttpResponse:
    """The step's editor (``#<prefix>-editor``) filled with the picked template's message."""
    try:
        prefix = _prefix(request)
    except ValidationError as exc:
        return HttpResponseBadRequest(" ".join(exc.messages))
    template = get_for_company_or_404(ContentTemplate.objects, company=request.company, uuid=uuid)
    channel = request.GET.get("channel", template.channel)
    if channel != template.channel or not formats_for(channel):
        return HttpResponseBadRequest(_("This template belongs to another channel."))
    editor = render_editor(
        request,
        prefix=prefix,
        channel=template.channel,
        format_key=template.format_key,
        data=dict(template.content),
    )
    closed = format_html('<div id="{}-ct-list" class="ct-pick-slot" hx-swap-oob="true"></div>', prefix)
    return HttpResponse(editor + closed)
