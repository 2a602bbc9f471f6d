"""Opt-outs of contacts (guide §8.1.3-§8.1.4) and opt-out words (guide §8.3, inventory §8.5)."""

import datetime
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from channels_out.kinds import ChannelKind
from contacts.models import (
    Contact,
    ContactOptOut,
    OptOutWord,
)
from contacts.selectors import optout_word_active
from contacts.services._common import CONTACT_AUDIT_FIELDS, _check_company
from contacts.services.contacts import _save_contact
from contacts.values import normalize_phone
from portal.accounts.models import User
from portal.audit import actions
from portal.audit.models import AuditDetail
from portal.audit.services import audit_record, change_of, snapshot
from portal.tenants.models import Company


def _clean_channel(channel: str) -> str:
    if channel not in ChannelKind.values:
        raise ValidationError({"channel": _("Choose a channel.")})
    return channel


@transaction.atomic
def contact_optout_set(
    *,
    company: Company,
    actor: User | None,
    contact: Contact,
    channel: str,
    sender_id: str = "",
    source: str = ContactOptOut.Source.MANUAL,
) -> ContactOptOut:
    """Opt the contact out of ``channel`` (a sender ID, or blank for the whole channel) with the date and user.

    Side effects: inserts a ContactOptOut (an existing one is kept as it was); audit ``contact.opted_out``.
    Raises ValidationError for an unknown channel or a sender ID over 100 characters.
    """
    _check_company(company, contact)
    _clean_channel(channel)
    sender_id = sender_id.strip()
    if len(sender_id) > 100:
        raise ValidationError({"sender_id": _("At most 100 characters.")})
    optout, created = ContactOptOut.objects.get_or_create(
        company=company,
        contact=contact,
        channel=channel,
        sender_id=sender_id,
        defaults={"source": source, "created_by": actor if actor is not None else None},
    )
    if created:
        audit_record(
            company=company,
            actor=actor,
            action=actions.CONTACT_OPTED_OUT,
            target=contact,
            changes=[change_of(optout, AuditDetail.Operation.INSERT)],
        )
    return optout


@transaction.atomic
def contact_optout_remove(*, company: Company, actor: User | None, optout: ContactOptOut) -> None:
    """Lift one opt-out. Side effects: audit ``contact.opted_in``."""
    _check_company(company, optout)
    audit_record(
        company=company,
        actor=actor,
        action=actions.CONTACT_OPTED_IN,
        target=optout.contact,
        changes=[change_of(optout, AuditDetail.Operation.DELETE)],
    )
    optout.delete()


# -- opt-out words (guide §8.3, inventory §8.5) ----------------------------------------------------------------


@dataclass(frozen=True)
class OptOutWordData:
    word: str
    channel: str
    effective_from: datetime.datetime | None
    effective_till: datetime.datetime | None = None
    sender_id: str = ""  # blank = the whole channel


def _clean_word(data: OptOutWordData) -> dict[str, Any]:
    errors: dict[str, str] = {}
    word = " ".join((data.word or "").split())
    if not word:
        errors["word"] = _("Enter the opt-out word.")
    elif len(word) > 100:
        errors["word"] = _("At most 100 characters.")
    if data.channel not in ChannelKind.values:
        errors["channel"] = _("Choose a channel.")
    if len(data.sender_id.strip()) > 100:
        errors["sender_id"] = _("At most 100 characters.")
    if data.effective_from is None:
        errors["effective_from"] = _("Enter the date and time the word starts to work.")
    elif data.effective_till is not None and data.effective_till < data.effective_from:
        # G12: a till earlier than from is refused.
        errors["effective_till"] = _("Effective till must not be earlier than Effective from.")
    for moment in (data.effective_from, data.effective_till):
        if moment is not None and timezone.is_naive(moment):
            raise ValueError("opt-out word periods must be aware datetimes")
    if errors:
        raise ValidationError(errors)
    return {
        "word": word,
        "channel": data.channel,
        "sender_id": data.sender_id.strip(),
        "effective_from": data.effective_from,
        "effective_till": data.effective_till,
    }


@transaction.atomic
def optout_word_create(*, company: Company, actor: User | None, data: OptOutWordData) -> OptOutWord:
    """Add an opt-out word. Side effects: audit ``optout_word.created``. Raises ValidationError per field."""
    word = OptOutWord(company=company, **_clean_word(data))
    word.save()
    audit_record(
        company=company,
        actor=actor,
        action=actions.OPTOUT_WORD_CREATED,
        target=word,
        changes=[change_of(word, AuditDetail.Operation.INSERT)],
    )
    return word


