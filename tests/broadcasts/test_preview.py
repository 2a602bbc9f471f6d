"""Fallback preview before launch (issue 7 item 5): predicted paths with skips, counts per hop, SMS parts and
encoding, sample labelling for big audiences, projected finish from rate limits; the htmx panel."""

from __future__ import annotations

import datetime
import zoneinfo
from collections.abc import Callable
from typing import Any

from django.test import Client
from django.urls import reverse

from broadcasts.preview import SAMPLE_SIZE, fallback_preview
from broadcasts.services import BroadcastData, StepData
from channels_out.models import Connection
from contacts.models import Contact, ContactTag, Tag
from contacts.services import contact_optout_set
from portal.accounts.models import User
from portal.tenants.models import Company
from tests.broadcasts.conftest import rcs, sms
from tests.contacts.factories import make_contact

A, B, C = "+4915112345678", "+4915187654321", "+4915100000001"
NOW = datetime.datetime(2027, 5, 3, 10, 0, tzinfo=datetime.UTC)


def test_paths_skip_opted_out_and_rcs_incapable_and_count_per_hop(
    company: Company, simulator: Connection, script: Callable[..., Any]
) -> None:
    """A: RCS then SMS possible; B: not RCS capable → SMS only; C: opted out of SMS → RCS only.
    Best case = first sendable hop, worst = every sendable hop; SMS parts and encoding from channels_out/sms.py."""
    script(pattern=B, channel="rcs", rcs_capable=False)
    contact_optout_set(company=company, actor=None, contact=make_contact(company, C), channel="sms")
    Connection.objects.filter(pk=simulator.pk).update(rate_limit=2)
    data = BroadcastData(
        name="x", numbers=[f"{A},{B},{C}"], rcs_check=True, steps=[rcs(), sms("Привет " + "x" * 70)]
    )
    preview = fallback_preview(company=company, data=data, rcs_check=True, now=NOW)
    rcs_hop, sms_hop = preview.hops
    assert (preview.total, preview.is_sample) == (3, False)
    assert (rcs_hop.best, rcs_hop.worst, rcs_hop.skipped) == (
        2,
        2,
        {"Not RCS capable (capability check).": 1},
    )
    assert (sms_hop.best, sms_hop.worst, sms_hop.skipped) == (1, 2, {"Opted out of SMS.": 1})
    assert (sms_hop.encoding, sms_hop.segments) == ("UCS-2", 2)
    assert (preview.best_messages, preview.worst_messages) == (3, 4)
    assert (preview.best_sms_parts, preview.worst_sms_parts) == (2, 4)
    assert preview.unreachable == 0
    paths = dict(preview.paths)
    assert paths[B] == ["RCS: skipped (Not RCS capable (capability check).)", "SMS: sent"]
    assert paths[C] == ["RCS: sent", "SMS: skipped (Opted out of SMS.)"]
    # Worst case: 2 RCS at 2/s (1 s) + 10 min wait, then 2 SMS at 2/s (1 s) + 10 min wait.
    assert preview.finish_worst == NOW + datetime.timedelta(seconds=1 + 600 + 1 + 600)
    assert preview.finish_best == NOW + datetime.timedelta(seconds=1 + 600)
    assert preview.unlimited is False


def test_missing_address_and_no_connection(company: Company) -> None:
    """An e-mail step for a typed number has no address: nobody is reachable; no connection, no rate limit."""
    data = BroadcastData(
        name="x", numbers=[A], steps=[StepData(channel="email", sender_id="news", text="Hi", title="News")]
    )
    preview = fallback_preview(company=company, data=data, rcs_check=False, now=NOW)
    assert preview.hops[0].skipped == {"No e-mail address.": 1}
    assert preview.hops[0].rate_limit is None
    assert preview.unreachable == 1
    assert preview.finish_worst is None


def test_big_audience_is_a_labelled_sample_scaled_to_the_total(
    company: Company, simulator: Connection
) -> None:
    """Over SAMPLE_SIZE recipients, the first SAMPLE_SIZE are looked at and the counts are scaled."""
    tag = Tag.objects.create(company=company, name="all")
    contacts = Contact.objects.bulk_create(
        [Contact(company=company, phone=f"+49151{i:08d}") for i in range(SAMPLE_SIZE + 500)]
    )
    ContactTag.objects.bulk_create([ContactTag(company=company, contact=c, tag=tag) for c in contacts])
    data = BroadcastData(name="x", tag_ids=[tag.pk], steps=[sms()])
    preview = fallback_preview(company=company, data=data, rcs_check=False, now=NOW)
    assert (preview.total, preview.sampled, preview.is_sample) == (SAMPLE_SIZE + 500, SAMPLE_SIZE, True)
    assert preview.hops[0].worst == SAMPLE_SIZE + 500
    assert preview.unlimited is True


