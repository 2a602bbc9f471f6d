"""Reads of the Assets section (guide §12)."""

from __future__ import annotations

from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.urls import reverse

from assets import media_rules
from assets.models import ContentTemplate, MediaFile, WhatsAppTemplate
from portal.core.models import TenantQuerySet
from portal.tenants.models import Company


def media_list(
    *, company: Company, channel: str = "", kind: str = "", search: str = ""
) -> TenantQuerySet[MediaFile]:
    """The company's media; with ``channel`` only what that channel can send (its kinds and extensions),
    with ``kind`` only that media kind."""
    qs = MediaFile.objects.filter(company=company)
    if channel or kind:
        rule = media_rules.rule_for(channel)
        condition = Q()
        for each in media_rules.accepted_kinds(channel, kind):
            exts = rule.extensions(each)
            condition |= Q(kind=each, ext__in=sorted(exts), size__lte=rule.max_size(each))
        qs = qs.filter(condition) if condition else qs.none()
    if search:
        qs = qs.filter(filename__icontains=search)
    return qs


def media_get(*, company: Company, uuid: str) -> MediaFile:
    return MediaFile.objects.get(company=company, uuid=uuid)


def media_public_path(media: MediaFile) -> str:
    return reverse("assets-public:media-file", args=[media.uuid, media.filename])


def media_public_url(media: MediaFile, request: HttpRequest) -> str:
    """The absolute public URL vendors fetch the file from (no login; the uuid makes it unguessable)."""
    return request.build_absolute_uri(media_public_path(media))


def media_public_get(*, uuid: str) -> MediaFile:
    """A media file by its public uuid alone: the public URL is the one read that has no company."""
    return MediaFile.objects.get(uuid=uuid)


def content_template_list(*, company: Company, channel: str = "") -> QuerySet[ContentTemplate]:
    qs = ContentTemplate.objects.filter(company=company)
    return qs.filter(channel=channel) if channel else qs


def whatsapp_template_list(*, company: Company) -> QuerySet[WhatsAppTemplate]:
    return WhatsAppTemplate.objects.filter(company=company)


def whatsapp_template_approved(*, company: Company) -> QuerySet[WhatsAppTemplate]:
    """The templates a message may use: only ``Approved`` ones (guide §12.4, inventory A check 70)."""
    return WhatsAppTemplate.objects.filter(company=company, status=WhatsAppTemplate.Status.APPROVED).order_by(
        "registered_name", "language"
    )
