"""SMTP delivery through Django's e-mail machinery: the only module of this vendor that talks to the network."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection

SMTP_BACKEND = "django.core.mail.backends.smtp.EmailBackend"


class SmtpClient:
    def __init__(self, config: Mapping[str, Any]) -> None:
        self._config = config

    def send(self, email: EmailMultiAlternatives) -> None:
        """Open an SMTP session with the connection's settings and send ``email``; smtplib errors propagate."""
        connection = get_connection(
            SMTP_BACKEND,
            host=str(self._config.get("host", "")),
            port=int(self._config.get("port") or 25),
            username=str(self._config.get("username") or ""),
            password=str(self._config.get("password") or ""),
            use_tls=bool(self._config.get("use_tls")),
            use_ssl=bool(self._config.get("use_ssl")),
            timeout=settings.PORTAL_VENDOR_HTTP_READ_TIMEOUT_MS / 1000,
            fail_silently=False,
        )
        email.connection = connection
        email.send(fail_silently=False)

    def check(self) -> None:
        """Open and close an SMTP session (login included)."""
        connection = get_connection(
            SMTP_BACKEND,
            host=str(self._config.get("host", "")),
            port=int(self._config.get("port") or 25),
            username=str(self._config.get("username") or ""),
            password=str(self._config.get("password") or ""),
            use_tls=bool(self._config.get("use_tls")),
            use_ssl=bool(self._config.get("use_ssl")),
            timeout=settings.PORTAL_VENDOR_HTTP_CONNECT_TIMEOUT_MS / 1000,
            fail_silently=False,
        )
        connection.open()
        connection.close()