def test_preview_panel_is_an_htmx_fragment(
    company: Company, admin_user: User, htmx_client_for: Callable[[User], Client], simulator: Connection
) -> None:
    """The form's "Preview fallback" button posts the form and gets only the panel back."""
    response = htmx_client_for(admin_user).post(
        reverse("broadcasts:broadcast-preview"),
        {
            "name": "x",
            "numbers": f"{A}, {B}",
            "type": "fallback",
            "s-0-channel": "sms",
            "s-0-sender_id": "ACME",
            "s-0-wait_for": "delivery",
            "s-0-wait_value": "10",
            "s-0-wait_unit": "min",
            "s-0-text": "Hello",
        },
    )
    page = response.content.decode()
    assert response.status_code == 200
    assert page.strip().startswith('<section id="broadcast-preview"')
    assert "2 recipients." in page
    assert "1 (GSM-7)" in page
    assert "SMS: sent" in page


def test_preview_of_another_role_is_refused(
    company: Company, viewer: User, client_for: Callable[[User], Client]
) -> None:
    assert client_for(viewer).post(reverse("broadcasts:broadcast-preview"), {"name": "x"}).status_code == 403


def test_preview_without_javascript_is_a_page(
    company: Company, admin_user: User, client_for: Callable[[User], Client]
) -> None:
    """The button's formaction posts the form without htmx: the preview comes back as a whole page."""
    page = (
        client_for(admin_user)
        .post(reverse("broadcasts:broadcast-preview"), {"name": "x", "numbers": A})
        .content.decode()
    )
    assert "<html" in page
    assert 'id="broadcast-preview"' in page
    assert "No step yet: add a channel." in page


def test_quiet_hours_hold_is_predicted_and_delays_the_finish(company: Company, simulator: Connection) -> None:
    """At 21:00 in Berlin with allowed hours 08:00-20:00, both German numbers wait until 08:00 the next day and
    the projected finish starts from then."""
    from broadcasts.services import broadcast_settings_save

    broadcast_settings_save(
        company=company,
        actor=None,
        quiet_enabled=True,
        allowed_from=datetime.time(8),
        allowed_till=datetime.time(20),
    )
    at_nine = datetime.datetime(2027, 5, 3, 19, 0, tzinfo=datetime.UTC)  # 21:00 CEST
    data = BroadcastData(name="x", numbers=[f"{A},{B}"], steps=[sms()])
    preview = fallback_preview(company=company, data=data, rcs_check=False, now=at_nine)
    opening = datetime.datetime(2027, 5, 4, 6, 0, tzinfo=datetime.UTC)
    assert (preview.held, preview.held_release) == (2, opening)
    assert preview.finish_worst == opening + datetime.timedelta(seconds=600)
    assert dict(preview.paths)[A][0] == "held until 04.05.2027 08:00 (quiet hours, Europe/Berlin)"
    off = BroadcastData(name="x", numbers=[A], steps=[sms()], quiet_hours="off")
    assert fallback_preview(company=company, data=off, rcs_check=False, now=at_nine).held == 0


def test_preview_panel_shows_the_quiet_hours_hold(
    company: Company, admin_user: User, htmx_client_for: Callable[[User], Client], simulator: Connection
) -> None:
    """A broadcast with its own allowed hours that open in two hours: the panel says the recipient waits."""
    berlin_hour = (datetime.datetime.now(tz=zoneinfo.ZoneInfo("Europe/Berlin")).hour + 2) % 24
    page = (
        htmx_client_for(admin_user)
        .post(
            reverse("broadcasts:broadcast-preview"),
            {
                "name": "x",
                "numbers": A,
                "quiet_hours": "custom",
                "allowed_from": f"{berlin_hour:02d}:00",
                "allowed_till": f"{(berlin_hour + 1) % 24:02d}:00",
                "s-0-channel": "sms",
                "s-0-sender_id": "ACME",
                "s-0-wait_for": "delivery",
                "s-0-wait_value": "10",
                "s-0-wait_unit": "min",
                "s-0-text": "Hello",
            },
        )
        .content.decode()
    )
    assert "1 recipient would wait for their quiet hours to end" in page
    assert "held until" in page
