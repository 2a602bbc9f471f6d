"""The live send-rate gauge of the statistics page (issue 7 item 6): messages per second over the last minute and
the ETA of the recipients still to be sent to, in the polled statistics fragment."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

import time_machine
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from broadcasts import engine, selectors, services
from broadcasts.models import Broadcast
from broadcasts.services import BroadcastData
from channels_out.models import Connection
from portal.accounts.models import User
from portal.tenants.models import Company
from tests.broadcasts.conftest import Capture, sms

ClientFor = Callable[[User], Client]
NUMBERS = [f"+49151123456{i:02d}" for i in range(5)]


def _stats_fragment(client: Client, broadcast: Broadcast) -> str:
    return client.get(
        reverse("broadcasts:broadcast-detail", args=[broadcast.uuid]),
        {"part": "stats"},
        HTTP_HX_REQUEST="true",
    ).content.decode()


def test_rate_over_the_last_minute_and_eta_of_the_remaining(
    company: Company,
    simulator: Connection,
    script: Any,
    admin_user: User,
    client_for: ClientFor,
    django_capture_on_commit_callbacks: Capture,
) -> None:
    """5 recipients; the engine sends to 2 of them 20 s after the launch. At +30 s: 2 messages in 30 s
    (0.1/s shown), 3 remaining, ETA 45 s (shown as about 1 minute); at +2 min nothing was sent in the last
    minute: no ETA. The gauge is in the polled fragment and disappears once the run is no longer In progress."""
    script(report="none")
    start = timezone.now().replace(microsecond=0)
    with time_machine.travel(start, tick=False) as clock:
        with django_capture_on_commit_callbacks(execute=False):  # the fan-out and engine run by hand below
            broadcast = services.broadcast_save(
                company=company,
                actor=None,
                data=BroadcastData(name="Rate", numbers=NUMBERS, steps=[sms()]),
                action="launch",
            )
        engine.broadcast_fan_out(company_id=company.pk, broadcast_id=broadcast.pk)
        clock.shift(20)
        assert engine.recipients_advance(company_id=company.pk, broadcast_id=broadcast.pk, limit=2) == 2
        clock.shift(10)
        broadcast.refresh_from_db()
        rate = selectors.broadcast_send_rate(company=company, broadcast=broadcast)
        assert (rate.per_second, rate.window_seconds, rate.remaining, rate.eta_seconds) == (0.1, 30, 3, 45)
        assert rate.finish_at == timezone.now() + datetime.timedelta(seconds=45)
        assert rate.eta_minutes == 1
        client = client_for(admin_user)
        fragment = _stats_fragment(client, broadcast)
        assert fragment.lstrip().startswith('<section id="broadcast-stats"')
        assert 'hx-trigger="every 2s"' in fragment
        assert 'id="broadcast-rate"' in fragment
        assert 'data-stat="rate">0.1<' in fragment
        assert "messages per second over the last 30 seconds" in fragment
        assert "3 recipients are still to be sent to." in fragment
        assert "in about 1 minute, around" in fragment

        clock.shift(90)
        rate = selectors.broadcast_send_rate(company=company, broadcast=broadcast)
        assert (rate.per_second, rate.window_seconds, rate.remaining, rate.eta_seconds) == (0.0, 60, 3, None)
        assert "no finish time can be estimated" in _stats_fragment(client, broadcast)

        services.broadcast_pause(company=company, actor=None, broadcast=broadcast)
        assert 'id="broadcast-rate"' not in _stats_fragment(client, broadcast)


def test_rate_counts_only_this_runs_messages_and_says_when_all_got_a_first_message(
    company: Company,
    other_company: Company,
    simulator: Connection,
    script: Any,
    admin_user: User,
    client_for: ClientFor,
    launch: Callable[..., Broadcast],
) -> None:
    script(report="none")
    with time_machine.travel(timezone.now(), tick=False) as clock:
        first = launch(numbers=NUMBERS[:3], steps=[sms()])
        launch(numbers=NUMBERS[3:], steps=[sms()], name="Other run")
        clock.shift(60)
        rate = selectors.broadcast_send_rate(company=company, broadcast=first)
        assert (rate.per_second, rate.remaining, rate.eta_seconds) == (0.1, 0, None)  # 3 in 60 s, none left
        # Another company's id never counts: the selector is scoped by company.
        assert selectors.broadcast_send_rate(company=other_company, broadcast=first).remaining == 0
        assert "Every recipient got a first message" in _stats_fragment(client_for(admin_user), first)


def test_statistics_fragment_is_404_for_another_company_and_403_without_the_permission(
    company: Company, simulator: Connection, script: Any, outsider: User, finance_manager: User,
    client_for: ClientFor, launch: Callable[..., Broadcast],
) -> None:  # fmt: skip
    script(report="none")
    broadcast = launch(numbers=NUMBERS[:1], steps=[sms()])
    url = reverse("broadcasts:broadcast-detail", args=[broadcast.uuid])
    assert client_for(outsider).get(url, {"part": "stats"}, HTTP_HX_REQUEST="true").status_code == 404
    assert client_for(finance_manager).get(url, {"part": "stats"}, HTTP_HX_REQUEST="true").status_code == 403
