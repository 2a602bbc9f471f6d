"""Quiet hours (issue 7 item 5): steps outside the allowed hours in the recipient's time zone are held and released
by the sweep when the hours open, later fallback hops included, never sent twice; the statistics page counts them."""

from __future__ import annotations

import datetime
import zoneinfo
from collections.abc import Callable
from typing import Any

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from broadcasts import quiet, services
from broadcasts.models import Broadcast, BroadcastAttempt, BroadcastRecipient, BroadcastSettings
from channels_out.models import Connection, Message
from portal.accounts.models import User
from portal.tenants.models import Company
from tests.broadcasts.conftest import rcs, sms
from tests.contacts.factories import make_attribute, make_contact

BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")
A = "+4915112345678"  # a German mobile: Europe/Berlin from the number
Launch = Callable[..., Broadcast]
Sweep = Callable[[], dict[str, int]]


def berlin(month: int, day: int, hour: int, minute: int = 0, second: int = 0) -> datetime.datetime:
    return datetime.datetime(2027, month, day, hour, minute, second, tzinfo=BERLIN)


@pytest.fixture
def quiet_company(company: Company) -> Company:
    services.broadcast_settings_save(
        company=company,
        actor=None,
        quiet_enabled=True,
        allowed_from=datetime.time(8, 0),
        allowed_till=datetime.time(20, 0),
        tz_attribute="Time zone",
    )
    return company


def _sent(address: str) -> list[str]:
    return list(Message.objects.filter(address=address).order_by("id").values_list("channel", flat=True))


def test_window_and_zone_rules() -> None:
    """[from, till) in local time, wrapping midnight; zone from attribute, number, then company; DST-safe opening."""
    day = quiet.Window(datetime.time(8), datetime.time(20))
    night = quiet.Window(datetime.time(22), datetime.time(6))
    assert day.allows(datetime.time(8)) and not day.allows(datetime.time(20))  # noqa: PT018  (one rule, both edges)
    assert night.allows(datetime.time(23)) and night.allows(datetime.time(5, 59))  # noqa: PT018  (both sides of midnight)
    assert not night.allows(datetime.time(12))
    assert quiet.recipient_zone(address=A, attribute_value="Asia/Tokyo", company_zone="UTC") == "Asia/Tokyo"
    assert quiet.recipient_zone(address=A, attribute_value="Mars/Base", company_zone="UTC") == "Europe/Berlin"
    assert (
        quiet.recipient_zone(address="+12015550123", attribute_value=None, company_zone="UTC")
        == "America/New_York"
    )
    # 28.03.2027 is the spring change in Berlin: 21:00 on the 27th → opens 08:00 CEST = 06:00 UTC.
    until = quiet.hold_until(day, now=berlin(3, 27, 21), zone="Europe/Berlin")
    assert until == datetime.datetime(2027, 3, 28, 6, 0, tzinfo=datetime.UTC)
    assert quiet.hold_until(day, now=berlin(3, 27, 12), zone="Europe/Berlin") is None


def test_first_step_is_held_until_the_window_opens_then_sent_once(
    quiet_company: Company,
    simulator: Connection,
    script: Callable[..., Any],
    launch: Launch,
    sweep: Sweep,
    admin_user: User,
    client_for: Callable[[User], Client],
) -> None:
    script(report="delivered")
    with time_machine.travel(berlin(5, 3, 21), tick=False):
        broadcast = launch(numbers=[A], steps=[sms()])
        recipient = BroadcastRecipient.objects.get(broadcast=broadcast)
        assert _sent(A) == []
        assert recipient.held_until == berlin(5, 4, 8)
        assert recipient.next_check_at == berlin(5, 4, 8)
    # The statistics page, read at the real date (the password policy would expire the login in 2027).
    text = (
        client_for(admin_user)
        .get(reverse("broadcasts:broadcast-detail", args=[broadcast.uuid]))
        .content.decode()
    )
    assert "Held by quiet hours" in text
    assert "Quiet hours: sending allowed 08:00-20:00 in Europe/Berlin." in text
    with time_machine.travel(berlin(5, 4, 7, 59), tick=False) as clock:
        sweep()
        assert _sent(A) == []
        clock.move_to(berlin(5, 4, 8, 0, 1))
        sweep()
        sweep()
        sweep()
    assert _sent(A) == ["sms"]
    recipient = BroadcastRecipient.objects.get(pk=recipient.pk)
    assert recipient.held_until is None
    assert (recipient.state, recipient.held_reason) == ("successful", "")


