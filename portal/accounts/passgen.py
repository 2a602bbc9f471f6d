"""Strong password suggestions for the "Generate" button of Change password (guide §17.2, Appendix 2)."""

from __future__ import annotations

import secrets
import string

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError

from portal.accounts.models import User

_GROUPS = (string.ascii_uppercase, string.ascii_lowercase, string.digits, "!#$%&*+-=?@^_")
LENGTH = 16


def password_generate(*, user: User | None = None) -> str:
    """Return a random password with every character group, accepted by the configured validators."""
    alphabet = "".join(_GROUPS)
    while True:
        chars = [secrets.choice(group) for group in _GROUPS]
        chars += [secrets.choice(alphabet) for _n in range(LENGTH - len(chars))]
        secrets.SystemRandom().shuffle(chars)
        candidate = "".join(chars)
        try:
            validate_password(candidate, user)
        except ValidationError:
            continue  # practically never: a random 16-character string matching a history entry
        return candidate
