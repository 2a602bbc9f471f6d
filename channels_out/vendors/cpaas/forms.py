"""Configuration of a seed-004-shaped CPaaS connection: base URL, API token, callback secret, product code."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _


class CpaasConfigForm(forms.Form):
    base_url = forms.URLField(
        assume_scheme="https",
        label=_("API base URL"),
        max_length=300,
        help_text=_("For example https://eu.cpaas.bics.com/api/v2/ (seed 004 §2.1)."),
    )
    api_token = forms.CharField(
        label=_("API token"), min_length=8, max_length=300, help_text=_("Sent as Authorization: Bearer.")
    )
    webhook_secret = forms.CharField(
        label=_("Callback secret"),
        min_length=16,
        max_length=128,
        help_text=_("The vendor signs its callbacks with it (HMAC-SHA256 hex in the Signature header)."),
    )
    service = forms.CharField(
        label=_("Product code"),
        max_length=10,
        initial="ENT",
        help_text=_("The SMS product code sent as service (seed 004 §2.3), e.g. ENT."),
    )
