"""Writes of the Assets section (guide §12): media uploads, content templates, WhatsApp templates."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils.translation import gettext as _

from assets import media_rules
from assets.models import MediaFile
from portal.accounts.models import User
from portal.audit.models import AuditDetail
from portal.audit.services import audit_record, change_of
from portal.tenants.models import Company

MEDIA_UPLOADED = "media.uploaded"
MEDIA_DELETED = "media.deleted"


def _check_company(company: Company, obj: MediaFile) -> None:
    if obj.company_id != company.pk:
        raise ValidationError(_("This object belongs to another company."))


def _mb(size: int) -> str:
    return f"{size / media_rules.MB:g}"


def media_check(*, upload: UploadedFile, channel: str = "", kind: str = "") -> media_rules.Sniffed:
    """The type of ``upload`` if ``channel`` (and the picker's ``kind``) accept it, else ValidationError.

    Guide §12.1 (library: any media or document, ≤ 500 MB) and the per-channel rules of ``media_rules``.
    """
    name = upload.name or ""
    rule = media_rules.rule_for(channel)
    ext = media_rules.extension(name)
    allowed = rule.extensions(kind) if kind else rule.extensions()
    if ext not in allowed:
        raise ValidationError(
            {
                "file": [
                    _("Files of type .%(ext)s cannot be used here; allowed: %(allowed)s.")
                    % {"ext": ext or "?", "allowed": ", ".join(sorted(allowed))}
                ]
            }
        )
    stream = upload.file
    sniffed = media_rules.sniff(name, stream) if stream is not None else None
    if sniffed is None:
        raise ValidationError(
            {"file": [_("The content of this file is not a .%(ext)s file.") % {"ext": ext}]}
        )
    limit = rule.max_size(sniffed.kind)
    size = upload.size or 0
    if size > limit:
        raise ValidationError(
            {
                "file": [
                    _("The file is %(size)s MB; %(channel)s takes at most %(max)s MB for this type.")
                    % {"size": f"{size / media_rules.MB:.2f}", "channel": rule.label, "max": _mb(limit)}
                ]
            }
        )
    if size == 0:
        raise ValidationError({"file": [_("The file is empty.")]})
    return sniffed


@transaction.atomic
def media_upload(
    *, company: Company, actor: User | None, upload: UploadedFile, channel: str = "", kind: str = ""
) -> MediaFile:
    """Store an uploaded file in the company's Media library (guide §12.1 and §9.3: a file uploaded in a
    message picker is saved to the library too). Checks the channel's types and size and the real content type.

    Side effects: writes the file to the media storage, audit ``media.uploaded``. Raises ValidationError.
    """
    sniffed = media_check(upload=upload, channel=channel, kind=kind)
    width = height = None
    if sniffed.kind == media_rules.MediaKind.IMAGE and sniffed.ext != "svg" and upload.file is not None:
        width, height = media_rules.image_dimensions(upload.file)
    filename = (upload.name or "file").rsplit("/", 1)[-1][:255]
    media = MediaFile(
        company=company,
        filename=filename,
        kind=sniffed.kind,
        ext=sniffed.ext,
        content_type=sniffed.content_type,
        size=upload.size or 0,
        width=width,
        height=height,
        uploaded_by=actor if actor is not None and actor.is_authenticated else None,
    )
    media.file.save(filename, upload, save=False)
    try:
        media.save()
    except Exception:
        media.file.delete(save=False)  # nothing half written: no orphan file without its row
        raise
    audit_record(
        company=company,
        actor=actor,
        action=MEDIA_UPLOADED,
        target=media,
        changes=[change_of(media, AuditDetail.Operation.INSERT)],
    )
    return media


@transaction.atomic
def media_delete(*, company: Company, actor: User | None, media: MediaFile) -> None:
    """Delete a media file (guide §12.1 "delete from the System"). Side effects: the stored file is removed
    after commit, audit ``media.deleted``."""
    _check_company(company, media)
    audit_record(
        company=company,
        actor=actor,
        action=MEDIA_DELETED,
        target=media,
        changes=[change_of(media, AuditDetail.Operation.DELETE)],
    )
    storage, path = media.file.storage, media.file.name
    media.delete()
    if path:
        transaction.on_commit(lambda: storage.delete(path))
