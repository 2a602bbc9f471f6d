"""Broadcasts pages: the list, the form with its htmx fragments, actions, statistics, access rules."""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from broadcasts import services
from broadcasts.models import Broadcast, BroadcastRecipient
from broadcasts.services import BroadcastData
from channels_out.models import Connection, Message
from portal.accounts.models import User
from portal.tenants.models import Company
from tests.broadcasts.conftest import Capture, sms

ClientFor = Callable[[User], Client]
NUMBERS = "+4915112345678, +4915187654321"


def _draft(company: Company, **fields: Any) -> Broadcast:
    data = BroadcastData(name=fields.pop("name", "Spring sale"), numbers=[NUMBERS], steps=[sms()], **fields)
    return services.broadcast_save(company=company, actor=None, data=data, action="draft")


def _form(**extra: str) -> dict[str, str]:
    data = {
        "name": "Spring sale",
        "numbers": NUMBERS,
        "instantly": "on",
        "type": "fallback",
        "s-0-channel": "sms",
        "s-0-sender_id": "ACME",
        "s-0-wait_for": "delivery",
        "s-0-wait_value": "10",
        "s-0-wait_unit": "min",
        "s-0-text": "Hello",
        "s-0-title": "",
    }
    data.update(extra)
    return data


def test_list_shows_the_guides_columns(company: Company, admin_user: User, client_for: ClientFor) -> None:
    """Inventory check 11 (columns, DD.MM.YYYY dates)."""
    _draft(company)
    page = client_for(admin_user).get(reverse("broadcasts:broadcast-list")).content.decode()
    for label in ("ID", "Broadcast Name", "Progress", "Type", "Status", "Scheduled for", "Contacts", "Launched",
                  "Launch", "Finished", "Template", "Actions"):  # fmt: skip
        assert re.search(rf"<th[^>]*>\s*(<a[^>]*>)?{label}\s*<", page), label
    assert "Spring sale" in page
    assert "Rows 1-1 of 1" in page


def test_list_htmx_returns_only_the_table(
    company: Company, admin_user: User, htmx_client_for: ClientFor
) -> None:
    _draft(company)
    response = htmx_client_for(admin_user).get(
        reverse("broadcasts:broadcast-list"), {"filter": "name", "q": "spring"}
    )
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="broadcast-table"')
    assert "<html" not in body
    assert "Spring sale" in body


def test_edit_is_offered_only_for_draft_and_scheduled(
    company: Company, simulator: Connection, admin_user: User, client_for: ClientFor,
    django_capture_on_commit_callbacks: Capture,
) -> None:  # fmt: skip
    """Inventory check 14."""
    draft = _draft(company, name="Draft one")
    running = _draft(company, name="Running one")
    with django_capture_on_commit_callbacks(execute=True):
        services.broadcast_launch(company=company, actor=None, broadcast=running)
    client = client_for(admin_user)
    page = client.get(reverse("broadcasts:broadcast-list")).content.decode()
    assert reverse("broadcasts:broadcast-edit", args=[draft.uuid]) in page
    assert reverse("broadcasts:broadcast-edit", args=[running.uuid]) not in page
    response = client.post(reverse("broadcasts:broadcast-edit", args=[running.uuid]), _form(name="Changed"))
    assert response.status_code == 303
    running.refresh_from_db()
    assert running.name == "Running one"


def test_form_launches_a_broadcast(
    company: Company, simulator: Connection, admin_user: User, htmx_client_for: ClientFor,
    django_capture_on_commit_callbacks: Capture,
) -> None:  # fmt: skip
    """Inventory checks 22 and 26: two typed numbers, Instantly → In progress, messages reach the simulator."""
    with django_capture_on_commit_callbacks(execute=True):
        response = htmx_client_for(admin_user).post(
            reverse("broadcasts:broadcast-create"), _form(action="launch")
        )
    broadcast = Broadcast.objects.get()
    assert response["HX-Redirect"] == reverse("broadcasts:broadcast-detail", args=[broadcast.uuid])
    assert BroadcastRecipient.objects.filter(broadcast=broadcast).count() == 2
    assert Message.objects.filter(channel="sms").count() == 2


