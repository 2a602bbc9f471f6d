"""The message log and timeline pages, and the back office for connections and the simulator script."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import pytest
from django.test import Client

from channels_out import services
from channels_out.models import Connection, Message, SimulatorRule
from portal.accounts.models import User
from portal.audit.models import AuditDetail, AuditEntry
from portal.tenants.models import Company
from tests.channels_out.conftest import MOBILE

ClientFor = Callable[[User], Client]
Capture = Callable[..., AbstractContextManager[Any]]


@pytest.fixture
def sent(
    company: Company, simulator: Connection, script: Any, django_capture_on_commit_callbacks: Capture
) -> Message:
    script(report="undelivered", report_error_code="013")
    with django_capture_on_commit_callbacks(execute=True):
        message = services.message_send(
            company=company, actor=None, channel="sms", sender_id="ACME", to=MOBILE, payload={"text": "Hello Anna"},
            origin="api",
        )  # fmt: skip
    message.refresh_from_db()
    return message


def test_message_log_lists_every_message_with_its_facts(
    client_for: ClientFor, finance_manager: User, sent: Message
) -> None:
    response = client_for(finance_manager).get("/messages/")
    html = response.content.decode()
    assert response.status_code == 200
    for header in (
        "Channel",
        "Direction",
        "Sender ID",
        "Contact",
        "Status",
        "Segments",
        "Error",
        "Connection",
    ):
        assert f">{header}</a>" in html or f">{header}<" in html or f"\n                {header}\n" in html
    assert MOBILE in html
    assert "Undelivered" in html
    assert "Handset switched off." in html
    assert "Simulator" in html
    assert f"/messages/{sent.uuid}/" in html


def test_message_log_filters_by_status_as_an_htmx_fragment(
    htmx_client_for: ClientFor, admin_user: User, sent: Message, company: Company
) -> None:
    Message.objects.create(
        company=company, channel="sms", origin="api", sender_id="ACME", address="+34699999999",
        status="delivered", client_reference="other",
    )  # fmt: skip
    html = htmx_client_for(admin_user).get("/messages/?filter=status&q=Delivered").content.decode()
    assert html.lstrip().startswith('<div id="message-table"')
    assert "<html" not in html
    assert "+34699999999" in html
    assert MOBILE not in html


def test_detail_shows_the_status_timeline(client_for: ClientFor, admin_user: User, sent: Message) -> None:
    html = client_for(admin_user).get(f"/messages/{sent.uuid}/").content.decode()
    assert "Status timeline" in html
    assert "Hello Anna" in html
    assert "GSM7 · 1" in html
    for status in ("Queued", "Submitted", "Undelivered"):
        assert f"<td>{status}</td>" in html
    assert "UNDELIV" in html


def test_detail_timeline_fragment_for_htmx(
    htmx_client_for: ClientFor, admin_user: User, sent: Message
) -> None:
    html = htmx_client_for(admin_user).get(f"/messages/{sent.uuid}/").content.decode()
    assert html.lstrip().startswith('<section id="message-timeline"')
    assert "message-facts" not in html


def test_outsider_gets_404_and_sees_nothing(client_for: ClientFor, outsider: User, sent: Message) -> None:
    client = client_for(outsider)
    assert client.get(f"/messages/{sent.uuid}/").status_code == 404
    assert MOBILE not in client.get("/messages/").content.decode()


def test_role_without_statistics_gets_403(client_for: ClientFor, viewer: User, sent: Message) -> None:
    client = client_for(viewer)
    assert client.get("/messages/").status_code == 403
    assert client.get(f"/messages/{sent.uuid}/").status_code == 403


def test_statistics_menu_item_leads_to_the_message_log(client_for: ClientFor, admin_user: User) -> None:
    html = client_for(admin_user).get("/messages/").content.decode()
    assert 'href="/messages/"' in html


@pytest.fixture
def staff(db: None) -> Client:
    client = Client()
    client.force_login(User.objects.create_superuser("root-ch", "root-ch@example.com", "Root-pass-1"))
    return client


def _connection_form(company: Company, **over: Any) -> dict[str, Any]:
    data = {
        "company": company.pk, "name": "Sim 2", "adapter_key": "simulator", "channels": ["sms", "viber"],
        "sender_ids": "ACME,INFO", "priority": 10, "rate_limit": 50, "enabled": "on",
        "config": '{"callback_secret": "0123456789abcdef-secret"}',
    }  # fmt: skip
    data.update(over)
    return data


def test_back_office_validates_the_config_with_the_adapter_form(staff: Client, company: Company) -> None:
    bad = staff.post(
        "/admin/channels_out/connection/add/",
        _connection_form(company, config='{"callback_secret": "short"}'),
    )
    assert bad.status_code == 200
    assert "callback_secret: Ensure this value has at least 16 characters (it has 5)." in bad.content.decode()
    ok = staff.post("/admin/channels_out/connection/add/", _connection_form(company))
    assert ok.status_code == 302, ok.content.decode()[:3000]
    connection = Connection.objects.get(name="Sim 2")
    assert (connection.channels, connection.sender_ids, connection.rate_limit) == (
        ["sms", "viber"],
        ["ACME", "INFO"],
        50,
    )
    entry = AuditEntry.objects.get(action="connection.created")
    # Credentials never reach the audit log: only the names of the config keys that changed.
    detail = AuditDetail.objects.get(entry=entry)
    assert "0123456789abcdef-secret" not in str(detail.new_value)
    assert isinstance(detail.new_value, dict)
    assert detail.new_value["config_keys_changed"] == ["callback_secret"]


def test_back_office_edits_the_simulator_script(
    staff: Client, company: Company, simulator: Connection
) -> None:
    response = staff.post(
        "/admin/channels_out/simulatorrule/add/",
        {
            "company": company.pk, "connection": simulator.pk, "order": 1, "name": "RCS fails", "enabled": "on",
            "pattern": "+34*", "channel": "rcs", "submit": "ok", "report": "none", "report_delay_seconds": 0,
            "display_delay_seconds": 0, "inbound_delay_seconds": 0, "whatsapp_opted_in": "on",
            "whatsapp_verified": "on",
        },
    )  # fmt: skip
    assert response.status_code == 302, response.content.decode()[:3000]
    rule = SimulatorRule.objects.get()
    assert rule.rcs_capable is False
    assert services.simulator_script(connection=simulator)[0]["name"] == "RCS fails"


def test_a_deep_page_of_every_sort_follows_an_index_and_never_sorts_the_table(company: Company) -> None:
    """Issue 5 §7 (keyset paging at millions of rows): for every sortable column of the message log, in both
    directions, the query of a page after a cursor is an index range scan (PostgreSQL told not to sort unless it
    must: a plan still holding a Sort node has no index for that order)."""
    from django.db import connection as db
    from django.test.utils import CaptureQueriesContext

    from channels_out.selectors import message_list
    from channels_out.views import MESSAGE_LIST
    from portal.core.listing import list_page

    Message.objects.bulk_create(
        [
            Message(company=company, channel="sms", origin="api", sender_id=f"S{i % 7}", address=f"+3461234{i:04d}",
                    client_reference=f"ref-{i}", segments=i % 3 + 1, status="queued", text="x")
            for i in range(250)
        ]
    )  # fmt: skip
    sortable = [c.key for c in MESSAGE_LIST.columns if c.sortable]
    assert "connection" not in sortable  # a joined name cannot follow an index of the message table
    with db.cursor() as cursor:
        cursor.execute("SET enable_sort = off")
        cursor.execute("SET enable_seqscan = off")
        try:
            for key in sortable:
                for sort in (key, f"-{key}"):
                    first = list_page(message_list(company=company), MESSAGE_LIST, {"sort": sort})
                    assert first.next_cursor, sort
                    with CaptureQueriesContext(db) as queries:
                        list_page(
                            message_list(company=company),
                            MESSAGE_LIST,
                            {"sort": sort, "after": first.next_cursor},
                        )
                    paged = [q["sql"] for q in queries.captured_queries if "ORDER BY" in q["sql"]]
                    assert paged, sort
                    for sql in paged:
                        cursor.execute("EXPLAIN " + sql)
                        plan = "\n".join(row[0] for row in cursor.fetchall())
                        assert "Sort" not in plan, f"{sort}:\n{plan}"
        finally:
            cursor.execute("RESET enable_sort")
            cursor.execute("RESET enable_seqscan")
