"""System checks. The deploy check refuses the embedded development secret and DEBUG (CONVENTIONS R11)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, register


@register(Tags.security, deploy=True)
def check_production_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    if settings.SECRET_KEY == settings.DEV_SECRET_KEY:
        errors.append(
            Error(
                "SECRET_KEY is the embedded development default.",
                hint="Set SECRET_KEY (or SECRET_KEY_FILE) to a long random value in production.",
                id="portal.E001",
            )
        )
    if settings.DEBUG:
        errors.append(Error("DEBUG is on.", hint="Set DEBUG=false in production.", id="portal.E002"))
    return errors
