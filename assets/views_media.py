"""Media library pages and the shared media picker (guide §12.1, §9.3; issue #8 item 6)."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.http import FileResponse, Http404, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from assets import media_rules, selectors, services
from assets.forms import MediaUploadForm
from assets.media_rules import MediaKind
from assets.models import MediaFile
from assets.tabs import section_context
from portal.accounts import permissions
from portal.core.htmx import redirect_after_form, render_page
from portal.core.list_views import list_response
from portal.core.listing import Column, Kind, ListSpec, register_list
from portal.core.request import PortalRequest
from portal.tenants.access import company_view, get_for_company_or_404


def _preview(media: MediaFile) -> str:
    """Guide §12.1: a thumbnail for images and GIFs (a click opens it full size), the format for other types."""
    if media.kind != MediaKind.IMAGE:
        return format_html('<span class="media-tile-icon">{}</span>', media.format_label)
    url = selectors.media_public_path(media)
    return format_html(
        '<a href="{}" target="_blank" rel="noopener"><img src="{}" alt="" loading="lazy" class="media-thumb"></a>',
        url,
        url,
    )


MEDIA_LIST = register_list(
    ListSpec(
        key="assets-media",
        columns=(
            Column("preview", gettext_lazy("Preview"), None, value=lambda m: _preview(m)),
            Column("filename", gettext_lazy("Filename"), "filename", required=True),
            Column("kind", gettext_lazy("Media type"), "kind", Kind.CHOICE, choices=tuple(MediaKind.choices)),
            Column("format", gettext_lazy("Format"), "ext", value=lambda m: m.format_label),
            Column("size", gettext_lazy("Size"), None, value=lambda m: m.dimensions),
            Column("weight", gettext_lazy("Weight"), "size", Kind.NUMBER, value=lambda m: m.weight),
            Column("created", gettext_lazy("Date of upload"), "created_at", Kind.DATETIME),
        ),
        default_sort="-created",
    )
)

# The picker serves every message editor (guide §9.3): whoever may compose messages may pick and upload media.
PICKER_PERMS = frozenset(
    {
        permissions.MEDIA_MANAGE,
        permissions.BROADCASTS_MANAGE,
        permissions.CONVERSATIONS_MANAGE,
        permissions.CHATBOTS_MANAGE,
        permissions.CONTENT_TEMPLATES_MANAGE,
        permissions.WHATSAPP_TEMPLATES_MANAGE,
        permissions.CONVERSATION_TEMPLATES_MANAGE,
    }
)


def _require_picker(request: PortalRequest) -> None:
    if not any(request.membership.has_perm(code) for code in PICKER_PERMS):
        raise PermissionDenied(_("Your role does not allow this."))


@company_view(perm=permissions.MEDIA_MANAGE)
@require_GET
def media_list(request: PortalRequest) -> HttpResponse:
    """Guide §12.1: the Media table (Preview, Filename, Media type, Format, Size, Weight, Date of upload)."""
    return list_response(
        request,
        qs=selectors.media_list(company=request.company),
        spec=MEDIA_LIST,
        template="assets/media_list.html",
        context=section_context(
            request, "media", library_max_mb=media_rules.LIBRARY_MAX_SIZE // media_rules.MB
        ),
    )


def _upload_all(request: PortalRequest, files: list[UploadedFile]) -> list[MediaFile]:
    """All files or none (nothing half written): every file is checked before any is stored, so one bad file
    refuses the whole upload and leaves no stored file behind."""
    problems: list[str] = []
    for upload in files:
        try:
            services.media_check(upload=upload)
        except ValidationError as exc:
            problems.extend(
                _("%(name)s: %(error)s") % {"name": upload.name, "error": message}
                for message in exc.message_dict.get("file", exc.messages)
            )
    if problems:
        raise ValidationError({"uploads": problems})
    stored: list[MediaFile] = []
    try:
        with transaction.atomic():
            for upload in files:
                media = services.media_upload(company=request.company, actor=request.user, upload=upload)
                stored.append(media)  # one at a time: what is stored so far is removed on a failure
    except Exception:
        for media in stored:
            media.file.delete(save=False)
        raise
    return stored


@company_view(perm=permissions.MEDIA_MANAGE)
@require_http_methods(["GET", "POST"])
def media_upload(request: PortalRequest) -> HttpResponse:
    """Guide §12.1 *+ Add Media*: select one or more files, *Save changes*."""
    form = MediaUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            stored = _upload_all(request, form.cleaned_data["uploads"])
        except ValidationError as exc:
            for message in exc.message_dict["uploads"]:
                form.add_error("uploads", message)
        else:
            messages.success(request, _("%(n)d files were uploaded.") % {"n": len(stored)})
            return redirect_after_form(request, reverse("assets:media-list"))
    return render_page(
        request,
        "assets/media_upload.html",
        section_context(
            request, "media", form=form, library_max_mb=media_rules.LIBRARY_MAX_SIZE // media_rules.MB
        ),
        partial="form",
    )


@company_view(perm=permissions.MEDIA_MANAGE)
@require_POST
def media_delete(request: PortalRequest, uuid: str) -> HttpResponse:
    media = get_for_company_or_404(MediaFile.objects, company=request.company, uuid=uuid)
    services.media_delete(company=request.company, actor=request.user, media=media)
    messages.success(request, _("Media file %(name)s was deleted.") % {"name": media.filename})
    return redirect_after_form(request, reverse("assets:media-list"))


# -- the picker ------------------------------------------------------------------------------------------------


_INPUT_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,199}$")


def _picker_params(request: PortalRequest) -> dict[str, str]:
    """The picker's own parameters travel in the URL: its inputs sit inside the editor's form, so they carry an
    ``mp_`` prefix and never clash with the form's fields."""
    params = {key: request.GET.get(key, "")[:200] for key in ("channel", "kind", "input_id", "name")}
    if not _INPUT_ID.match(params["input_id"]):
        params["input_id"] = "mf-media"  # the id is put in selectors and headers: only a plain id is kept
    params["q"] = request.GET.get("mp_q", "")[:100]
    return params


