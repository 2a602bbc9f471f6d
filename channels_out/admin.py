"""Back office (Django admin): connections with adapter-validated config, the simulator script, and read-only
views of messages and raw callbacks for support."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from channels_out.kinds import ChannelKind
from channels_out.models import CallbackPayload, Connection, Message, SimulatorRule
from channels_out.registry import adapter_choices


class ConnectionAdminForm(forms.ModelForm[Connection]):
    adapter_key = forms.ChoiceField(label=_("Adapter"), choices=adapter_choices)
    channels = forms.MultipleChoiceField(
        label=_("Channels"), choices=ChannelKind.choices, widget=forms.CheckboxSelectMultiple
    )
    config = forms.JSONField(
        label=_("Configuration"),
        required=False,
        help_text=_("JSON object checked by the adapter's configuration form (credentials: never shared)."),
        widget=forms.Textarea(attrs={"rows": 6}),
    )

    class Meta:
        model = Connection
        fields = [
            "company",
            "name",
            "adapter_key",
            "channels",
            "sender_ids",
            "priority",
            "rate_limit",
            "enabled",
            "whatsapp_verified",
            "config",
        ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.instance.pk:
            self.fields["adapter_key"].initial = settings.CHANNEL_DEFAULT_ADAPTER

    def clean(self) -> dict[str, Any]:
        from channels_out.services import connection_config_clean

        data = super().clean() or {}
        if self.errors:
            return data
        try:
            data["config"] = connection_config_clean(
                adapter_key=data["adapter_key"], config=data.get("config") or {}, channels=data["channels"]
            )
        except ValidationError as exc:
            self.add_error(None, exc)
        return data


@admin.register(Connection)
class ConnectionAdmin(admin.ModelAdmin[Connection]):
    form = ConnectionAdminForm
    list_display = ("name", "company", "adapter_key", "priority", "rate_limit", "enabled", "callback_url")
    list_filter = ("adapter_key", "enabled")
    search_fields = ("name", "company__name")
    readonly_fields = ("uuid", "callback_url", "created_at", "updated_at")

    @admin.display(description=_("Callback URL"))
    def callback_url(self, obj: Connection) -> str:
        if not obj.pk:
            return "—"
        return reverse("channels_out:callback", args=[obj.adapter_key, obj.uuid])

    def save_model(self, request: HttpRequest, obj: Connection, form: Any, change: bool) -> None:
        from channels_out.services import connection_save

        connection_save(company=obj.company, actor=request.user, connection=obj)


class SimulatorRuleAdminForm(forms.ModelForm[SimulatorRule]):
    class Meta:
        model = SimulatorRule
        fields = [
            "company", "connection", "order", "name", "enabled", "pattern", "channel", "submit", "error_code",
            "error_permanent", "report", "report_delay_seconds", "display_delay_seconds", "report_error_code",
            "inbound_reply", "inbound_delay_seconds", "inbound_postback", "rcs_capable", "whatsapp_opted_in",
            "whatsapp_verified", "viber_session_id",
        ]  # fmt: skip

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        connection = data.get("connection")
        if connection is not None and data.get("company") and connection.company_id != data["company"].pk:
            raise ValidationError(_("The connection belongs to another company."))
        return data


@admin.register(SimulatorRule)
class SimulatorRuleAdmin(admin.ModelAdmin[SimulatorRule]):
    """The simulator's script: edit a rule and the next message to a matching recipient follows it."""

    form = SimulatorRuleAdminForm
    list_display = (
        "order",
        "name",
        "company",
        "pattern",
        "channel",
        "submit",
        "report",
        "report_delay_seconds",
        "enabled",
    )
    list_display_links = ("name",)
    list_editable = ("order", "submit", "report", "report_delay_seconds", "enabled")
    list_filter = ("company", "channel", "enabled")
    fieldsets = (
        (None, {"fields": ("company", "connection", "order", "name", "enabled", "pattern", "channel")}),
        (_("Submit"), {"fields": ("submit", "error_code", "error_permanent")}),
        (
            _("Reports"),
            {"fields": ("report", "report_delay_seconds", "display_delay_seconds", "report_error_code")},
        ),
        (_("Inbound reply"), {"fields": ("inbound_reply", "inbound_delay_seconds", "inbound_postback")}),
        (
            _("Channel flags"),
            {"fields": ("rcs_capable", "whatsapp_opted_in", "whatsapp_verified", "viber_session_id")},
        ),
    )

    def save_model(self, request: HttpRequest, obj: SimulatorRule, form: Any, change: bool) -> None:
        from channels_out.services import simulator_rule_save

        simulator_rule_save(company=obj.company, actor=request.user, rule=obj)


class ReadOnlyAdmin(admin.ModelAdmin[Any]):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Message)
class MessageAdmin(ReadOnlyAdmin):
    list_display = (
        "created_at",
        "company",
        "channel",
        "direction",
        "address",
        "status",
        "connection",
        "error_code",
    )
    list_filter = ("channel", "direction", "status")
    search_fields = ("address", "vendor_message_id", "client_reference")
    show_full_result_count = False


@admin.register(CallbackPayload)
class CallbackPayloadAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "company", "connection", "state", "item_count", "reason")
    list_filter = ("state",)
    exclude = ("body",)
    readonly_fields = ("body_text",)
    show_full_result_count = False

    @admin.display(description=_("Body"))
    def body_text(self, obj: CallbackPayload) -> str:
        return bytes(obj.body).decode("utf-8", "replace")
