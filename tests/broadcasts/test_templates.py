"""Broadcast templates (guide §7): recurrence arithmetic across DST, the beat's recurrent runs (never twice per
slot), schedule pause/resume/expiry, manual launch, delete keeping runs, and the Templates pages."""

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
from broadcasts.models import Broadcast, BroadcastTemplate
from broadcasts.schedules import Rule, next_slot
from broadcasts.services import StepData
from broadcasts.template_services import TemplateData, TemplateStateError
from channels_out.models import Connection
from portal.accounts.models import User
from portal.tenants.models import Company
from tests.broadcasts.conftest import sms

ClientFor = Callable[[User], Client]
BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")
UTC = datetime.UTC
NUMBERS = "+4915112345678, +4915187654321"


def berlin(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime.datetime:
    return datetime.datetime(year, month, day, hour, minute, second, tzinfo=BERLIN)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime.datetime:
    return datetime.datetime(year, month, day, hour, minute, tzinfo=UTC)


# -- recurrence arithmetic -----------------------------------------------------------------------------------------


def test_daily_slot_keeps_the_wall_clock_across_the_spring_dst_change() -> None:
    """21:59 Berlin is 20:59 UTC before the change (28.03.2027) and 19:59 UTC after it."""
    rule = Rule("daily", at_time=datetime.time(21, 59))
    first = next_slot(rule, after=berlin(2027, 3, 27, 12, 0), time_zone="Europe/Berlin")
    assert first == utc(2027, 3, 27, 20, 59)
    assert first is not None
    second = next_slot(rule, after=first, time_zone="Europe/Berlin")
    assert second == utc(2027, 3, 28, 19, 59)
    assert second is not None
    assert second.astimezone(BERLIN).hour == 21


def test_daily_slot_across_the_autumn_change_and_the_nonexistent_hour() -> None:
    """Autumn: 21:59 is 19:59 UTC before 31.10.2027 and 20:59 UTC after; 02:30 on the spring day does not exist
    and launches at 01:30 UTC (03:30 local); 02:30 on the autumn day launches once, at its first occurrence."""
    rule = Rule("daily", at_time=datetime.time(21, 59))
    assert next_slot(rule, after=utc(2027, 10, 30, 20, 0), time_zone="Europe/Berlin") == utc(
        2027, 10, 31, 20, 59
    )
    assert next_slot(rule, after=utc(2027, 10, 30, 12, 0), time_zone="Europe/Berlin") == utc(
        2027, 10, 30, 19, 59
    )
    gap = Rule("daily", at_time=datetime.time(2, 30))
    assert next_slot(gap, after=utc(2027, 3, 27, 12, 0), time_zone="Europe/Berlin") == utc(2027, 3, 28, 1, 30)
    after_first = next_slot(gap, after=utc(2027, 10, 30, 12, 0), time_zone="Europe/Berlin")
    assert after_first == utc(2027, 10, 31, 0, 30)  # 02:30 CEST
    assert next_slot(gap, after=after_first, time_zone="Europe/Berlin") == utc(2027, 11, 1, 1, 30)


def test_weekly_monthly_once_and_the_effective_window() -> None:
    """Weekly on Mon/Thu; monthly on the 31st falls back to a short month's last day; Once at Effective from;
    no slot past Effective till; the search starts at Effective from."""
    tz = "UTC"
    weekly = Rule("weekly", at_time=datetime.time(9, 0), weekdays=(1, 4))
    assert next_slot(weekly, after=utc(2027, 3, 2, 10), time_zone=tz) == utc(2027, 3, 4, 9)  # Tue → Thu
    assert next_slot(weekly, after=utc(2027, 3, 4, 9), time_zone=tz) == utc(2027, 3, 8, 9)  # Thu → Mon
    monthly = Rule("monthly", at_time=datetime.time(8, 0), month_day=31)
    assert next_slot(monthly, after=utc(2027, 2, 1), time_zone=tz) == utc(2027, 2, 28, 8)
    assert next_slot(monthly, after=utc(2027, 2, 28, 8), time_zone=tz) == utc(2027, 3, 31, 8)
    once = Rule("once", effective_from=utc(2027, 5, 1, 12))
    assert next_slot(once, after=utc(2027, 4, 1), time_zone=tz) == utc(2027, 5, 1, 12)
    assert next_slot(once, after=utc(2027, 5, 1, 12), time_zone=tz) is None
    window = Rule(
        "daily",
        at_time=datetime.time(12, 0),
        effective_from=utc(2027, 6, 1, 12),
        effective_till=utc(2027, 6, 2, 11),
    )
    assert next_slot(window, after=utc(2027, 1, 1), time_zone=tz) == utc(2027, 6, 1, 12)
    assert next_slot(window, after=utc(2027, 6, 1, 12), time_zone=tz) is None


# -- services and the beat -----------------------------------------------------------------------------------------


def _data(**fields: Any) -> TemplateData:
    base: dict[str, Any] = {
        "name": "Broadcast_500",
        "numbers": [NUMBERS],
        "steps": [sms()],
        "recurrence": "daily",
        "at_time": datetime.time(21, 59),
    }
    base.update(fields)
    return TemplateData(**base)


@pytest.fixture
def berlin_company(company: Company) -> Company:
    company.time_zone = "Europe/Berlin"
    company.save(update_fields=["time_zone"])
    return company


def test_daily_template_launches_recurrent_runs_across_dst_once_per_slot(
    berlin_company: Company, simulator: Connection, sweep: Callable[[], dict[str, int]]
) -> None:
    """Guide §6.4 sample: a template launches a Recurrent run daily at 21:59, linked to it; a slot never makes
    two runs however many ticks run; next launch follows the company's wall clock across the DST change."""
    with time_machine.travel(berlin(2027, 3, 27, 21, 0), tick=False) as clock:
        template = template_services.template_save(company=berlin_company, actor=None, data=_data())
        assert template.next_launch_at == utc(2027, 3, 27, 20, 59)
        assert sweep()["templates"] == 0
        clock.move_to(berlin(2027, 3, 27, 21, 59, 1))
        assert sweep()["templates"] == 1
        assert sweep()["templates"] == 0
        clock.move_to(berlin(2027, 3, 28, 21, 59, 1))
        assert sweep()["templates"] == 1
        sweep()
    runs = list(Broadcast.objects.filter(template=template).order_by("id"))
    assert [r.launch_type for r in runs] == ["recurrent", "recurrent"]
    assert [r.template_slot for r in runs] == [utc(2027, 3, 27, 20, 59), utc(2027, 3, 28, 19, 59)]
    assert all(r.status in ("in_progress", "complete") for r in runs)
    template.refresh_from_db()
    assert template.launches == 2
    assert template.next_launch_at == utc(2027, 3, 29, 19, 59)
    assert template.schedule_status == "active"


def test_a_slot_retried_after_its_run_exists_makes_no_second_run(
    berlin_company: Company, simulator: Connection
) -> None:
    """Never twice: the (template, slot) of a Recurrent run is unique, even if the template's timer is replayed."""
    with time_machine.travel(berlin(2027, 3, 27, 22, 0), tick=False):
        template = template_services.template_save(
            company=berlin_company, actor=None, data=_data(at_time=datetime.time(21, 0))
        )
        BroadcastTemplate.objects.filter(pk=template.pk).update(next_launch_at=utc(2027, 3, 27, 20, 0))
        assert template_services.templates_launch_due() == 1
        # A stale or racing tick replays the same slot.
        BroadcastTemplate.objects.filter(pk=template.pk).update(next_launch_at=utc(2027, 3, 27, 20, 0))
        assert template_services.templates_launch_due() == 0
    assert Broadcast.objects.filter(template=template).count() == 1
    template.refresh_from_db()
    assert template.next_launch_at == utc(2027, 3, 28, 19, 0)


def test_paused_schedule_makes_no_runs_and_resume_starts_from_now(
    berlin_company: Company, simulator: Connection
) -> None:
    """Guide §7.4: Paused → no runs; Resume → next occurrence from now (missed slots are not launched)."""
    with time_machine.travel(berlin(2027, 4, 1, 10, 0), tick=False) as clock:
        template = template_services.template_save(company=berlin_company, actor=None, data=_data())
        template_services.template_schedule_pause(company=berlin_company, actor=None, template=template)
        clock.move_to(berlin(2027, 4, 3, 10, 0))
        assert template_services.templates_launch_due() == 0
        template = template_services.template_schedule_resume(
            company=berlin_company, actor=None, template=template
        )
    assert template.schedule_status == "active"
    assert template.next_launch_at == berlin(2027, 4, 3, 21, 59)
    assert not Broadcast.objects.filter(template=template).exists()
    with pytest.raises(TemplateStateError, match="Only a Paused schedule can be resumed"):
        template_services.template_schedule_resume(company=berlin_company, actor=None, template=template)


def test_schedule_expires_after_effective_till(berlin_company: Company, simulator: Connection) -> None:
    """Guide §7.4: after Effective till the status is Expired and Next launch shows the last launch."""
    with time_machine.travel(berlin(2027, 4, 1, 21, 0), tick=False) as clock:
        template = template_services.template_save(
            company=berlin_company, actor=None, data=_data(effective_till=berlin(2027, 4, 1, 23, 0))
        )
        clock.move_to(berlin(2027, 4, 1, 22, 0))
        assert template_services.templates_launch_due() == 1
    template.refresh_from_db()
    assert template.schedule_status == "expired"
    assert template.next_launch_at is None
    assert template.shown_next_launch == template.last_launch_at
    assert template.can_pause_schedule


def test_recurrent_run_that_cannot_launch_is_recorded_failed(berlin_company: Company) -> None:
    """No connection serves the step's sender ID: the slot's run is Failed with the reason, nothing sent."""
    with time_machine.travel(berlin(2027, 4, 1, 21, 0), tick=False) as clock:
        template = template_services.template_save(company=berlin_company, actor=None, data=_data())
        clock.move_to(berlin(2027, 4, 1, 22, 0))
        assert template_services.templates_launch_due() == 1
    run = Broadcast.objects.get(template=template)
    assert run.status == "failed"
    assert "is not set up for SMS" in run.error


def test_launch_manually_makes_a_manual_run_and_counts_it(company: Company, simulator: Connection) -> None:
    """Guide §7.2 Launch manually: a Manual run linked to the template; Launches + 1."""
    template = template_services.template_save(company=company, actor=None, data=_data(recurrence="none"))
    run = template_services.template_launch(company=company, actor=None, template=template)
    assert (run.launch_type, run.template_id, run.status) == ("manual", template.pk, "in_progress")
    template.refresh_from_db()
    assert template.launches == 1
    assert template.last_launch_at is not None


def test_launch_manually_refuses_an_incomplete_template(company: Company) -> None:
    """A template may be saved without a sender ID (guide §7.1); launching it is refused and saves nothing."""
    template = template_services.template_save(
        company=company,
        actor=None,
        data=_data(recurrence="none", steps=[StepData(channel="sms", text="Hello")]),
    )
    with pytest.raises(ValidationError, match="Choose a sender ID for this step"):
        template_services.template_launch(company=company, actor=None, template=template)
    assert not Broadcast.objects.filter(template=template).exists()


def test_template_validation_messages(company: Company) -> None:
    """A name, a time, weekdays and a day of the month are required by the chosen repeat."""
    with pytest.raises(ValidationError) as info:
        template_services.template_save(company=company, actor=None, data=_data(name=" ", at_time=None))
    assert info.value.message_dict["name"] == ["Enter the template name."]
    assert info.value.message_dict["at_time"] == ["Choose the launch time."]
    with pytest.raises(ValidationError, match="Choose at least one weekday"):
        template_services.template_save(company=company, actor=None, data=_data(recurrence="weekly"))
    with pytest.raises(ValidationError, match="between 1 and 31"):
        template_services.template_save(company=company, actor=None, data=_data(recurrence="monthly"))


def test_delete_keeps_past_runs(company: Company, simulator: Connection) -> None:
    """Guide §7.2 Delete [GAP] decision: the template leaves the table, its runs keep their link."""
    template = template_services.template_save(company=company, actor=None, data=_data(recurrence="none"))
    run = template_services.template_launch(company=company, actor=None, template=template)
    template_services.template_delete(company=company, actor=None, template=template)
    run.refresh_from_db()
    assert run.template_id == template.pk
    assert BroadcastTemplate.objects.get(pk=template.pk).deleted_at is not None
    with pytest.raises(TemplateStateError, match="deleted"):
        template_services.template_launch(company=company, actor=None, template=template)


def test_moderation_company_templates_wait_for_approval(company: Company, simulator: Connection) -> None:
    """Guide §7.3 item 8: with moderation on, "Save" is refused; a template sent to moderation launches on
    schedule only after approval, and its recurrent runs then need no further moderation."""
    company.moderation_required = True
    company.save(update_fields=["moderation_required"])
    with pytest.raises(TemplateStateError, match="need moderation"):
        template_services.template_save(company=company, actor=None, data=_data())
    with time_machine.travel(datetime.datetime(2027, 4, 1, 21, 0, tzinfo=UTC), tick=False) as clock:
        template = template_services.template_save(
            company=company, actor=None, data=_data(), action="moderation"
        )
        clock.move_to(datetime.datetime(2027, 4, 1, 22, 0, tzinfo=UTC))
        assert template_services.templates_launch_due() == 0  # not approved yet
        template = template_services.template_moderate(
            company=company, actor=None, template=template, approve=True
        )
        assert template.next_launch_at == datetime.datetime(2027, 4, 2, 21, 59, tzinfo=UTC)
        clock.move_to(datetime.datetime(2027, 4, 2, 22, 0, tzinfo=UTC))
        assert template_services.templates_launch_due() == 1
    assert Broadcast.objects.get(template=template).status == "in_progress"


def test_copy_is_a_paused_draft(company: Company) -> None:
    """Guide §7.2 Copy: a duplicate that cannot launch before its author saves it."""
    template = template_services.template_save(company=company, actor=None, data=_data())
    copy = template_services.template_copy(company=company, actor=None, template=template)
    assert (copy.name, copy.state, copy.schedule_status) == ("Broadcast_500", "draft", "paused")
    assert copy.steps == template.steps


# -- pages ---------------------------------------------------------------------------------------------------------


def _form(**extra: str) -> dict[str, str]:
    data = {
        "name": "Nightly",
        "numbers": NUMBERS,
        "type": "fallback",
        "recurrence": "weekly",
        "at_time": "21:59",
        "weekdays": "1",
        "s-0-channel": "sms",
        "s-0-sender_id": "",
        "s-0-wait_for": "delivery",
        "s-0-wait_value": "10",
        "s-0-wait_unit": "min",
        "s-0-text": "Hello",
        "s-0-title": "",
    }
    data.update(extra)
    return data


def test_templates_tab_shows_the_guides_columns(
    company: Company, admin_user: User, client_for: ClientFor
) -> None:
    """Guide §7.2 columns, ✓ for Target and Schedule, and the actions by schedule status."""
    template_services.template_save(company=company, actor=None, data=_data())
    page = client_for(admin_user).get(reverse("broadcasts:template-list")).content.decode()
    for label in ("ID", "Name", "Type", "Launches", "Last launch", "Target", "Schedule", "Schedule status",
                  "Next launch", "Effective from", "Effective till", "Actions"):  # fmt: skip
        assert f">{label}<" in page.replace("\n", "").replace("  ", ""), label
    assert "Broadcast_500" in page
    assert "Pause schedule" in page
    assert "Resume schedule" not in page
    assert "Launch manually" in page


def test_new_template_form_has_no_instantly_and_saves(
    company: Company, admin_user: User, htmx_client_for: ClientFor
) -> None:
    """Guide §7.3: no "Instantly", the shared steps editor adds a step (fragment only), Save stores the schedule."""
    client = htmx_client_for(admin_user)
    url = reverse("broadcasts:template-create")
    page = client.get(url).content.decode()
    assert 'name="instantly"' not in page
    assert "<html" not in page
    assert 'id="template-form"' in page
    added = client.post(url, {"name": "x", "op": "add:viber", "recurrence": "none"}).content.decode()
    assert 'name="s-0-channel" value="viber"' in added
    response = client.post(url, _form(action="save"))
    assert response.status_code == 200
    assert response.headers["HX-Redirect"] == reverse("broadcasts:template-list")
    template = BroadcastTemplate.objects.get(company=company)
    assert (template.recurrence, template.weekdays, template.state) == ("weekly", [1], "ready")
    assert template.at_time == datetime.time(21, 59)
    assert template.steps[0]["channel"] == "sms"


@pytest.mark.parametrize("action", ["", "launch"])
def test_template_form_without_a_known_action_saves(
    company: Company, admin_user: User, client_for: ClientFor, action: str
) -> None:
    """A missing or unknown ``action`` is the page's first Save button: Save (Ready), back to the Templates tab."""
    from django.contrib.messages import get_messages

    response = client_for(admin_user).post(reverse("broadcasts:template-create"), _form(action=action))
    assert response.status_code == 303
    assert response["Location"] == reverse("broadcasts:template-list")
    assert BroadcastTemplate.objects.get(company=company).state == "ready"
    assert [str(m) for m in get_messages(response.wsgi_request)] == ["The template was saved."]


def test_template_steps_editor_on_edit_keeps_the_posted_values_and_saves_nothing(
    company: Company, admin_user: User, htmx_client_for: ClientFor
) -> None:
    """The shared steps editor on a stored template: the typed name and the new step come back, nothing is saved."""
    template = template_services.template_save(company=company, actor=None, data=_data())
    url = reverse("broadcasts:template-edit", args=[template.uuid])
    body = htmx_client_for(admin_user).post(url, _form(name="Typed", op="remove:0")).content.decode()
    assert body.lstrip().startswith('<div id="template-form-wrap">')
    assert 'value="Typed"' in body
    assert 'name="s-0-channel"' not in body
    template.refresh_from_db()
    assert template.name != "Typed"
    assert len(template.steps) == 1


def test_template_form_errors_rerender_the_fragment(
    company: Company, admin_user: User, htmx_client_for: ClientFor
) -> None:
    """A weekly template without a weekday re-renders the form with the message (status 200)."""
    data = _form(action="save")
    del data["weekdays"]
    response = htmx_client_for(admin_user).post(reverse("broadcasts:template-create"), data)
    assert response.status_code == 200
    assert "Choose at least one weekday." in response.content.decode()
    assert not BroadcastTemplate.objects.exists()


def test_moderation_company_form_shows_draft_and_moderation(
    company: Company, admin_user: User, client_for: ClientFor
) -> None:
    company.moderation_required = True
    company.save(update_fields=["moderation_required"])
    page = client_for(admin_user).get(reverse("broadcasts:template-create")).content.decode()
    assert 'id="template-moderation"' in page
    assert 'id="template-draft"' in page
    assert 'id="template-save"' not in page


def test_launch_manually_action_opens_the_run(
    company: Company, admin_user: User, client_for: ClientFor, simulator: Connection
) -> None:
    template = template_services.template_save(company=company, actor=None, data=_data(recurrence="none"))
    response = client_for(admin_user).post(
        reverse("broadcasts:template-action", args=[template.uuid, "launch"])
    )
    run = Broadcast.objects.get(template=template)
    assert response.status_code == 303
    assert response.headers["Location"] == reverse("broadcasts:broadcast-detail", args=[run.uuid])


@pytest.mark.parametrize(
    ("name", "method", "args"),
    [
        ("broadcasts:template-edit", "get", ()),
        ("broadcasts:template-action", "post", ("launch",)),
        ("broadcasts:template-action", "post", ("delete",)),
    ],
)
def test_outsider_gets_404_on_templates(
    company: Company, outsider: User, client_for: ClientFor, name: str, method: str, args: tuple[str, ...]
) -> None:
    template = template_services.template_save(company=company, actor=None, data=_data())
    response = getattr(client_for(outsider), method)(reverse(name, args=[template.uuid, *args]))
    assert response.status_code == 404
    assert BroadcastTemplate.objects.get(pk=template.pk).deleted_at is None


def test_role_without_broadcasts_permission_gets_403_on_templates(
    company: Company, viewer: User, client_for: ClientFor
) -> None:
    template = template_services.template_save(company=company, actor=None, data=_data())
    client = client_for(viewer)
    assert client.get(reverse("broadcasts:template-list")).status_code == 403
    assert (
        client.post(reverse("broadcasts:template-action", args=[template.uuid, "delete"])).status_code == 403
    )
    assert BroadcastTemplate.objects.get(pk=template.pk).deleted_at is None


def test_template_actions_report_a_refusal_and_go_where_the_action_leads(
    company: Company, admin_user: User, client_for: ClientFor
) -> None:
    """A refused action shows the service's reason on the Templates tab; Copy opens the copy's form."""
    from django.contrib.messages import get_messages

    template = template_services.template_save(company=company, actor=None, data=_data(recurrence="none"))
    client = client_for(admin_user)
    refused = client.post(reverse("broadcasts:template-action", args=[template.uuid, "pause"]))
    assert refused["Location"] == reverse("broadcasts:template-list")
    assert [str(m) for m in get_messages(refused.wsgi_request)] == [
        "Only an Active or Expired schedule can be paused."
    ]
    copied = client.post(reverse("broadcasts:template-action", args=[template.uuid, "copy"]))
    copy = BroadcastTemplate.objects.exclude(pk=template.pk).get()
    assert copied["Location"] == reverse("broadcasts:template-edit", args=[copy.uuid])
    assert client.post(reverse("broadcasts:template-action", args=[template.uuid, "x"])).status_code == 404


def test_template_edit_page_shows_the_stored_shared_fields(
    company: Company, admin_user: User, client_for: ClientFor
) -> None:
    """The fields the template shares with the broadcast form come from the stored template too."""
    import re

    from contacts.services.tags import tag_create

    tag = tag_create(company=company, actor=None, name="VIP")
    template = template_services.template_save(
        company=company,
        actor=None,
        data=_data(description="Every night", tag_ids=[tag.pk], rcs_check=True, weekdays=[]),
    )
    page = (
        client_for(admin_user).get(reverse("broadcasts:template-edit", args=[template.uuid])).content.decode()
    )
    assert 'value="Broadcast_500"' in page
    assert re.search(r"<textarea[^>]*name=\"description\"[^>]*>\s*Every night</textarea>", page)
    assert re.search(
        r"<textarea[^>]*name=\"numbers\"[^>]*>\s*\+4915112345678, \+4915187654321</textarea>", page
    )
    assert re.search(rf'<option value="{tag.uuid}"\s+selected>', page)
    assert re.search(r'<input type="radio" name="type" value="fallback"[^>]*checked', page)


def test_edit_page_shows_the_saved_template_and_saves_changes(
    company: Company, admin_user: User, client_for: ClientFor
) -> None:
    """Edit (guide §7.2): the form shows the stored schedule and chain; saving changes the same template."""
    template = template_services.template_save(
        company=company, actor=None, data=_data(recurrence="weekly", weekdays=[2, 5])
    )
    client = client_for(admin_user)
    url = reverse("broadcasts:template-edit", args=[template.uuid])
    page = client.get(url).content.decode()
    assert "Edit template" in page
    assert 'value="21:59"' in page
    assert 'name="s-0-channel" value="sms"' in page
    response = client.post(url, _form(name="Renamed", action="save"))
    assert response.status_code == 303
    template.refresh_from_db()
    assert (template.name, template.weekdays) == ("Renamed", [1])
    assert BroadcastTemplate.objects.count() == 1
