"""Forms of the Users and Roles section (guide §13). They validate input; users_services does the writes."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from portal.accounts.models import Department, Membership, Role, User
from portal.accounts.permissions import CATALOGUE
from portal.accounts.selectors import two_factor_enabled
from portal.tenants.models import Company


class UserForm(forms.Form):
    # General tab
    first_name = forms.CharField(label=_("First name"), max_length=150)
    last_name = forms.CharField(label=_("Last name"), max_length=150)
    middle_name = forms.CharField(label=_("Middle name"), max_length=150, required=False)
    department = forms.ModelChoiceField(
        label=_("Department"), queryset=Department.objects.none(), required=False
    )
    new_department = forms.CharField(label=_("Or create a new department"), max_length=80, required=False)
    language = forms.ChoiceField(label=_("Language"), choices=User.Language.choices)
    login = forms.CharField(label=_("Login"), max_length=150)
    password = forms.CharField(
        label=_("Password"),
        strip=False,
        required=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}, render_value=False),
    )
    email = forms.EmailField(label=_("E-mail"))
    phone = forms.CharField(label=_("Contact phone"), max_length=32, required=False)
    two_factor = forms.BooleanField(
        label=_("Two Factor Authentication"),
        required=False,
        help_text=_(
            "The user must sign in with a code from a phone or an authenticator app. Turning it off resets the user's second factor."
        ),
    )
    is_active = forms.BooleanField(label=_("Enabled"), required=False, initial=True)
    # Role tab
    no_restrictions = forms.BooleanField(label=_("No restrictions"), required=False)
    roles = forms.ModelMultipleChoiceField(
        label=_("Role"), queryset=Role.objects.none(), required=False, widget=forms.CheckboxSelectMultiple
    )

    def __init__(
        self, *args: Any, company: Company, membership: Membership | None = None, **kwargs: Any
    ) -> None:
        if membership is not None and "initial" not in kwargs:
            user = membership.user
            kwargs["initial"] = {
                "first_name": user.first_name,
                "last_name": user.last_name,
                "middle_name": user.middle_name,
                "department": membership.department_id,
                "language": user.language,
                "login": user.username,
                "email": user.email,
                "phone": user.phone,
                "is_active": user.is_active,
                "two_factor": user.require_two_factor or two_factor_enabled(user=user),
                "roles": list(membership.roles.values_list("pk", flat=True)),
            }
        super().__init__(*args, **kwargs)
        self.company = company
        self.membership = membership
        self.fields["department"].queryset = Department.objects.filter(company=company)  # type: ignore[attr-defined]
        self.fields["roles"].queryset = Role.objects.filter(company=company)  # type: ignore[attr-defined]
        if membership is None:
            self.fields["password"].required = True
        else:
            self.fields["password"].help_text = _("Leave blank to keep the current password.")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not data.get("department") and not data.get("new_department"):
            self.add_error("department", _("Choose a department or create a new one."))
        if not data.get("roles") and not data.get("no_restrictions"):
            self.add_error("roles", _("Choose at least one role, or tick No restrictions."))
        return data


class RoleForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=40, widget=forms.TextInput(attrs={"maxlength": 40}))
    description = forms.CharField(
        label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    permissions = forms.MultipleChoiceField(
        label=_("Permissions"),
        choices=[(p.code, p.label) for p in CATALOGUE],
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": _("Choose at least one permission.")},
    )

    def __init__(self, *args: Any, company: Company, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.company = company

    def selected(self) -> set[str]:
        if self.is_bound:
            return set(self.data.getlist("permissions")) if hasattr(self.data, "getlist") else set()
        return set(self.initial.get("permissions", []))
