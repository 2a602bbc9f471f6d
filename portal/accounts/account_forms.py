"""Input forms of My account (guide §17): they validate input; accounts.services and accounts.twofactor write."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from portal.accounts.services import ACCOUNT_DELETE_WORD
from portal.core.forms import ServiceErrorsMixin


class BasicInfoForm(ServiceErrorsMixin):
    """Guide §17.1 "Basic information": full name and e-mail are editable; login and roles are not."""

    first_name = forms.CharField(label=_("First name"), max_length=150)
    last_name = forms.CharField(label=_("Last name"), max_length=150, required=False)
    email = forms.EmailField(label=_("Email"), max_length=254)


class ContactInfoForm(ServiceErrorsMixin):
    """Guide §17.1 "Contact information": the phone is editable; company and department are not."""

    phone = forms.CharField(
        label=_("Phone number"),
        max_length=32,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "tel", "inputmode": "tel"}),
    )


class AvatarForm(ServiceErrorsMixin):
    # A FileField, not an ImageField: the service decodes and re-encodes the picture and says what is wrong.
    avatar = forms.FileField(
        label=_("Avatar"),
        widget=forms.ClearableFileInput(attrs={"accept": "image/png,image/jpeg,image/gif,image/webp"}),
    )


class PhoneForm(ServiceErrorsMixin):
    phone = forms.CharField(
        label=_("Phone number"),
        max_length=32,
        widget=forms.TextInput(
            attrs={"autocomplete": "tel", "inputmode": "tel", "placeholder": "+14155550123"}
        ),
    )


class CodeForm(ServiceErrorsMixin):
    code = forms.CharField(
        label=_("Verification code"),
        max_length=20,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}
        ),
    )


class SignInCodeForm(ServiceErrorsMixin):
    code = forms.CharField(
        label=_("Code"),
        max_length=20,
        help_text=_("A 6-digit code from your authenticator app or SMS, or one of your recovery codes."),
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "autofocus": True}),
    )


class DeletePasswordForm(ServiceErrorsMixin):
    current_password = forms.CharField(
        label=_("Current password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )


class DeleteConfirmForm(ServiceErrorsMixin):
    confirmation = forms.CharField(
        label=_("Type delete-account to confirm"),
        max_length=40,
        strip=False,
        widget=forms.TextInput(attrs={"autocomplete": "off", "data-confirm-word": ACCOUNT_DELETE_WORD}),
    )
