"""The communication channels of the guide (§1 "Communication channel", channel matrix of inventory A §18)."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class ChannelKind(models.TextChoices):
    SMS = "sms", "SMS"
    RCS = "rcs", "RCS"
    VIBER = "viber", "Viber"
    WHATSAPP = "whatsapp", "WhatsApp"
    EMAIL = "email", _("E-mail")
    PUSH = "push", _("Push")
    TTS = "tts", _("TTS voice")
    MOBILE_PUSH = "mobile_push", _("Mobile push")
