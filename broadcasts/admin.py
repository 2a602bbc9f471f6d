"""Back office (Django admin, standing in for the BackOffice): moderation of broadcasts (guide §6.6 item 7,
inventory A §20.7 [GAP] decision) and a read-only view of runs for support."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from broadcasts.models import Broadcast, BroadcastTemplate
from broadcasts.services import broadcast_moderate
from broadcasts.template_services import template_moderate
from portal.core.exceptions import ApplicationError


@admin.register(Broadcast)
class BroadcastAdmin(admin.ModelAdmin[Broadcast]):
    list_display = [
        "id",
        "name",
        "company",
        "type",
        "status",
        "scheduled_for",
        "contacts",
        "launched_at",
        "finished_at",
    ]
    list_filter = ["status", "type", "launch_type"]
    search_fields = ["name", "company__name"]
    readonly_fields = [f.name for f in Broadcast._meta.concrete_fields if f.name != "moderation_note"]
    actions = ["approve", "reject"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # runs are created by the companies' users in the portal

    def _moderate(self, request: HttpRequest, queryset: QuerySet[Broadcast], *, approve: bool) -> None:
        done = 0
        for broadcast in queryset.select_related("company"):
            try:
                broadcast_moderate(
                    company=broadcast.company,
                    actor=request.user,
                    broadcast=broadcast,
                    approve=approve,
                    note=broadcast.moderation_note
                    if approve
                    else (broadcast.moderation_note or str(_("Rejected by the moderator."))),
                )
            except ApplicationError as exc:
                self.message_user(request, f"{broadcast}: {exc.message}", messages.WARNING)
            else:
                done += 1
        if done:
            self.message_user(request, _("%(n)d broadcasts moderated.") % {"n": done}, messages.SUCCESS)

    @admin.action(description=_("Approve (launch or schedule)"))
    def approve(self, request: HttpRequest, queryset: QuerySet[Broadcast]) -> None:
        self._moderate(request, queryset, approve=True)

    @admin.action(description=_("Reject (back to the author)"))
    def reject(self, request: HttpRequest, queryset: QuerySet[Broadcast]) -> None:
        self._moderate(request, queryset, approve=False)


@admin.register(BroadcastTemplate)
class BroadcastTemplateAdmin(admin.ModelAdmin[BroadcastTemplate]):
    """Back office moderation of templates (guide §7.3 item 8, same decision as for runs)."""

    list_display = ["id", "name", "company", "state", "recurrence", "schedule_status", "next_launch_at"]
    list_filter = ["state", "schedule_status", "recurrence"]
    search_fields = ["name", "company__name"]
    readonly_fields = [f.name for f in BroadcastTemplate._meta.concrete_fields if f.name != "moderation_note"]
    actions = ["approve", "reject"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def _moderate(
        self, request: HttpRequest, queryset: QuerySet[BroadcastTemplate], *, approve: bool
    ) -> None:
        for template in queryset.select_related("company"):
            try:
                template_moderate(
                    company=template.company,
                    actor=request.user,
                    template=template,
                    approve=approve,
                    note=template.moderation_note
                    or ("" if approve else str(_("Rejected by the moderator."))),
                )
            except ApplicationError as exc:
                self.message_user(request, f"{template}: {exc.message}", messages.WARNING)

    @admin.action(description=_("Approve (the schedule runs)"))
    def approve(self, request: HttpRequest, queryset: QuerySet[BroadcastTemplate]) -> None:
        self._moderate(request, queryset, approve=True)

    @admin.action(description=_("Reject (back to the author)"))
    def reject(self, request: HttpRequest, queryset: QuerySet[BroadcastTemplate]) -> None:
        self._moderate(request, queryset, approve=False)
