"""Password validators of guide Appendix 2 that Django does not ship."""

from __future__ import annotations

import string
from typing import Any

from django.conf import settings
from django.contrib.auth.hashers import check_password
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _


class CharacterClassesValidator:
    """Appendix 2 §2: characters from at least 3 of the 4 groups (upper, lower, digit, special)."""

    def __init__(self, min_classes: int = 3) -> None:
        self.min_classes = min_classes

    def validate(self, password: str, user: Any = None) -> None:
        groups = [
            any(c.isupper() for c in password),
            any(c.islower() for c in password),
            any(c.isdigit() for c in password),
            any(not c.isalnum() or c in string.punctuation for c in password),
        ]
        if sum(groups) < self.min_classes:
            raise ValidationError(
                _(
                    "The password must contain characters from at least %(n)d of these groups: "
                    "upper-case letters, lower-case letters, digits, special characters."
                ),
                code="password_too_simple",
                params={"n": self.min_classes},
            )

    def get_help_text(self) -> str:
        return _(
            "Use characters from at least %(n)d of: upper-case, lower-case, digits, special characters."
        ) % {"n": self.min_classes}


class PasswordHistoryValidator:
    """Appendix 2 §3: the new password must not match the current one or any of the last N."""

    def validate(self, password: str, user: Any = None) -> None:
        if user is None or getattr(user, "pk", None) is None:
            return
        depth = settings.PORTAL_PASSWORD_HISTORY
        previous = list(
            user.password_history.order_by("-created_at").values_list("password", flat=True)[:depth]
        )
        if user.password:
            previous.append(user.password)
        if any(check_password(password, encoded) for encoded in previous):
            raise ValidationError(
                _("The password must differ from your last %(n)d passwords."),
                code="password_reused",
                params={"n": depth},
            )

    def get_help_text(self) -> str:
        return _("You cannot reuse one of your last %(n)d passwords.") % {
            "n": settings.PORTAL_PASSWORD_HISTORY
        }
