"""Configuration of an app-SDK-shaped mobile push connection."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _


class AppSdkConfigForm(forms.Form):
    base_url = forms.URLField(assume_scheme="https", label=_("API base URL"), max_length=300)
    app_id = forms.CharField(label=_("App ID"), max_length=200)
    api_key = forms.CharField(
        label=_("API key"), min_length=8, max_length=300, help_text=_("Sent as X-Api-Key.")
    )
    webhook_secret = forms.CharField(
        label=_("Callback secret"),
        min_length=16,
        max_length=128,
        help_text=_("Signs the status posts: X-Signature = sha256=HMAC(secret, timestamp + '.' + body)."),
    )
