"""Quiet hours on templates (issue 7 item 5): the same company / none / own-hours choice as a broadcast, kept by
the template and passed to each of its runs (Recurrent and Manual), where the engine holds the messages."""

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

from broadcasts import template_services
from broadcasts.models import Broadcast, BroadcastRecipient, BroadcastTemplate
from broadcasts.template_services import TemplateData
from channels_out.models import Connection, Message
from portal.accounts.models import User
from portal.tenants.models import Company
from tests.broadcasts.conftest import sms

BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")
A = "+4915112345678"  # a German mobile: Europe/Berlin from the number
Sweep = Callable[[], dict[str, int]]
ClientFor = Callable[[User], Client]


def berlin(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime.datetime:
    return datetime.datetime(2027, 4, day, hour, minute, second, tzinfo=BERLIN)


def _data(**fields: Any) -> TemplateData:
    base: dict[str, Any] = {
        "name": "Nightly",
        "numbers": [A],
        "steps": [sms()],
        "recurrence": "daily",
        "at_time": datetime.time(21, 59),
        "quiet_hours": "custom",
        "allowed_from": datetime.time(8, 0),
        "allowed_till": datetime.time(20, 0),
    }
    base.update(fields)
    return TemplateData(**base)


@pytest.fixture
def berlin_company(company: Company) -> Company:
    company.time_zone = "Europe/Berlin"
    company.save(update_fields=["time_zone"])
    return company


def test_recurrent_run_keeps_the_templates_own_hours_and_is_held_until_they_open(
    berlin_company: Company, simulator: Connection, sweep: Sweep
) -> None:
    """A daily 21:59 template with own hours 08:00-20:00: its Recurrent run carries the hours, the message waits
    until 08:00 the next morning (recipient's time zone) and then goes out once."""
    with time_machine.travel(berlin(1, 21, 0), tick=False) as clock:
        template = template_services.template_save(company=berlin_company, actor=None, data=_data())
        clock.move_to(berlin(1, 21, 59, 1))
        assert sweep()["templates"] == 1
        sweep()
        run = Broadcast.objects.get(template=template)
        assert (run.launch_type, run.quiet_hours) == ("recurrent", "custom")
        assert (run.allowed_from, run.allowed_till) == (datetime.time(8, 0), datetime.time(20, 0))
        recipient = BroadcastRecipient.objects.get(broadcast=run)
        assert recipient.held_until == berlin(2, 8, 0)
        assert not Message.objects.filter(company=berlin_company).exists()
        clock.move_to(berlin(2, 8, 0, 1))
        sweep()
        sweep()
    assert Message.objects.filter(company=berlin_company, address=A).count() == 1


def test_none_on_the_template_sends_at_night_despite_the_company_hours(
    berlin_company: Company, simulator: Connection, sweep: Sweep
) -> None:
    """ "None: send at any hour" on the template overrides the company's quiet hours for its runs."""
    from broadcasts import services

    services.broadcast_settings_save(
        company=berlin_company,
        actor=None,
        quiet_enabled=True,
        allowed_from=datetime.time(8, 0),
        allowed_till=datetime.time(20, 0),
        tz_attribute="",
    )
    with time_machine.travel(berlin(1, 21, 0), tick=False) as clock:
        template = template_services.template_save(
            company=berlin_company,
            actor=None,
            data=_data(quiet_hours="off", allowed_from=None, allowed_till=None),
        )
        clock.move_to(berlin(1, 21, 59, 1))
        sweep()
        sweep()
    run = Broadcast.objects.get(template=template)
    assert run.quiet_hours == "off"
    assert Message.objects.filter(company=berlin_company, address=A).count() == 1


def test_manual_launch_and_copy_keep_the_hours_and_company_mode_drops_own_times(
    company: Company, simulator: Connection
) -> None:
    template = template_services.template_save(company=company, actor=None, data=_data(recurrence="none"))
    run = template_services.template_launch(company=company, actor=None, template=template)
    assert (run.quiet_hours, run.allowed_from, run.allowed_till) == (
        "custom",
        datetime.time(8),
        datetime.time(20),
    )
    copy = template_services.template_copy(company=company, actor=None, template=template)
    assert (copy.quiet_hours, copy.allowed_from, copy.allowed_till) == (
        "custom",
        datetime.time(8),
        datetime.time(20),
    )
    # Back to the company setting: the template's own times are not kept (one meaning per stored value).
    saved = template_services.template_save(
        company=company, actor=None, data=_data(recurrence="none", quiet_hours="company"), template=template
    )
    assert (saved.quiet_hours, saved.allowed_from, saved.allowed_till) == ("company", None, None)


def test_own_hours_need_both_times(company: Company) -> None:
    with pytest.raises(ValidationError) as caught:
        template_services.template_save(company=company, actor=None, data=_data(allowed_till=None))
    assert caught.value.message_dict["allowed_till"] == [
        "Choose the hours between which messages may be sent."
    ]
    with pytest.raises(ValidationError) as caught:
        template_services.template_save(company=company, actor=None, data=_data(quiet_hours="sometimes"))
    assert "quiet_hours" in caught.value.message_dict
    assert not BroadcastTemplate.objects.filter(company=company).exists()


def _form(**extra: str) -> dict[str, str]:
    data = {
        "name": "Nightly",
        "numbers": A,
        "type": "fallback",
        "recurrence": "daily",
        "at_time": "21:59",
        "quiet_hours": "custom",
        "allowed_from": "09:30",
        "allowed_till": "18:00",
        "s-0-channel": "sms",
        "s-0-sender_id": "ACME",
        "s-0-wait_for": "delivery",
        "s-0-wait_value": "10",
        "s-0-wait_unit": "min",
        "s-0-text": "Hello",
        "s-0-title": "",
        "action": "save",
    }
    data.update(extra)
    return data


def test_template_form_saves_shows_and_checks_the_quiet_hours(
    company: Company, admin_user: User, htmx_client_for: ClientFor, simulator: Connection
) -> None:
    """The New template form has the broadcast form's quiet-hours fields; Edit shows the saved hours; own hours
    without times are refused on the form (fragment re-rendered, nothing saved)."""
    client = htmx_client_for(admin_user)
    url = reverse("broadcasts:template-create")
    page = client.get(url).content.decode()
    assert 'id="broadcast-quiet-hours"' in page
    assert 'name="quiet_hours"' in page
    refused = client.post(url, _form(allowed_from="")).content.decode()
    assert "Choose the hours between which messages may be sent." in refused
    assert not BroadcastTemplate.objects.filter(company=company).exists()
    response = client.post(url, _form())
    assert response.headers["HX-Redirect"] == reverse("broadcasts:template-list")
    template = BroadcastTemplate.objects.get(company=company)
    assert (template.quiet_hours, template.allowed_from, template.allowed_till) == (
        "custom",
        datetime.time(9, 30),
        datetime.time(18, 0),
    )
    edit = client.get(reverse("broadcasts:template-edit", args=[template.uuid])).content.decode()
    assert 'value="09:30"' in edit
    assert 'value="custom" checked' in edit or '<option value="custom" selected>' in edit
