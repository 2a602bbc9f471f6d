"""The tenant: a client company of the platform (guide §1 "Client"). Companies are created in the back office."""

from __future__ import annotations

import zoneinfo

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from portal.core.models import PublicIdMixin, TimeStampedModel


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(_("%(value)s is not a known time zone."), params={"value": value})


def validate_country(value: str) -> None:
    import phonenumbers

    if value.upper() not in phonenumbers.SUPPORTED_REGIONS:
        raise ValidationError(_("%(value)s is not a known ISO country code."), params={"value": value})


class Company(PublicIdMixin, TimeStampedModel):
    name = models.CharField(_("name"), max_length=200, unique=True)
    is_active = models.BooleanField(_("active"), default=True)
    # Guide §1: an upper-level reseller owns moderation and support for the companies below it.
    parent = models.ForeignKey(
        "self",
        verbose_name=_("reseller"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
    )
    default_country = models.CharField(
        _("default country"),
        max_length=2,
        default="US",
        validators=[validate_country],
        help_text=_("ISO 3166 code used to read phone numbers written without a country code."),
    )
    time_zone = models.CharField(
        _("time zone"), max_length=64, default="UTC", validators=[validate_time_zone]
    )
    moderation_required = models.BooleanField(
        _("broadcast moderation"),
        default=False,
        help_text=_("Broadcasts are sent to moderation instead of being launched directly."),
    )
    require_2fa = models.BooleanField(
        _("two-factor login required"),
        default=False,
        help_text=_("Every user of the company must enrol in two-factor login at the next sign-in."),
    )
    support_email = models.EmailField(_("support e-mail"), blank=True)

    class Meta:
        verbose_name = _("company")
        verbose_name_plural = _("companies")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name