@transaction.atomic
def optout_word_update(
    *, company: Company, actor: User | None, word: OptOutWord, data: OptOutWordData
) -> OptOutWord:
    """Change an opt-out word. Side effects: audit ``optout_word.changed``. Raises ValidationError per field."""
    _check_company(company, word)
    old = snapshot(word)
    for name, value in _clean_word(data).items():
        setattr(word, name, value)
    word.save()
    audit_record(
        company=company,
        actor=actor,
        action=actions.OPTOUT_WORD_CHANGED,
        target=word,
        changes=[change_of(word, AuditDetail.Operation.UPDATE, old=old, new=snapshot(word))],
    )
    return word


@transaction.atomic
def optout_word_delete(*, company: Company, actor: User | None, word: OptOutWord) -> None:
    """Delete an opt-out word; opt-outs it made stay. Side effects: audit ``optout_word.deleted``."""
    _check_company(company, word)
    audit_record(
        company=company,
        actor=actor,
        action=actions.OPTOUT_WORD_DELETED,
        target=word,
        changes=[change_of(word, AuditDetail.Operation.DELETE)],
    )
    word.delete()


def _matches(word: str, text: str) -> bool:
    # G12: the whole message, trimmed and case-insensitive (so STOP, Stop and stop are the same word).
    return " ".join(text.split()).casefold() == " ".join(word.split()).casefold()


@transaction.atomic
def optout_inbound_apply(
    *,
    company_id: int,
    channel: str,
    sender_id: str,
    from_address: str,
    text: str,
    received_at: datetime.datetime,
    message_id: int | None = None,
) -> str:
    """Handle one inbound message for opt-outs; return "opted_out", "opted_in" or "none".

    Guide §8.3: a message matching a word active at its time (words of that channel for that sender or the whole
    channel) opts the contact out of the word's scope, recorded with the message time and source "word". The
    contact is created when the number is new, so that a later import cannot message someone who said STOP.

    A later message that is not an opt-out word opts the contact back in. The guide says "any MO … regardless of
    the channel type"; decision (G13): it lifts only the opt-outs of that message's channel for that sender and the
    whole-channel one, not other channels, and only those older than the message, so a re-delivered or late
    message never undoes a newer STOP, and the STOP itself never lifts its own opt-out.

    Idempotent: handling the same message twice changes nothing more. Side effects: ContactOptOut rows, maybe a
    contact; audit ``contact.opted_out`` / ``contact.opted_in`` with the system as actor.
    """
    company = Company.objects.get(pk=company_id)
    try:
        phone = normalize_phone(from_address, country=company.default_country)
    except ValidationError:
        return "none"  # not a phone identity (e-mail, app id): no contact to opt out
    words = [
        w
        for w in optout_word_active(company=company, channel=channel, sender_id=sender_id, moment=received_at)
        if _matches(w.word, text)
    ]
    contact = Contact.objects.filter(company=company, phone=phone).first()
    if words:
        if contact is None:
            contact = Contact(company=company, phone=phone)
            _save_contact(contact)
            audit_record(
                company=company,
                actor=None,
                action=actions.CONTACT_CREATED,
                target=contact,
                changes=[
                    change_of(
                        contact, AuditDetail.Operation.INSERT, new=snapshot(contact, CONTACT_AUDIT_FIELDS)
                    )
                ],
            )
        # A whole-channel word wins over a sender word: it covers more.
        word = min(words, key=lambda w: (bool(w.sender_id), w.pk))
        scope = "" if word.whole_channel else sender_id
        optout, created = ContactOptOut.objects.get_or_create(
            company=company,
            contact=contact,
            channel=channel,
            sender_id=scope,
            defaults={
                "source": ContactOptOut.Source.WORD,
                "word": word,
                "message_id": message_id,
                "opted_out_at": received_at,
            },
        )
        if created:
            audit_record(
                company=company,
                actor=None,
                action=actions.CONTACT_OPTED_OUT,
                target=contact,
                changes=[change_of(optout, AuditDetail.Operation.INSERT)],
            )
        return "opted_out"
    if contact is None:
        return "none"
    lifted = list(
        ContactOptOut.objects.filter(company=company, contact=contact, channel=channel)
        .filter(Q(sender_id="") | Q(sender_id=sender_id))
        .filter(opted_out_at__lt=received_at)
    )
    if not lifted:
        return "none"
    audit_record(
        company=company,
        actor=None,
        action=actions.CONTACT_OPTED_IN,
        target=contact,
        changes=[change_of(o, AuditDetail.Operation.DELETE) for o in lifted],
    )
    ContactOptOut.objects.filter(pk__in=[o.pk for o in lifted]).delete()
    return "opted_in"
