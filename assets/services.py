"""Writes of the Assets section (guide §12): media uploads, content templates, WhatsApp templates."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from assets import media_rules
from assets.models import ContentTemplate, MediaFile, WhatsAppTemplate
from channels_out.formats import message_from_json
from channels_out.kinds import ChannelKind
from portal.accounts.models import User
from portal.audit.models import AuditDetail
from portal.audit.services import audit_record, change_of, snapshot
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
    kinds = media_rules.accepted_kinds(channel, kind)
    allowed = frozenset().union(*(rule.extensions(each) for each in kinds))
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


# -- content templates (guide §12.3) ----------------------------------------------------------------------------

CONTENT_TEMPLATE_CREATED = "content_template.created"
CONTENT_TEMPLATE_CHANGED = "content_template.changed"
CONTENT_TEMPLATE_DELETED = "content_template.deleted"
CONTENT_TEMPLATE_NAME_MAX = 200


def _template_name(name: str) -> str:
    clean = " ".join((name or "").split())
    if not clean:
        raise ValidationError({"name": [_("Enter the template name.")]})
    if len(clean) > CONTENT_TEMPLATE_NAME_MAX:
        raise ValidationError(
            {"name": [_("At most %(max)d characters.") % {"max": CONTENT_TEMPLATE_NAME_MAX}]}
        )
    return clean


def _unique_name(company: Company, channel: str, name: str, exclude: int | None = None) -> None:
    qs = ContentTemplate.objects.filter(company=company, channel=channel, name__iexact=name)
    if exclude is not None:
        qs = qs.exclude(pk=exclude)
    if qs.exists():
        raise ValidationError({"name": [_("A template of this channel already has this name.")]})


def content_template_validate(
    *, company: Company, channel: str, format_key: str, content: Any
) -> dict[str, Any]:
    """The message ``content`` of format ``format_key``, validated by the constructor's model of that format
    (``channels_out.formats.message_from_json``), and for a WhatsApp template message the Approved template and
    its parameter count. Raises ValidationError keyed by field path."""
    if channel not in ChannelKind.values:
        raise ValidationError({"channel": [_("Choose a channel.")]})
    if not isinstance(content, dict):
        raise ValidationError({"content": [_("Expected the message's fields.")]})
    message_from_json(channel, format_key, content)
    if channel == ChannelKind.WHATSAPP and format_key == "template":
        problems = whatsapp_template_check(company=company, data=content)
        if problems:
            raise ValidationError(problems)
    return content


@transaction.atomic
def content_template_create(
    *, company: Company, actor: User | None, name: str, channel: str, format_key: str, content: Any
) -> ContentTemplate:
    """Save a message as a named template of its channel (guide §12.3; from a broadcast step, inventory A §9.2
    "save it as a template for later broadcasts"). Side effects: audit. Raises ValidationError."""
    clean = _template_name(name)
    content_template_validate(company=company, channel=channel, format_key=format_key, content=content)
    _unique_name(company, channel, clean)
    template = ContentTemplate.objects.create(
        company=company,
        name=clean,
        channel=channel,
        format_key=format_key,
        content=content,
        created_by=actor if actor is not None and actor.is_authenticated else None,
    )
    audit_record(
        company=company,
        actor=actor,
        action=CONTENT_TEMPLATE_CREATED,
        target=template,
        changes=[change_of(template, AuditDetail.Operation.INSERT)],
    )
    return template


@transaction.atomic
def content_template_update(
    *,
    company: Company,
    actor: User | None,
    template: ContentTemplate,
    name: str,
    format_key: str | None = None,
    content: Any = None,
) -> ContentTemplate:
    """Rename a template, and replace its message when ``format_key`` and ``content`` are given (the channel
    stays). Side effects: audit. Raises ValidationError."""
    if template.company_id != company.pk:
        raise ValidationError(_("This object belongs to another company."))
    old = snapshot(template)
    template.name = _template_name(name)
    _unique_name(company, template.channel, template.name, exclude=template.pk)
    if format_key is not None:
        content_template_validate(
            company=company, channel=template.channel, format_key=format_key, content=content
        )
        template.format_key, template.content = format_key, content
    template.save()
    audit_record(
        company=company,
        actor=actor,
        action=CONTENT_TEMPLATE_CHANGED,
        target=template,
        changes=[change_of(template, AuditDetail.Operation.UPDATE, old=old, new=snapshot(template))],
    )
    return template


@transaction.atomic
def content_template_delete(*, company: Company, actor: User | None, template: ContentTemplate) -> None:
    if template.company_id != company.pk:
        raise ValidationError(_("This object belongs to another company."))
    audit_record(
        company=company,
        actor=actor,
        action=CONTENT_TEMPLATE_DELETED,
        target=template,
        changes=[change_of(template, AuditDetail.Operation.DELETE)],
    )
    template.delete()


# -- WhatsApp templates (guide §12.4) ---------------------------------------------------------------------------


def whatsapp_template_check(*, company: Company, data: Any) -> dict[str, list[str]]:
    """The one check of a WhatsApp template message against the company's templates (guide §12.4: only Approved
    templates can be used; inventory A check 70). ``data`` is the ``template`` format's JSON (name, language,
    header_params, body_params). Returns ``{path: [messages]}``, empty when the message may be sent.

    Used by content templates, broadcast step validation and the API send path.
    """
    if not isinstance(data, dict):
        return {"name": [_("Choose an Approved WhatsApp template.")]}
    name = str(data.get("name") or "")
    language = str(data.get("language") or "en")
    if not name:
        return {"name": [_("Choose an Approved WhatsApp template.")]}
    found = list(WhatsAppTemplate.objects.filter(company=company, registered_name=name, language=language))
    approved = [t for t in found if t.is_approved]
    if not approved:
        if found:
            return {
                "name": [
                    _(
                        "WhatsApp template %(name)s (%(language)s) is %(status)s; only Approved templates can be sent."
                    )
                    % {"name": name, "language": language, "status": found[0].get_status_display()}
                ]
            }
        return {
            "name": [
                _("Your company has no WhatsApp template %(name)s in language %(language)s.")
                % {"name": name, "language": language}
            ]
        }
    template = approved[0]
    errors: dict[str, list[str]] = {}
    for key, expected in (
        ("header_params", template.header_param_count),
        ("body_params", template.body_param_count),
    ):
        given = data.get(key) or []
        count = len(given) if isinstance(given, list | tuple) else -1
        if count != expected:
            errors[key] = [
                ngettext(
                    "The template needs exactly %(n)d parameter here (%(given)d given).",
                    "The template needs exactly %(n)d parameters here (%(given)d given).",
                    expected,
                )
                % {"n": expected, "given": max(count, 0)}
            ]
    return errors
