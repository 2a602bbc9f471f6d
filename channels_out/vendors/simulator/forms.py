"""Configuration of a simulator connection."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _


class SimulatorConfigForm(forms.Form):
    callback_secret = forms.CharField(
        label=_("Callback secret"),
        min_length=16,
        max_length=128,
        help_text=_("Signs the simulated callbacks (HMAC-SHA256 in the Signature header, seed 004 §2.8.2)."),
    )
