"""Back office (Django admin, standing in for the BackOffice): the media library for support, and the moderation
of WhatsApp templates that stands in for WhatsApp's approval (guide §12.4 [EXT]: approve, or reject with a reason)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _

from assets.models import ContentTemplate, MediaFile, WhatsAppTemplate
from assets.services import whatsapp_template_moderate
from portal.accounts.models import User


@admin.register(MediaFile)
class MediaFileAdmin(admin.ModelAdmin[MediaFile]):
    list_display = ["filename", "company", "kind", "ext", "size", "created_at"]
    list_filter = ["kind"]
    search_fields = ["filename", "company__name"]
    readonly_fields = [f.name for f in MediaFile._meta.concrete_fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # uploads go through the portal's checks


@admin.register(ContentTemplate)
class ContentTemplateAdmin(admin.ModelAdmin[ContentTemplate]):
    list_display = ["id", "name", "company", "channel", "format_key", "updated_at"]
    list_filter = ["channel"]
    search_fields = ["name", "company__name"]
    readonly_fields = [f.name for f in ContentTemplate._meta.concrete_fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(WhatsAppTemplate)
class WhatsAppTemplateAdmin(admin.ModelAdmin[WhatsAppTemplate]):
    list_display = ["registered_name", "language", "company", "category", "status", "submitted_at"]
    list_filter = ["status", "category"]
    search_fields = ["registered_name", "company__name"]
    readonly_fields = [f.name for f in WhatsAppTemplate._meta.concrete_fields]
    actions = ["approve", "reject"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # companies create templates in the portal

    def _moderate(
        self, request: HttpRequest, queryset: QuerySet[WhatsAppTemplate], *, approve: bool, reason: str = ""
    ) -> None:
        actor = request.user if isinstance(request.user, User) else None
        done = 0
        for template in queryset:
            try:
                whatsapp_template_moderate(template=template, actor=actor, approve=approve, reason=reason)
            except ValidationError as exc:
                self.message_user(request, f"{template}: {' '.join(exc.messages)}", messages.WARNING)
            else:
                done += 1
        if done:
            self.message_user(request, _("%(n)d templates moderated.") % {"n": done}, messages.SUCCESS)

    @admin.action(description=_("Approve (as WhatsApp would)"))
    def approve(self, request: HttpRequest, queryset: QuerySet[WhatsAppTemplate]) -> None:
        self._moderate(request, queryset, approve=True)

    @admin.action(description=_("Reject with a reason"))
    def reject(self, request: HttpRequest, queryset: QuerySet[WhatsAppTemplate]) -> HttpResponse | None:
        """An intermediate page asks for the reason (required), then rejects every selected template."""
        reason = request.POST.get("reason", "").strip()
        if request.POST.get("apply") and reason:
            self._moderate(request, queryset, approve=False, reason=reason)
            return None
        return TemplateResponse(
            request,
            "admin/assets/whatsapptemplate/reject.html",
            {
                **self.admin_site.each_context(request),
                "title": _("Reject WhatsApp templates"),
                "templates": queryset,
                "opts": self.model._meta,
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
                "missing_reason": bool(request.POST.get("apply")),
            },
        )
