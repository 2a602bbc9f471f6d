"""Sign-in and password forms. They validate input; the services in accounts.services do the writes."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import forms as auth_forms
from django.contrib.auth.password_validation import password_validators_help_text_html
from django.utils.translation import gettext_lazy as _

from portal.accounts.models import User
from portal.core.forms import ServiceErrorsMixin


class LoginForm(forms.Form):
    login = forms.CharField(
        label=_("Login"),
        max_length=150,
        widget=forms.TextInput(attrs={"autofocus": True, "autocomplete": "username"}),
    )
    password = forms.CharField(
        label=_("Password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
    remember_me = forms.BooleanField(label=_("Remember me"), required=False)


class PasswordChangeForm(ServiceErrorsMixin):
    """Guide §17.2 "Change password": current, new (with Generate), confirm."""

    current_password = forms.CharField(
        label=_("Current password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
    new_password1 = forms.CharField(
        label=_("New password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=password_validators_help_text_html(),
    )
    new_password2 = forms.CharField(
        label=_("Confirm password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if (
            data.get("new_password1")
            and data.get("new_password2")
            and data["new_password1"] != data["new_password2"]
        ):
            self.add_error("new_password2", _("The two passwords do not match."))
        return data


class PasswordResetRequestForm(auth_forms.PasswordResetForm):
    email = forms.EmailField(
        label=_("E-mail"), max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "email"})
    )


class PasswordResetSetForm(auth_forms.SetPasswordForm):  # type: ignore[type-arg]
    """Reset a forgotten password through accounts.services so the policy and history apply."""

    def save(self, commit: bool = True) -> Any:
        from portal.accounts.services import password_reset_complete

        password_reset_complete(user=self.user, new_password=self.cleaned_data["new_password1"])
        return self.user
