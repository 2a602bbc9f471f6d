"""Writes of the Assets section (guide §12): media uploads, content templates, WhatsApp templates."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from assets import media_rules
from assets.models import ContentTemplate, MediaFile, WhatsAppTemplate, placeholders
from channels_out.formats import message_from_json
from channels_out.formats import whatsapp as whatsapp_format
from channels_out.kinds import ChannelKind
from channels_out.validation import payload_text
from portal.accounts.models import User
from portal.audit import actions
from portal.audit.models import AuditDetail
from portal.audit.services import audit_record, change_of, snapshot
from portal.tenants.models import Company

MEDIA_UPLOADED = actions.MEDIA_UPLOADED
MEDIA_DELETED = actions.MEDIA_DELETED


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

CONTENT_TEMPLATE_CREATED = actions.CONTENT_TEMPLATE_CREATED
CONTENT_TEMPLATE_CHANGED = actions.CONTENT_TEMPLATE_CHANGED
CONTENT_TEMPLATE_DELETED = actions.CONTENT_TEMPLATE_DELETED
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
    if channel == ChannelKind.SMS:
        # SMS has no constructor format: a text with personalisation placeholders, counted in SMS parts
        # (guide §12.3 "SMS: a text body ... a live counter"), checked as every SMS step is.
        if format_key != "text" or set(content) != {"text"}:
            raise ValidationError({"format": [_("An SMS template is a text.")]})
        try:
            payload_text(channel, content)
        except ValidationError as exc:
            raise ValidationError({"text": exc.messages}) from exc
        return content
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


WA_TEMPLATE_CREATED = actions.WA_TEMPLATE_CREATED
WA_TEMPLATE_SUBMITTED = actions.WA_TEMPLATE_SUBMITTED
WA_TEMPLATE_MODERATED = actions.WA_TEMPLATE_MODERATED
WA_TEMPLATE_DELETED = actions.WA_TEMPLATE_DELETED

# Guide §12.4.1 / §12.4.1.1 (Card): the limits of a template's parts.
WA_NAME = re.compile(r"^[a-z0-9_]+$")
WA_NAME_MAX = 512  # [INF] Meta's limit
WA_HEADER_TEXT_MAX = 50
WA_HEADER_VARIABLES_MAX = 1
WA_BODY_MAX = 550
WA_EMOJI_MAX = 10
WA_FOOTER_MAX = 60
WA_BUTTONS_MAX = 10
WA_URL_BUTTONS_MAX = 2
WA_BUTTON_TEXT_MAX = 25  # [INF] Meta's button label limit
_EMOJI = re.compile(
    "[\U0001f300-\U0001faff\U00002600-\U000027bf\U0001f000-\U0001f2ff\U0001f900-\U0001f9ff\u2300-\u23ff\u2b00-\u2bff]"
)


def whatsapp_payload_check(*, company: Company, channel: str, payload: Any) -> None:
    """The send API's check of an outgoing payload ``{format, content}``: a WhatsApp template message must use an
    Approved template of the company with its exact parameter counts. Raises ValidationError naming
    ``message.payload.<field>``; any other payload passes."""
    if (
        channel != ChannelKind.WHATSAPP
        or not isinstance(payload, dict)
        or payload.get("format") != "template"
    ):
        return
    try:
        message_from_json(channel, "template", payload.get("content"))
    except ValidationError:
        return  # a malformed message is named by the send path's own format check
    problems = whatsapp_template_check(company=company, data=payload.get("content"))
    if problems:
        raise ValidationError({f"message.payload.{key}": messages for key, messages in problems.items()})


@dataclass(frozen=True, kw_only=True)
class WhatsAppTemplateData:
    registered_name: str
    category: str
    language: str
    body: str
    sender_id: str = ""
    validity_seconds: int = 30 * 24 * 3600
    header_type: str = WhatsAppTemplate.HeaderType.NONE
    header_text: str = ""
    header_media_url: str = ""
    footer: str = ""
    buttons: list[dict[str, str]] = field(default_factory=list)
    header_examples: list[str] = field(default_factory=list)
    body_examples: list[str] = field(default_factory=list)


def _variables(text: str, where: str, examples: list[str], errors: dict[str, list[str]]) -> None:
    """Guide §12.4.1: variables are {{1}}, {{2}} ... with unique keys, and every variable needs a sample value."""
    keys = placeholders(text)
    if len(keys) != len(set(keys)):
        errors.setdefault(where, []).append(_("Each variable may appear only once (repeated keys)."))
    if sorted(set(keys)) != list(range(1, len(set(keys)) + 1)):
        errors.setdefault(where, []).append(_("Number the variables {{1}}, {{2}} and so on without gaps."))
    count = len(set(keys))
    given = list(examples)
    while given and not given[-1].strip():
        given.pop()
    if count and (len(given) < count or any(not s.strip() for s in given[:count])):
        errors.setdefault(f"{where}_examples", []).append(
            ngettext(
                "Give a sample value for the %(n)d variable.",
                "Give a sample value for each of the %(n)d variables.",
                count,
            )
            % {"n": count}
        )
    elif len(given) > count:
        errors.setdefault(f"{where}_examples", []).append(_("There are more sample values than variables."))


def whatsapp_template_errors(data: WhatsAppTemplateData) -> dict[str, list[str]]:
    """Every rule of guide §12.4.1 (common) and §12.4.1.1 (Card) that ``data`` breaks, keyed by field."""
    errors: dict[str, list[str]] = {}

    def add(key: str, message: str) -> None:
        errors.setdefault(key, []).append(message)

    if not data.registered_name:
        add("registered_name", _("Enter the registered name."))
    elif len(data.registered_name) > WA_NAME_MAX or not WA_NAME.match(data.registered_name):
        add("registered_name", _("Use only lower-case letters, digits and underscores (at most 512)."))
    if data.category not in WhatsAppTemplate.Category.values:
        add("category", _("Choose a service category."))
    if not whatsapp_format.LANGUAGE.match(data.language or ""):
        add("language", _("Enter a language code such as en or pt_BR."))
    if data.header_type not in WhatsAppTemplate.HeaderType.values:
        add("header_type", _("Choose a header type."))
    elif data.header_type == WhatsAppTemplate.HeaderType.TEXT:
        if not data.header_text.strip():
            add("header_text", _("Enter the header text."))
        elif len(data.header_text) > WA_HEADER_TEXT_MAX:
            add("header_text", _("At most %(max)d characters.") % {"max": WA_HEADER_TEXT_MAX})
        if len(set(placeholders(data.header_text))) > WA_HEADER_VARIABLES_MAX:
            add("header_text", _("A text header has at most one variable."))
        _variables(data.header_text, "header", data.header_examples, errors)
    elif data.header_type != WhatsAppTemplate.HeaderType.NONE and not data.header_media_url:
        # Guide §12.4.1.1: a media header needs its (example) media link; a missing link gives an error.
        add("header_media_url", _("Choose the header's example media."))
    if not data.body.strip():
        add("body", _("The body text is required."))
    elif len(data.body) > WA_BODY_MAX:
        add(
            "body",
            _("At most %(max)d characters (it has %(n)d).") % {"max": WA_BODY_MAX, "n": len(data.body)},
        )
    if len(_EMOJI.findall(data.body)) > WA_EMOJI_MAX:
        add("body", _("At most %(max)d emojis in the body.") % {"max": WA_EMOJI_MAX})
    _variables(data.body, "body", data.body_examples, errors)
    if len(data.footer) > WA_FOOTER_MAX:
        add("footer", _("At most %(max)d characters.") % {"max": WA_FOOTER_MAX})
    if len(data.buttons) > WA_BUTTONS_MAX:
        add("buttons", _("At most %(max)d buttons.") % {"max": WA_BUTTONS_MAX})
    texts: list[str] = []
    urls: list[str] = []
    for n, button in enumerate(data.buttons, start=1):
        kind, text, url = (
            button.get("type", ""),
            button.get("text", "").strip(),
            button.get("url", "").strip(),
        )
        if kind not in ("reply", "url"):
            add("buttons", _("Button %(n)d: choose Reply or URL.") % {"n": n})
        if not text or len(text) > WA_BUTTON_TEXT_MAX:
            add(
                "buttons",
                _("Button %(n)d: enter a text of at most %(max)d characters.")
                % {"n": n, "max": WA_BUTTON_TEXT_MAX},
            )
        texts.append(text.lower())
        if kind == "url":
            if not url.startswith(("https://", "http://")):
                add("buttons", _("Button %(n)d: enter a URL starting with https://.") % {"n": n})
            urls.append(url)
    if sum(1 for b in data.buttons if b.get("type") == "url") > WA_URL_BUTTONS_MAX:
        add("buttons", _("At most %(max)d URL buttons.") % {"max": WA_URL_BUTTONS_MAX})
    if len(texts) != len(set(texts)):
        add("buttons", _("Button texts must be unique."))
    if len(urls) != len(set(urls)):
        add("buttons", _("Button URLs must be unique."))
    return errors


@transaction.atomic
def whatsapp_template_create(
    *, company: Company, actor: User | None, data: WhatsAppTemplateData, submit: bool
) -> WhatsAppTemplate:
    """Add a WhatsApp template (guide §12.4.1): *Save as draft* keeps it ``Draft``; *Save* submits it to WhatsApp
    (``Submitted``; the back office moderates it). There is no edit after submission. Raises ValidationError."""
    errors = whatsapp_template_errors(data)
    if (
        not errors
        and WhatsAppTemplate.objects.filter(
            company=company,
            sender_id=data.sender_id,
            registered_name=data.registered_name,
            language=data.language,
        ).exists()
    ):
        errors["registered_name"] = [
            _("A template with this name and language already exists for this sender.")
        ]
    if errors:
        raise ValidationError(errors)
    template = WhatsAppTemplate.objects.create(
        company=company,
        registered_name=data.registered_name,
        sender_id=data.sender_id,
        category=data.category,
        language=data.language,
        validity_seconds=data.validity_seconds,
        header_type=data.header_type,
        header_text=data.header_text if data.header_type == WhatsAppTemplate.HeaderType.TEXT else "",
        header_media_url=data.header_media_url
        if data.header_type not in (WhatsAppTemplate.HeaderType.TEXT, WhatsAppTemplate.HeaderType.NONE)
        else "",
        body=data.body,
        footer=data.footer,
        buttons=data.buttons,
        header_examples=[s for s in data.header_examples if s.strip()],
        body_examples=[s for s in data.body_examples if s.strip()],
        status=WhatsAppTemplate.Status.SUBMITTED if submit else WhatsAppTemplate.Status.DRAFT,
        submitted_at=timezone.now() if submit else None,
        created_by=actor if actor is not None and actor.is_authenticated else None,
    )
    audit_record(
        company=company,
        actor=actor,
        action=WA_TEMPLATE_SUBMITTED if submit else WA_TEMPLATE_CREATED,
        target=template,
        changes=[change_of(template, AuditDetail.Operation.INSERT)],
    )
    return template


@transaction.atomic
def whatsapp_template_submit(
    *, company: Company, actor: User | None, template: WhatsAppTemplate
) -> WhatsAppTemplate:
    """Submit a draft to WhatsApp (``Draft`` → ``Submitted``)."""
    if template.company_id != company.pk:
        raise ValidationError(_("This object belongs to another company."))
    if template.status != WhatsAppTemplate.Status.DRAFT:
        raise ValidationError(_("Only a draft can be submitted."))
    old = snapshot(template)
    template.status, template.submitted_at = WhatsAppTemplate.Status.SUBMITTED, timezone.now()
    template.save(update_fields=["status", "submitted_at", "updated_at"])
    audit_record(
        company=company,
        actor=actor,
        action=WA_TEMPLATE_SUBMITTED,
        target=template,
        changes=[change_of(template, AuditDetail.Operation.UPDATE, old=old, new=snapshot(template))],
    )
    return template


@transaction.atomic
def whatsapp_template_moderate(
    *, template: WhatsAppTemplate, actor: User | None, approve: bool, reason: str = ""
) -> WhatsAppTemplate:
    """The back office's decision, standing in for WhatsApp's (guide §12.4 [EXT]): a submitted, pending or
    appealed template becomes ``Approved``, or ``Rejected`` with a reason. Raises ValidationError."""
    template = WhatsAppTemplate.objects.select_for_update().get(pk=template.pk)
    if not template.can_be_moderated:
        raise ValidationError(
            _(
                "Template %(name)s is %(status)s; only a submitted, pending or appealed template can be moderated."
            )
            % {"name": template.registered_name, "status": template.get_status_display()}
        )
    reason = reason.strip()
    if not approve and not reason:
        raise ValidationError({"reason": [_("Give the reason for the rejection.")]})
    old = snapshot(template)
    template.status = WhatsAppTemplate.Status.APPROVED if approve else WhatsAppTemplate.Status.REJECTED
    template.rejection_reason = "" if approve else reason
    template.save(update_fields=["status", "rejection_reason", "updated_at"])
    audit_record(
        company=template.company,
        actor=actor,
        action=WA_TEMPLATE_MODERATED,
        target=template,
        changes=[change_of(template, AuditDetail.Operation.UPDATE, old=old, new=snapshot(template))],
    )
    return template


@transaction.atomic
def whatsapp_template_delete(
    *, company: Company, actor: User | None, template: WhatsAppTemplate, whatsapp_only: bool
) -> None:
    """Guide §12.4 row actions: *Delete from both the System and WhatsApp* removes the row; *Delete from WhatsApp
    only* keeps it with status ``Deleted`` (a draft was never on WhatsApp, so only the first applies)."""
    if template.company_id != company.pk:
        raise ValidationError(_("This object belongs to another company."))
    if whatsapp_only:
        if template.status in (WhatsAppTemplate.Status.DRAFT, WhatsAppTemplate.Status.DELETED):
            raise ValidationError(_("This template is not on WhatsApp."))
        old = snapshot(template)
        template.status = WhatsAppTemplate.Status.DELETED
        template.save(update_fields=["status", "updated_at"])
        changes = [change_of(template, AuditDetail.Operation.UPDATE, old=old, new=snapshot(template))]
    else:
        changes = [change_of(template, AuditDetail.Operation.DELETE)]
    audit_record(company=company, actor=actor, action=WA_TEMPLATE_DELETED, target=template, changes=changes)
    if not whatsapp_only:
        template.delete()
