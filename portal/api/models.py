"""API accesses (guide §15): the keys third-party systems use to call ``/api/v1``."""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _

from portal.core.models import PublicIdMixin, TenantModel


class ApiAccess(PublicIdMixin, TenantModel):
    """One API key of a company, with the scopes, webhook and senders it is limited to.

    Key storage (README "Security decisions"): the key is 64 lowercase hex characters from ``secrets`` and is shown
    exactly once, in the response to *Create API key* or *regenerate*. The row keeps only ``key_prefix`` (the first
    12 characters, for the table and the lookup index) and ``key_hash`` = HMAC-SHA256 of the key under the
    server-side pepper ``PORTAL_API_KEY_PEPPER``. Authentication finds the row by prefix and compares the hash in
    constant time. A database leak therefore gives no usable key, and without the pepper not even an offline
    guessing oracle. The guide's panel shows the key again later ([INF] "store encrypted"); that convenience is
    given up on purpose: a lost key is replaced with *regenerate*, which also stops the old one at once.
    """

    class Scope(models.TextChoices):
        # Guide §15 form options; [AMB] resolved to five lowercase codes (spec seed000_C §15).
        RECIPIENTS = "recipients", _("Recipients")
        BROADCAST = "broadcast", _("Broadcasts")
        CRM = "crm", _("CRM")
        OMNI_API = "omni-api", _("omni-api")
        DIDS = "dids", _("DIDs")

    name = models.CharField(_("name"), max_length=100)
    scopes = ArrayField(models.CharField(max_length=16, choices=Scope.choices), verbose_name=_("scopes"))
    webhook_url = models.URLField(_("webhook"), max_length=500, blank=True)
    # TODO(assets): turn into a ManyToManyField to assets.SenderId once the Assets section lands (#4).
    # Until then: the sender-ID strings the key may send from; empty means every sender of the company.
    senders = ArrayField(models.CharField(max_length=64), default=list, blank=True, verbose_name=_("senders"))
    key_prefix = models.CharField(_("API key"), max_length=16, editable=False)
    key_hash = models.CharField(max_length=64, editable=False)
    key_created_at = models.DateTimeField(_("key created at"), null=True, editable=False)
    # The "ask support" knob of seed 004 §2.4: a raised per-key limit, set by platform staff in the back office.
    rate_limit_get = models.PositiveIntegerField(
        _("GET requests per rate window"),
        null=True,
        blank=True,
        help_text=_("Empty: the platform default (PORTAL_API_RATE_LIMIT_GET)."),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("API access")
        verbose_name_plural = _("API accesses")
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint("company", Lower("name"), name="api_access_name_ci_unique_per_company"),
            # Also the lookup index of authentication, which runs before the company is known; that is why it
            # cannot start with ``company`` like the tenant indexes do.
            models.UniqueConstraint(fields=["key_prefix"], name="api_access_key_prefix_unique"),
            models.CheckConstraint(condition=models.Q(scopes__len__gt=0), name="api_access_has_a_scope"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def key_display(self) -> str:
        return f"{self.key_prefix}…"

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes
