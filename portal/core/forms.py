"""Form helpers shared by every section."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError


def apply_service_error(form: forms.BaseForm, error: ValidationError) -> None:
    """Show a service's ValidationError on the form fields it names; anything else goes on top of the form."""
    if hasattr(error, "error_dict"):
        for field, errors in error.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, error)


class ServiceErrorsMixin(forms.Form):
    def apply_service_error(self, error: ValidationError) -> None:
        apply_service_error(self, error)