def _picker_context(request: PortalRequest, params: dict[str, str], **extra: Any) -> dict[str, Any]:
    rule = media_rules.rule_for(params["channel"])
    kinds = media_rules.accepted_kinds(params["channel"], params["kind"])
    items = list(
        selectors.media_list(
            company=request.company, channel=params["channel"], kind=params["kind"], search=params["q"]
        ).order_by("-created_at", "-id")[:60]
    )
    limits = [
        {
            "kind": MediaKind(kind).label,
            "exts": ", ".join(sorted(rule.extensions(kind))),
            "max_mb": f"{rule.max_size(kind) / media_rules.MB:g}",
        }
        for kind in kinds
    ]
    accept = ",".join(sorted("." + ext for kind in kinds for ext in rule.extensions(kind)))
    base_q = urlencode({key: params[key] for key in ("channel", "kind", "input_id", "name")})
    return {**params, "items": items, "limits": limits, "accept": accept, "base_q": base_q, **extra}


@company_view()
@require_GET
def media_picker(request: PortalRequest) -> HttpResponse:
    """The picker panel (htmx fragment): the company's media the channel accepts, and an upload box."""
    _require_picker(request)
    params = _picker_params(request)
    return render(request, "assets/_media_picker.html", _picker_context(request, params))


def _picked(request: PortalRequest, params: dict[str, str], media: MediaFile) -> HttpResponse:
    """The media field's input filled with the public URL, and the picker closed (out-of-band swap)."""
    return render(
        request,
        "assets/_media_picked.html",
        {**params, "url": selectors.media_public_url(media, request), "media": media},
    )


@company_view()
@require_GET
def media_pick(request: PortalRequest, uuid: str) -> HttpResponse:
    _require_picker(request)
    params = _picker_params(request)
    media = get_for_company_or_404(
        selectors.media_list(company=request.company, channel=params["channel"], kind=params["kind"]),
        company=request.company,
        uuid=uuid,
    )
    return _picked(request, params, media)


@company_view()
@require_POST
def media_picker_upload(request: PortalRequest) -> HttpResponse:
    """Upload from the device inside a message editor: the file is checked for the channel and also saved to the
    Media library (guide §9.3, inventory A check 60), then picked."""
    _require_picker(request)
    params = _picker_params(request)
    upload = request.FILES.get("mp_upload")
    if upload is None:
        return _picker_error(request, params, _("Choose a file to upload."))
    try:
        media = services.media_upload(
            company=request.company,
            actor=request.user,
            upload=upload,
            channel=params["channel"],
            kind=params["kind"],
        )
    except ValidationError as exc:
        return _picker_error(request, params, " ".join(exc.message_dict.get("file", exc.messages)))
    return _picked(request, params, media)


def _picker_error(request: PortalRequest, params: dict[str, str], error: str) -> HttpResponse:
    """The picker again with the error; the upload button targets the input, so the swap is moved to the picker
    (a 200, because htmx does not swap error statuses)."""
    response = render(request, "assets/_media_picker.html", _picker_context(request, params, error=error))
    response["HX-Retarget"] = f"#{params['input_id']}-picker"
    response["HX-Reswap"] = "innerHTML"
    return response


# -- public file URL -------------------------------------------------------------------------------------------


@require_GET
@cache_control(public=True, max_age=3600)
def media_public(request: PortalRequest, uuid: str, filename: str) -> HttpResponseBase:
    """The file itself, for vendors and recipients: no login (the portal's pages are behind one), found by its
    unguessable uuid. The name in the path must match, so a leaked uuid alone does not list anything."""
    try:
        media = selectors.media_public_get(uuid=uuid)
    except (MediaFile.DoesNotExist, ValidationError, ValueError) as exc:
        raise Http404("Not found") from exc
    if media.filename != filename:
        raise Http404("Not found")
    try:
        handle = media.file.open("rb")
    except FileNotFoundError as exc:
        raise Http404("Not found") from exc
    response = FileResponse(handle, content_type=media.content_type, filename=media.filename)
    response["X-Content-Type-Options"] = "nosniff"
    # An SVG or text file opened from this URL must not run scripts with the portal's origin.
    response["Content-Security-Policy"] = (
        "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox"
    )
    return response