def test_later_fallback_hop_is_held_too(
    quiet_company: Company, simulator: Connection, script: Callable[..., Any], launch: Launch, sweep: Sweep
) -> None:
    """RCS at 19:55 gets no report; its 10 minutes end at 20:05, outside the hours: the SMS hop waits for 08:00."""
    script(channel="rcs", report="none")
    script(channel="sms", report="delivered")
    with time_machine.travel(berlin(5, 3, 19, 55), tick=False) as clock:
        broadcast = launch(numbers=[A], steps=[rcs(), sms()])
        assert _sent(A) == ["rcs"]
        clock.move_to(berlin(5, 3, 20, 6))
        sweep()
        recipient = BroadcastRecipient.objects.get(broadcast=broadcast)
        assert _sent(A) == ["rcs"]
        assert (recipient.state, recipient.held_until) == ("initiated", berlin(5, 4, 8))
        clock.move_to(berlin(5, 4, 8, 0, 1))
        sweep()
        sweep()
    assert _sent(A) == ["rcs", "sms"]
    assert BroadcastAttempt.objects.filter(recipient__broadcast=broadcast).count() == 2
    recipient.refresh_from_db()
    assert recipient.state == "successful"


def test_contact_time_zone_attribute_and_the_broadcast_override(
    quiet_company: Company, simulator: Connection, script: Callable[..., Any], launch: Launch
) -> None:
    """21:00 in Berlin is 15:00 in New York: a contact whose attribute says New York gets it now; a broadcast
    with quiet hours "off" sends at any hour; a custom window applies instead of the company's."""
    script(report="delivered")
    zone = make_attribute(quiet_company, "Time zone", "text")
    make_contact(quiet_company, A, attributes={zone.key: "America/New_York"})
    other = "+4915187654321"
    with time_machine.travel(berlin(5, 3, 21), tick=False):
        launch(numbers=[A], steps=[sms()])
        launch(numbers=[other], steps=[sms()], name="night", quiet_hours="off")
        custom = launch(
            numbers=["+4915100000001"],
            steps=[sms()],
            quiet_hours="custom",
            allowed_from=datetime.time(22),
            allowed_till=datetime.time(6),
        )
    assert _sent(A) == ["sms"]
    assert _sent(other) == ["sms"]
    assert _sent("+4915100000001") == []
    assert BroadcastRecipient.objects.get(broadcast=custom).held_until == berlin(5, 3, 22)


def test_custom_quiet_hours_need_both_times(company: Company) -> None:
    data = services.BroadcastData(name="x", quiet_hours="custom", allowed_from=datetime.time(8))
    with pytest.raises(ValidationError, match="Choose the hours between which messages may be sent"):
        services.broadcast_save(company=company, actor=None, data=data)


def test_settings_page_saves_and_refuses_read_only_roles(
    company: Company, admin_user: User, viewer: User, client_for: Callable[[User], Client]
) -> None:
    url = reverse("broadcasts:broadcast-settings")
    assert client_for(viewer).post(url, {"quiet_enabled": "on"}).status_code == 403
    response = client_for(admin_user).post(
        url, {"quiet_enabled": "on", "allowed_from": "09:00", "allowed_till": "09:00", "tz_attribute": ""}
    )
    assert "The end of the allowed hours must differ from their start." in response.content.decode()
    client_for(admin_user).post(
        url, {"quiet_enabled": "on", "allowed_from": "09:00", "allowed_till": "18:30", "tz_attribute": ""}
    )
    settings = BroadcastSettings.objects.get(company=company)
    assert (settings.quiet_enabled, settings.allowed_from, settings.allowed_till) == (
        True,
        datetime.time(9),
        datetime.time(18, 30),
    )
