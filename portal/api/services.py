"""Writes on API accesses (guide §15): create, change, delete, regenerate the key, and note its use.

Every write that changes what a key can do records an audit entry in the same transaction. The key and its hash
never reach the audit values: the detail rows carry only the fields of ``AUDIT_FIELDS``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from portal.accounts.models import User
from portal.api import keys
from portal.api.models import ApiAccess
from portal.audit import actions
from portal.audit.models import AuditDetail
from portal.audit.services import audit_record, change_of, snapshot
from portal.core.exceptions import ApplicationError
from portal.tenants.models import Company

# What the audit log shows of an API access; ``key_hash`` is left out on purpose (and redacted anyway).
AUDIT_FIELDS = ("name", "scopes", "webhook_url", "senders", "key_prefix")
MAX_SENDERS = 100
SENDER_MAX_LENGTH = 64
# ``last_used_at`` is refreshed at most this often, so a busy key does not write on every request.
LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True)
class IssuedKey:
    """A freshly generated key and its access. The key is not in ``repr`` so it cannot slip into a log line."""

    access: ApiAccess
    key: str = field(repr=False)


def _clean_fields(
    *,
    company: Company,
    name: str,
    scopes: Iterable[str],
    webhook_url: str,
    senders: Iterable[str],
    exclude_pk: int | None = None,
) -> dict[str, Any]:
    """Validate and normalize the editable fields; raise one ValidationError naming every bad field."""
    errors: dict[str, list[str]] = {}
    name = (name or "").strip()
    max_name = ApiAccess._meta.get_field("name").max_length or 100
    if not name:
        errors["name"] = [_("Enter a name for the API access.")]
    elif len(name) > max_name:
        errors["name"] = [_("Use at most %(n)d characters for the name.") % {"n": max_name}]
    else:
        clash = ApiAccess.objects.for_company(company).filter(name__iexact=name)
        if exclude_pk is not None:
            clash = clash.exclude(pk=exclude_pk)
        if clash.exists():
            errors["name"] = [_("An API access named “%(name)s” already exists.") % {"name": name}]

    valid_scopes = {choice.value for choice in ApiAccess.Scope}
    # The guide writes "CRM" in capitals; codes are compared case-insensitively and stored in lowercase.
    wanted = [str(s).strip().lower() for s in scopes if str(s).strip()]
    unknown = sorted({s for s in wanted if s not in valid_scopes})
    if unknown:
        errors["scopes"] = [
            _("Unknown scope: %(unknown)s. Choose from %(valid)s.")
            % {"unknown": ", ".join(unknown), "valid": ", ".join(ApiAccess.Scope.values)}
        ]
    elif not wanted:
        errors["scopes"] = [_("Choose at least one scope.")]
    clean_scopes = [s for s in ApiAccess.Scope.values if s in wanted]

    webhook_url = (webhook_url or "").strip()
    max_url = ApiAccess._meta.get_field("webhook_url").max_length or 500
    if webhook_url:
        if len(webhook_url) > max_url:
            errors["webhook_url"] = [_("Use at most %(n)d characters for the webhook URL.") % {"n": max_url}]
        else:
            try:
                URLValidator(schemes=["http", "https"])(webhook_url)
            except ValidationError:
                # Guide §15 samples hold "gmail.com": a bare domain is refused with a hint.
                errors["webhook_url"] = [
                    _(
                        "Enter a full webhook URL starting with http:// or https://, e.g. https://example.com/hook."
                    )
                ]

    clean_senders: list[str] = []
    sender_errors: list[str] = []
    for raw in senders:
        sender = str(raw).strip()
        if not sender or sender in clean_senders:
            continue
        if len(sender) > SENDER_MAX_LENGTH:
            sender_errors.append(
                _("Sender ID “%(s)s” is longer than %(n)d characters.")
                % {"s": sender, "n": SENDER_MAX_LENGTH}
            )
        elif not sender.isprintable() or "," in sender:
            sender_errors.append(
                _("Sender ID “%(s)s” contains a comma or a control character.") % {"s": sender}
            )
        else:
            clean_senders.append(sender)
    if len(clean_senders) > MAX_SENDERS:
        sender_errors.append(_("Name at most %(n)d sender IDs.") % {"n": MAX_SENDERS})
    if sender_errors:
        errors["senders"] = sender_errors

    if errors:
        raise ValidationError(errors)
    return {"name": name, "scopes": clean_scopes, "webhook_url": webhook_url, "senders": clean_senders}


def _new_key() -> tuple[str, str, str]:
    """Return (key, prefix, hash) with a prefix no other key uses."""
    for _attempt in range(5):
        key = keys.key_generate()
        prefix = keys.key_prefix(key)
        if not ApiAccess.objects.filter(key_prefix=prefix).exists():
            return key, prefix, keys.key_hash(key)
    # 48 random bits colliding five times in a row means the random source is broken: refuse loudly.
    raise ApplicationError(_("Could not generate a unique API key. Try again."))


def _check_company(access: ApiAccess, company: Company) -> None:
    if access.company_id != company.pk:
        raise ApplicationError(_("This API access belongs to another company."))


@transaction.atomic
def api_access_create(
    *,
    company: Company,
    actor: User | None,
    name: str,
    scopes: Sequence[str],
    webhook_url: str = "",
    senders: Sequence[str] = (),
) -> IssuedKey:
    """Create an API access and generate its key (guide §15.1 *Create API key*).

    Side effects: inserts an ApiAccess row (only the key's prefix and HMAC are stored) and an audit entry
    "Created API key". Returns the key; it cannot be read again later.
    Raises ValidationError naming each bad field (name, scopes, webhook_url, senders).
    """
    data = _clean_fields(company=company, name=name, scopes=scopes, webhook_url=webhook_url, senders=senders)
    key, prefix, digest = _new_key()
    access = ApiAccess.objects.create(
        company=company,
        created_by=actor,
        key_prefix=prefix,
        key_hash=digest,
        key_created_at=timezone.now(),
        **data,
    )
    audit_record(
        company=company,
        actor=actor,
        action=actions.API_KEY_CREATED,
        target=access,
        changes=[change_of(access, AuditDetail.Operation.INSERT, new=snapshot(access, AUDIT_FIELDS))],
    )
    return IssuedKey(access=access, key=key)


@transaction.atomic
def api_access_update(
    *,
    company: Company,
    actor: User | None,
    access: ApiAccess,
    name: str,
    scopes: Sequence[str],
    webhook_url: str = "",
    senders: Sequence[str] = (),
) -> ApiAccess:
    """Change the name, scopes, webhook and senders of an API access; the key stays the same.

    Side effects: updates the row and, when something changed, records "Changed API key" with the old and new
    values of the changed fields. Raises ValidationError naming each bad field, ApplicationError for an access of
    another company.
    """
    _check_company(access, company)
    data = _clean_fields(
        company=company,
        name=name,
        scopes=scopes,
        webhook_url=webhook_url,
        senders=senders,
        exclude_pk=access.pk,
    )
    before = snapshot(access, data.keys())
    for attr, value in data.items():
        setattr(access, attr, value)
    after = snapshot(access, data.keys())
    changed = [k for k in data if before.get(k) != after.get(k)]
    if not changed:
        return access
    access.save(update_fields=[*changed, "updated_at"])
    audit_record(
        company=company,
        actor=actor,
        action=actions.API_KEY_CHANGED,
        target=access,
        changes=[
            change_of(
                access,
                AuditDetail.Operation.UPDATE,
                old={k: before[k] for k in changed},
                new={k: after[k] for k in changed},
            )
        ],
    )
    return access


@transaction.atomic
def api_access_regenerate_key(*, company: Company, actor: User | None, access: ApiAccess) -> IssuedKey:
    """Replace the key of an API access (guide §15.2 step 3); the old key stops working at once.

    Side effects: overwrites the stored prefix and HMAC and records "Regenerated API key" with the old and new
    prefixes. Returns the new key; it cannot be read again later. Raises ApplicationError for an access of
    another company.
    """
    _check_company(access, company)
    old_prefix = access.key_prefix
    key, prefix, digest = _new_key()
    access.key_prefix = prefix
    access.key_hash = digest
    access.key_created_at = timezone.now()
    access.save(update_fields=["key_prefix", "key_hash", "key_created_at", "updated_at"])
    audit_record(
        company=company,
        actor=actor,
        action=actions.API_KEY_REGENERATED,
        target=access,
        changes=[
            change_of(
                access,
                AuditDetail.Operation.UPDATE,
                old={"key_prefix": old_prefix},
                new={"key_prefix": prefix},
            )
        ],
    )
    return IssuedKey(access=access, key=key)


@transaction.atomic
def api_access_delete(*, company: Company, actor: User | None, access: ApiAccess) -> None:
    """Delete an API access; its key stops working at once (guide §15 acceptance 68).

    Side effects: deletes the row and records "Deleted API key" with its last values.
    Raises ApplicationError for an access of another company.
    """
    _check_company(access, company)
    detail = change_of(access, AuditDetail.Operation.DELETE, old=snapshot(access, AUDIT_FIELDS))
    audit_record(
        company=company, actor=actor, action=actions.API_KEY_DELETED, target=access, changes=[detail]
    )
    access.delete()


def api_access_mark_used(*, access: ApiAccess) -> None:
    """Note that the key authenticated a request (for the table's "last used" hint).

    Side effects: updates ``last_used_at`` when it is older than ``LAST_USED_RESOLUTION``; no audit entry (this
    is usage metadata, not a change of the key).
    """
    now = timezone.now()
    if access.last_used_at is not None and now - access.last_used_at < LAST_USED_RESOLUTION:
        return
    ApiAccess.objects.filter(pk=access.pk).update(last_used_at=now)
    access.last_used_at = now
