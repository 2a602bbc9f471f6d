"""Configuration of an FCM-shaped push connection."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _


class FcmConfigForm(forms.Form):
    base_url = forms.URLField(
        assume_scheme="https",
        label=_("API base URL"),
        max_length=300,
        help_text=_("For example https://fcm.googleapis.com."),
    )
    project_id = forms.CharField(label=_("Project ID"), max_length=200)
    access_token = forms.CharField(
        label=_("Access token"), min_length=8, max_length=2000, help_text=_("A bearer token of the project.")
    )