def test_form_errors_rerender_the_form_fragment(
    company: Company, simulator: Connection, admin_user: User, htmx_client_for: ClientFor
) -> None:
    """Inventory checks 21 and 27: errors on the form (status 200 for htmx), nothing saved."""
    response = htmx_client_for(admin_user).post(
        reverse("broadcasts:broadcast-create"), _form(action="launch", name="", **{"s-0-sender_id": ""})
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert body.lstrip().startswith('<div id="broadcast-form-wrap">')
    assert "This field is required." in body
    assert not Broadcast.objects.exists()
    response = htmx_client_for(admin_user).post(
        reverse("broadcasts:broadcast-create"), _form(action="launch", **{"s-0-sender_id": ""})
    )
    assert "Choose a sender ID for this step." in response.content.decode()
    assert not Broadcast.objects.exists()


def test_steps_editor_adds_removes_and_shows_the_rcs_toggle(
    company: Company, admin_user: User, htmx_client_for: ClientFor
) -> None:
    """Inventory checks 30 and 38."""
    client = htmx_client_for(admin_user)
    url = reverse("broadcasts:broadcast-create")
    body = client.post(url, _form(op="add:rcs")).content.decode()
    assert 'name="s-1-channel" value="rcs"' in body
    assert 'id="broadcast-rcs-check"' in body
    assert "This field is required" not in body
    data = _form(op="add:viber", **{"s-1-channel": "rcs", "s-1-text": "rich"})
    body = client.post(url, data).content.decode()
    assert 'name="s-2-channel" value="viber"' in body
    data = _form(op="remove:1", **{"s-1-channel": "rcs", "s-2-channel": "viber", "s-2-text": "V"})
    body = client.post(url, data).content.decode()
    assert 'name="s-0-channel" value="sms"' in body
    assert 'name="s-1-channel" value="viber"' in body
    assert ">V</textarea>" in body
    assert 'id="broadcast-rcs-check"' not in body


def test_sms_counter_marks_the_characters_forcing_ucs2(admin_user: User, htmx_client_for: ClientFor) -> None:
    response = htmx_client_for(admin_user).post(
        reverse("broadcasts:sms-counter"), {"n": "0", "s-0-text": "Hola ¿qué tal? ✓"}
    )
    body = response.content.decode()
    assert body.lstrip().startswith('<div class="sms-counter" id="step-0-counter"')
    assert "UCS-2" in body
    assert "16 characters, 1 SMS parts (70 per part)" in body
    assert "<mark>✓</mark>" in body
    assert "<mark>é</mark>" not in body  # é is GSM-7
    plain = htmx_client_for(admin_user).post(
        reverse("broadcasts:sms-counter"), {"n": "0", "s-0-text": "x" * 161}
    )
    assert "GSM-7" in plain.content.decode()
    assert "161 characters, 2 SMS parts (153 per part)" in plain.content.decode()


def test_recipients_count_fragment(company: Company, admin_user: User, htmx_client_for: ClientFor) -> None:
    response = htmx_client_for(admin_user).post(
        reverse("broadcasts:recipients-count"), {"numbers": NUMBERS + ", +4915112345678"}
    )
    body = response.content.decode()
    assert body.lstrip().startswith('<p id="broadcast-count"')
    assert "2 recipients" in body


def test_moderation_shows_send_to_moderation_and_refuses_launch(
    company: Company, simulator: Connection, admin_user: User, client_for: ClientFor
) -> None:
    """Inventory check 29."""
    company.moderation_required = True
    company.save()
    client = client_for(admin_user)
    page = client.get(reverse("broadcasts:broadcast-create")).content.decode()
    assert "Send to moderation" in page
    assert "Launch broadcast" not in page
    response = client.post(reverse("broadcasts:broadcast-create"), _form(action="launch"))
    assert response.status_code == 200
    assert "need moderation" in response.content.decode()
    assert not Broadcast.objects.exists()
    client.post(reverse("broadcasts:broadcast-create"), _form(action="moderation"))
    assert Broadcast.objects.get().status == Broadcast.Status.ON_MODERATION
    assert not Message.objects.exists()


def test_statistics_page_and_live_fragment(
    company: Company, simulator: Connection, script: Any, admin_user: User, client_for: ClientFor,
    launch: Callable[..., Broadcast],
) -> None:  # fmt: skip
    """Inventory checks 18-19: 2 / 0 (0%) / 2 (100%) / 1 (50%) / 1 (50%), per-channel statistics."""
    script(pattern="+4915187654321", report="undelivered")
    script(report="delivered")
    broadcast = launch(numbers=NUMBERS.split(", "), steps=[sms()])
    client = client_for(admin_user)
    page = client.get(reverse("broadcasts:broadcast-detail", args=[broadcast.uuid])).content.decode()
    for stat, value in (("total", "2"), ("not_initiated", "0"), ("initiated", "2"), ("successful", "1"), ("unsuccessful", "1")):  # fmt: skip
        assert f'data-stat="{stat}">{value}<' in page
    assert "50.0%" in page
    assert "100.0%" in page
    assert 'data-channel="sms"' in page
    fragment = client.get(
        reverse("broadcasts:broadcast-detail", args=[broadcast.uuid]),
        {"part": "stats"},
        HTTP_HX_REQUEST="true",
    ).content.decode()
    assert fragment.lstrip().startswith('<section id="broadcast-stats"')
    assert "hx-trigger" not in fragment.split(">", 1)[0]  # complete: polling stops
    recipient = BroadcastRecipient.objects.get(broadcast=broadcast, address="+4915187654321")
    timeline = client.get(
        reverse("broadcasts:broadcast-recipient", args=[broadcast.uuid, recipient.pk])
    ).content.decode()
    assert "UNDELIV" in timeline
    assert "Undelivered" in timeline


def test_pause_action_through_the_page(
    company: Company, simulator: Connection, script: Any, admin_user: User, client_for: ClientFor,
    launch: Callable[..., Broadcast],
) -> None:  # fmt: skip
    script(report="none")
    broadcast = launch(numbers=NUMBERS.split(", "), steps=[sms(), sms("Again")])
    response = client_for(admin_user).post(
        reverse("broadcasts:broadcast-action", args=[broadcast.uuid, "pause"])
    )
    assert response.status_code == 303
    broadcast.refresh_from_db()
    assert broadcast.status == Broadcast.Status.PAUSED


@pytest.mark.parametrize(
    ("name", "method", "args"),
    [
        ("broadcasts:broadcast-detail", "get", ()),
        ("broadcasts:broadcast-edit", "get", ()),
        ("broadcasts:broadcast-action", "post", ("copy",)),
        ("broadcasts:broadcast-action", "post", ("abort",)),
    ],
)
def test_outsider_gets_404(
    company: Company, outsider: User, client_for: ClientFor, name: str, method: str, args: tuple[str, ...]
) -> None:
    broadcast = _draft(company)
    response = getattr(client_for(outsider), method)(reverse(name, args=[broadcast.uuid, *args]))
    assert response.status_code == 404
    assert Broadcast.objects.count() == 1


@pytest.mark.parametrize(
    ("name", "method"),
    [
        ("broadcasts:broadcast-list", "get"),
        ("broadcasts:broadcast-create", "get"),
        ("broadcasts:broadcast-create", "post"),
        ("broadcasts:sms-counter", "post"),
    ],
)
def test_role_without_broadcasts_permission_gets_403(
    finance_manager: User, client_for: ClientFor, name: str, method: str
) -> None:
    response = getattr(client_for(finance_manager), method)(reverse(name))
    assert response.status_code == 403
    assert not Broadcast.objects.exists()


def test_menu_leads_to_the_broadcasts_tab(admin_user: User, client_for: ClientFor) -> None:
    page = client_for(admin_user).get(reverse("dashboard:index")).content.decode()
    assert f'href="{reverse("broadcasts:broadcast-list")}"' in page


def test_to_broadcasts_from_a_target_preselects_it(
    company: Company, admin_user: User, client_for: ClientFor
) -> None:
    """Guide §8.3 "To broadcasts" (Contacts → Targets) opens the New broadcast form with the target chosen."""
    from contacts.services import target_create

    target = target_create(
        company=company, actor=None, name="Madrid", filters=[{"key": "first_name", "mode": "nonempty"}]
    )
    client = client_for(admin_user)
    targets_page = client.get(reverse("contacts:target-list")).content.decode()
    link = f"{reverse('broadcasts:broadcast-create')}?target={target.uuid}"
    assert link in targets_page
    form = client.get(link).content.decode()
    assert re.search(rf'<option value="{target.uuid}"\s+selected>', form)


def _flash(response: Any) -> list[str]:
    from django.contrib.messages import get_messages

    return [str(m) for m in get_messages(response.wsgi_request)]


@pytest.mark.parametrize("action", ["", "delete"])
def test_form_without_a_known_action_saves_a_draft(
    company: Company, admin_user: User, client_for: ClientFor, action: str
) -> None:
    """A missing or unknown ``action`` is the first Save button of the page: Save as draft, back to the list."""
    response = client_for(admin_user).post(reverse("broadcasts:broadcast-create"), _form(action=action))
    assert response.status_code == 303
    assert response["Location"] == reverse("broadcasts:broadcast-list")
    assert Broadcast.objects.get().status == Broadcast.Status.DRAFT
    assert _flash(response) == ["The broadcast was saved as a draft."]


def test_form_launch_with_a_later_date_schedules_the_run(
    company: Company, simulator: Connection, admin_user: User, client_for: ClientFor
) -> None:
    """Launch with a date in the future: the run is Scheduled and the page says so (not "launched")."""
    data = _form(action="launch", instantly="", scheduled_for="2099-01-01T10:00")
    response = client_for(admin_user).post(reverse("broadcasts:broadcast-create"), data)
    broadcast = Broadcast.objects.get()
    assert broadcast.status == Broadcast.Status.SCHEDULED
    assert response["Location"] == reverse("broadcasts:broadcast-detail", args=[broadcast.uuid])
    assert _flash(response) == ["The broadcast was scheduled."]


def test_steps_editor_on_the_edit_page_keeps_the_posted_values_and_saves_nothing(
    company: Company, admin_user: User, htmx_client_for: ClientFor
) -> None:
    """A steps-editor operation on Edit re-renders the fragment with what was typed; the stored run is unchanged."""
    draft = _draft(company)
    url = reverse("broadcasts:broadcast-edit", args=[draft.uuid])
    response = htmx_client_for(admin_user).post(url, _form(name="Typed, not saved", op="add:viber"))
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="broadcast-form-wrap">')
    assert 'value="Typed, not saved"' in body
    assert 'name="s-1-channel" value="viber"' in body
    assert "This field is required." not in body
    draft.refresh_from_db()
    assert draft.name == "Spring sale"
    assert draft.steps.count() == 1


def test_edit_page_shows_the_stored_shared_fields(
    company: Company, admin_user: User, client_for: ClientFor
) -> None:
    """Edit starts from the stored run: name, description, numbers, tags, mode, quiet hours and the schedule."""
    import datetime

    from contacts.services.tags import tag_create

    tag = tag_create(company=company, actor=None, name="VIP")
    draft = _draft(
        company,
        description="For spring",
        tag_ids=[tag.pk],
        type=Broadcast.Type.RCS_CHECK,
        instantly=False,
        scheduled_for=datetime.datetime(2099, 1, 1, 9, 30, tzinfo=datetime.UTC),
        quiet_hours="custom",
        allowed_from=datetime.time(9, 0),
        allowed_till=datetime.time(18, 0),
    )
    page = (
        client_for(admin_user).get(reverse("broadcasts:broadcast-edit", args=[draft.uuid])).content.decode()
    )
    assert 'value="Spring sale"' in page
    assert re.search(r"<textarea[^>]*name=\"description\"[^>]*>\s*For spring</textarea>", page)
    assert re.search(
        r"<textarea[^>]*name=\"numbers\"[^>]*>\s*\+4915112345678, \+4915187654321</textarea>", page
    )
    assert re.search(rf'<option value="{tag.uuid}"\s+selected>', page)
    assert re.search(r'<input type="radio" name="type" value="rcs_check"[^>]*checked', page)
    assert re.search(r'<option value="custom"\s+selected>', page)
    assert 'value="09:00"' in page
    assert 'value="18:00"' in page
    assert draft.scheduled_for is not None
    local = draft.scheduled_for.astimezone(zoneinfo.ZoneInfo(company.time_zone))
    assert f'value="{local:%Y-%m-%dT%H:%M}"' in page
    assert not re.search(r'name="instantly"[^>]*checked', page)


def test_actions_report_a_refusal_and_go_where_the_action_leads(
    company: Company, admin_user: User, client_for: ClientFor
) -> None:
    """A refused action shows the service's reason on the run's page; Copy opens the copy's form; unknown: 404."""
    draft = _draft(company)
    client = client_for(admin_user)
    refused = client.post(reverse("broadcasts:broadcast-action", args=[draft.uuid, "pause"]))
    assert refused["Location"] == reverse("broadcasts:broadcast-detail", args=[draft.uuid])
    assert _flash(refused) == ["Only a broadcast In progress can be paused."]
    copied = client.post(reverse("broadcasts:broadcast-action", args=[draft.uuid, "copy"]))
    copy = Broadcast.objects.exclude(pk=draft.pk).get()
    assert copied["Location"] == reverse("broadcasts:broadcast-edit", args=[copy.uuid])
    assert _flash(copied)[-1] == "A copy was saved as a draft."
    assert (
        client.post(reverse("broadcasts:broadcast-action", args=[draft.uuid, "explode"])).status_code == 404
    )
