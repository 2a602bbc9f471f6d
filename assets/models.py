"""Assets (guide §12): the media library, content templates and WhatsApp templates of a company."""

from __future__ import annotations

import re
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from assets.media_rules import MediaKind
from channels_out.kinds import ChannelKind
from portal.core.models import PublicIdMixin, TenantModel

PLACEHOLDER = re.compile(r"\{\{\s*(\d+)\s*\}\}")


def media_upload_to(instance: MediaFile, filename: str) -> str:
    # The uuid directory makes the path unguessable and keeps two files of the same name apart.
    return f"media/{instance.company_id}/{instance.uuid}/{filename}"


class MediaFile(PublicIdMixin, TenantModel):
    """One file of the Media library (guide §12.1). Vendors fetch it by its public uuid URL."""

    file = models.FileField(_("file"), upload_to=media_upload_to, max_length=500)
    filename = models.CharField(_("file name"), max_length=255)
    kind = models.CharField(_("media type"), max_length=10, choices=MediaKind.choices)
    ext = models.CharField(_("format"), max_length=10)
    content_type = models.CharField(_("content type"), max_length=120)
    size = models.BigIntegerField(_("weight (bytes)"))
    width = models.PositiveIntegerField(_("width"), null=True, blank=True)
    height = models.PositiveIntegerField(_("height"), null=True, blank=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("uploaded by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
    )

    class Meta:
        verbose_name = _("media file")
        indexes = [
            models.Index(fields=["company", "created_at", "id"], name="mediafile_created_idx"),
            models.Index(fields=["company", "kind", "ext"], name="mediafile_kind_idx"),
        ]

    def __str__(self) -> str:
        return self.filename

    @property
    def format_label(self) -> str:
        """Guide §12.1: the upper-case extension, ``.jpeg`` shown as ``JPG``."""
        return "JPG" if self.ext in ("jpg", "jpeg") else self.ext.upper()

    @property
    def dimensions(self) -> str:
        return f"{self.width} x {self.height} px" if self.width and self.height else ""

    @property
    def weight(self) -> str:
        """Guide §12.1: KB with 2 decimals (``263.55 KB``), MB for larger files."""
        if self.size >= 1024 * 1024:
            return f"{self.size / (1024 * 1024):.2f} MB"
        return f"{self.size / 1024:.2f} KB"


class ContentTemplate(PublicIdMixin, TenantModel):
    """A named, reusable message of one channel (guide §12.3): the constructor's format key and content."""

    name = models.CharField(_("template name"), max_length=200)
    channel = models.CharField(_("channel"), max_length=16, choices=ChannelKind.choices)
    format_key = models.CharField(_("format"), max_length=32)
    content = models.JSONField(_("content"), default=dict)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
    )

    class Meta:
        verbose_name = _("content template")
        constraints = [
            models.UniqueConstraint(
                fields=["company", "channel", "name"], name="contenttemplate_unique_name"
            ),
        ]
        indexes = [
            models.Index(fields=["company", "updated_at", "id"], name="contenttemplate_modified_idx"),
            models.Index(fields=["company", "channel", "name"], name="contenttemplate_channel_idx"),
        ]

    def __str__(self) -> str:
        return self.name


class WhatsAppTemplate(PublicIdMixin, TenantModel):
    """A WhatsApp message template submitted to Meta for approval (guide §12.4).

    Only ``Draft`` is set by the portal alone; every other status comes from WhatsApp (simulated by the back
    office's moderation actions). Only ``Approved`` templates can be sent (guide §12.4, inventory A check 70).
    """

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        SUBMITTED = "submitted", _("Submitted")
        PENDING = "pending", _("On moderation")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")
        IN_APPEAL = "in_appeal", _("In appeal")
        PENDING_DELETION = "pending_deletion", _("Pending for deletion")
        DELETED = "deleted", _("Deleted")
        DISABLED = "disabled", _("Disabled")
        PAUSED = "paused", _("Paused")
        LIMIT_EXCEEDED = "limit_exceeded", _("Limit exceeded")

    class Category(models.TextChoices):
        MARKETING = "MARKETING", _("Marketing")
        UTILITY = "UTILITY", _("Utility")
        AUTHENTICATION = "AUTHENTICATION", _("Authentication")

    class HeaderType(models.TextChoices):
        NONE = "none", _("No header")
        TEXT = "text", _("Text")
        IMAGE = "image", _("Image")
        VIDEO = "video", _("Video")
        DOCUMENT = "document", _("Document")

    registered_name = models.CharField(_("registered name"), max_length=512)
    sender_id = models.CharField(_("sender ID"), max_length=64, blank=True)
    category = models.CharField(_("service category"), max_length=16, choices=Category.choices)
    language = models.CharField(_("language"), max_length=10, default="en")
    validity_seconds = models.PositiveIntegerField(
        _("message validity period (seconds)"), default=int(timedelta(days=30).total_seconds())
    )
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.DRAFT)
    header_type = models.CharField(
        _("header"), max_length=10, choices=HeaderType.choices, default=HeaderType.NONE
    )
    header_text = models.CharField(_("header text"), max_length=60, blank=True)
    header_media_url = models.URLField(_("header media example"), max_length=1000, blank=True)
    body = models.TextField(_("body"))
    footer = models.CharField(_("footer"), max_length=60, blank=True)
    # [{"type": "reply"|"url", "text": ..., "url": ...}]
    buttons = models.JSONField(_("buttons"), default=list, blank=True)
    # Sample values of the {{n}} variables, in order (guide §12.4.1: every variable has a sample).
    header_examples = models.JSONField(_("header variable samples"), default=list, blank=True)
    body_examples = models.JSONField(_("body variable samples"), default=list, blank=True)
    rejection_reason = models.TextField(_("rejection reason"), blank=True)
    submitted_at = models.DateTimeField(_("submitted at"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
    )

    class Meta:
        verbose_name = _("WhatsApp template")
        constraints = [
            models.UniqueConstraint(
                fields=["company", "sender_id", "registered_name", "language"],
                name="watemplate_unique_name_language",
            ),
        ]
        indexes = [
            models.Index(fields=["company", "status", "registered_name"], name="watemplate_status_idx"),
            models.Index(fields=["company", "created_at", "id"], name="watemplate_created_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.registered_name} ({self.language})"

    @property
    def header_param_count(self) -> int:
        return param_count(self.header_text) if self.header_type == self.HeaderType.TEXT else 0

    @property
    def body_param_count(self) -> int:
        return param_count(self.body)

    @property
    def is_approved(self) -> bool:
        return self.status == self.Status.APPROVED

    @property
    def can_be_moderated(self) -> bool:
        return self.status in (self.Status.SUBMITTED, self.Status.PENDING, self.Status.IN_APPEAL)


def param_count(text: str) -> int:
    """The number of distinct ``{{n}}`` variables of a text (guide §12.4.1: numeric keys, unique)."""
    return len(set(PLACEHOLDER.findall(text or "")))


def placeholders(text: str) -> list[int]:
    return [int(n) for n in PLACEHOLDER.findall(text or "")]
