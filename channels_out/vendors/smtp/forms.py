"""Configuration of an SMTP e-mail connection."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _


class SmtpConfigForm(forms.Form):
    host = forms.CharField(label=_("SMTP host"), max_length=253)
    port = forms.IntegerField(label=_("SMTP port"), min_value=1, max_value=65535, initial=587)
    username = forms.CharField(label=_("User name"), max_length=254, required=False)
    password = forms.CharField(label=_("Password"), max_length=254, required=False)
    use_tls = forms.BooleanField(label=_("STARTTLS"), required=False)
    use_ssl = forms.BooleanField(label=_("TLS from the start (SMTPS)"), required=False)
    from_name = forms.CharField(label=_("From name"), max_length=100, required=False)
    tracking_secret = forms.CharField(
        label=_("Tracking secret"),
        min_length=16,
        max_length=128,
        help_text=_(
            "Signs the open-tracking links and the bounce posts (HMAC-SHA256 in the Signature header)."
        ),
    )
    open_tracking = forms.BooleanField(label=_("Track opens"), required=False, initial=True)

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        if data.get("use_tls") and data.get("use_ssl"):
            raise ValidationError(_("Choose STARTTLS or SMTPS, not both."))
        return data
