"""Configuration of an RBM-shaped RCS connection."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _


class RbmConfigForm(forms.Form):
    base_url = forms.URLField(
        assume_scheme="https",
        label=_("API base URL"),
        max_length=300,
        help_text=_("For example https://rcsbusinessmessaging.googleapis.com."),
    )
    agent_id = forms.CharField(label=_("Agent ID"), max_length=200)
    access_token = forms.CharField(
        label=_("Access token"),
        min_length=8,
        max_length=2000,
        help_text=_("A bearer token of the agent's service account."),
    )
    client_token = forms.CharField(
        label=_("Webhook client token"),
        min_length=16,
        max_length=200,
        help_text=_("RBM signs its webhook posts with it (X-Goog-Signature, HMAC-SHA512, base64)."),
    )
