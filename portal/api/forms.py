"""The API access panel (guide §15.1): name, webhook, scopes, senders. The services validate and save."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from portal.api.models import ApiAccess
from portal.core.forms import ServiceErrorsMixin

_SENDER_SPLIT = re.compile(r"[,\n\r]+")


class ApiAccessForm(ServiceErrorsMixin):
    name = forms.CharField(label=_("Name"), max_length=100, required=False)
    webhook_url = forms.CharField(
        label=_("Webhook"),
        max_length=500,
        required=False,
        help_text=_("Message statuses and replies are sent to this URL (http:// or https://)."),
        widget=forms.URLInput(attrs={"placeholder": "https://example.com/hook"}),
    )
    scopes = forms.MultipleChoiceField(
        label=_("Scopes"),
        choices=ApiAccess.Scope.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    # TODO(assets): a multi-select of the company's Sender IDs once the Assets section lands (#4).
    senders = forms.CharField(
        label=_("Senders"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("One sender ID per line or separated by commas. Leave empty to allow every sender."),
    )

    @classmethod
    def initial_for(cls, access: ApiAccess) -> dict[str, Any]:
        return {
            "name": access.name,
            "webhook_url": access.webhook_url,
            "scopes": list(access.scopes),
            "senders": "\n".join(access.senders),
        }

    def clean_senders(self) -> list[str]:
        raw = self.cleaned_data.get("senders") or ""
        return [s.strip() for s in _SENDER_SPLIT.split(raw) if s.strip()]

    def service_data(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "name": data["name"],
            "webhook_url": data["webhook_url"],
            "scopes": data["scopes"],
            "senders": data["senders"],
        }
