"""Opt-out words on inbound messages (guide §8.3, G12, G13) through the channel layer's dispatch point."""

from __future__ import annotations

import datetime
import zoneinfo

import pytest
from django.core.exceptions import ValidationError

from channels_out.inbound import InboundNotice, inbound_dispatch, inbound_subscribers
from contacts import services
from contacts.models import Contact, ContactOptOut
from contacts.selectors import opted_out_contact_ids
from portal.tenants.models import Company
from tests.contacts.factories import make_contact

MADRID = zoneinfo.ZoneInfo("Europe/Madrid")


def _word(company: Company, word: str = "STOP", **fields: object) -> None:
    data = {
        "word": word,
        "channel": "sms",
        "effective_from": datetime.datetime(2026, 7, 1, 0, 0, tzinfo=MADRID),
        "effective_till": None,
        "sender_id": "",
        **fields,
    }
    services.optout_word_create(company=company, actor=None, data=services.OptOutWordData(**data))  # type: ignore[arg-type]


def _mo(
    company: Company,
    text: str,
    at: datetime.datetime,
    *,
    sender: str = "ACME",
    channel: str = "sms",
    number: str = "+12015550177",
    message_id: int = 1,
) -> list[str]:
    return inbound_dispatch(
        InboundNotice(company_id=company.pk, message_id=message_id, channel=channel, sender_id=sender,
                      from_address=number, text=text, received_at=at)
    )  # fmt: skip


def test_subscriber_is_registered_first_on_the_dispatch_point() -> None:
    assert next(iter(inbound_subscribers)) == "contacts.optout"


def test_matching_word_opts_out_the_whole_channel_and_sends_skip(company: Company) -> None:
    """Acceptance 26: STOP (SMS, whole channel) opts out; case and spaces do not matter; a new number is created."""
    _word(company)
    at = datetime.datetime(2026, 7, 2, 12, 0, tzinfo=MADRID)
    assert _mo(company, "  stop ", at) == []
    contact = Contact.objects.get(company=company, phone="+12015550177")
    optout = ContactOptOut.objects.get(contact=contact)
    assert (optout.channel, optout.sender_id, optout.source, optout.opted_out_at) == ("sms", "", "word", at)
    assert opted_out_contact_ids(
        company=company, channel="sms", sender_id="OTHER", contact_ids=[contact.pk]
    ) == {contact.pk}
    assert not opted_out_contact_ids(
        company=company, channel="viber", sender_id="ACME", contact_ids=[contact.pk]
    )
    _mo(company, "STOP", at)  # the same message again changes nothing
    assert ContactOptOut.objects.filter(contact=contact).count() == 1


def test_word_outside_its_window_in_the_company_time_zone_does_nothing(company: Company) -> None:
    """Acceptance 27: effective from 01.07 00:00 to 02.07 00:00 Madrid time, edges checked in that zone."""
    company.time_zone = "Europe/Madrid"
    company.save()
    _word(company, effective_till=datetime.datetime(2026, 7, 2, 0, 0, tzinfo=MADRID))
    make_contact(company, "+12015550177")
    _mo(company, "STOP", datetime.datetime(2026, 6, 30, 23, 59, tzinfo=MADRID))  # 21:59 UTC, before the start
    _mo(company, "STOP", datetime.datetime(2026, 7, 2, 0, 0, tzinfo=MADRID))  # the end is exclusive
    assert not ContactOptOut.objects.exists()
    _mo(company, "STOP", datetime.datetime(2026, 7, 1, 0, 0, tzinfo=MADRID))
    assert ContactOptOut.objects.count() == 1


def test_a_till_before_from_is_refused(company: Company) -> None:
    with pytest.raises(ValidationError) as exc:
        _word(company, effective_till=datetime.datetime(2026, 6, 1, tzinfo=MADRID))
    assert exc.value.message_dict["effective_till"] == [
        "Effective till must not be earlier than Effective from."
    ]


def test_sender_word_opts_out_only_that_sender(company: Company) -> None:
    _word(company, "unsubscribe", sender_id="ACME")
    at = datetime.datetime(2026, 7, 2, tzinfo=MADRID)
    _mo(company, "Unsubscribe", at, sender="OTHER")
    assert not ContactOptOut.objects.exists()
    _mo(company, "Unsubscribe", at, sender="acme")
    assert ContactOptOut.objects.get().sender_id == "acme"


def test_partial_text_is_not_a_match(company: Company) -> None:
    _word(company)
    _mo(company, "please stop it", datetime.datetime(2026, 7, 2, tzinfo=MADRID))
    assert not Contact.objects.exists()


def test_a_later_message_opts_back_in_on_that_channel_only(company: Company) -> None:
    """Acceptance 28 and G13: a later non-word MO lifts (sms, sender) and (sms, whole), not other channels."""
    _word(company)
    stop_at = datetime.datetime(2026, 7, 2, 12, 0, tzinfo=MADRID)
    _mo(company, "STOP", stop_at)
    contact = Contact.objects.get(company=company)
    services.contact_optout_set(company=company, actor=None, contact=contact, channel="viber")
    # A message older than the STOP (a late delivery) does not undo it.
    _mo(company, "hello", stop_at - datetime.timedelta(minutes=1))
    assert ContactOptOut.objects.filter(contact=contact, channel="sms").exists()
    _mo(company, "hello again", stop_at + datetime.timedelta(minutes=1))
    assert list(ContactOptOut.objects.filter(contact=contact).values_list("channel", flat=True)) == ["viber"]


def test_email_address_sender_is_ignored(company: Company) -> None:
    _word(company, channel="email")
    assert (
        _mo(company, "STOP", datetime.datetime(2026, 7, 2, tzinfo=MADRID), channel="email", number="a@b.co")
        == []
    )
    assert not Contact.objects.exists()
