"""Broadcasts in a real browser (issue 7 browser test): build an RCS → SMS chain to two numbers scripted in the
simulator (one RCS success, one RCS timeout), launch it and watch the statistics reach 2 contacts, 2 successful,
with one SMS sent."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from broadcasts.models import Broadcast
from broadcasts.tasks import broadcasts_sweep_task
from channels_out.models import Message, SimulatorRule
from channels_out.services import simulator_connection_create
from channels_out.tasks import simulated_reports_due_task
from tests.factories import PASSWORD, make_company, make_user, system_role

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

A, B = "+34612000001", "+34612000002"


def _fill_step(page: Any, n: int, text: str) -> None:
    page.fill(f"#s-{n}-sender_id", "ACME")
    page.fill(f"#s-{n}-wait_value", "10")
    page.select_option(f"#s-{n}-wait_unit", "s")
    # SMS keeps its composer; the other channels compose in the message constructor (issue 8).
    page.fill(f"#s-{n}-text" if page.locator(f"#s-{n}-text").count() else f"#s-{n}-c-text", text)


def test_rcs_to_sms_chain_reaches_two_successful(page: Any, sign_in: Callable[[str, str], None]) -> None:
    company = make_company("Browser Broadcasts Co")
    make_user(company, [system_role(company, "admin")], login="bc-admin")
    simulator_connection_create(company=company, actor=None, sender_ids=["ACME"])
    SimulatorRule.objects.create(
        company=company, pattern=A, channel="rcs", report="delivered", report_delay_seconds=0
    )
    SimulatorRule.objects.create(company=company, pattern=B, channel="rcs", report="none")
    SimulatorRule.objects.create(company=company, channel="sms", report="delivered", report_delay_seconds=0)
    sign_in("bc-admin", PASSWORD)
    page.wait_for_url("**/dashboard/")

    page.click('a[data-menu="broadcasts"]')
    page.wait_for_url("**/broadcasts/")
    page.click("#broadcast-new")
    page.fill("#id_name", "Browser chain")
    page.fill("#id_numbers", f"{A}, {B}")
    page.click("#broadcast-count-button")
    page.locator("#broadcast-count", has_text="2 recipients").wait_for()

    page.click('[data-add-step="rcs"]')
    page.locator("#step-0").wait_for()
    page.locator("#broadcast-rcs-check").wait_for()  # the toggle appears with the RCS step
    _fill_step(page, 0, "Rich hello")
    page.click('[data-add-step="sms"]')
    page.locator("#step-1").wait_for()
    _fill_step(page, 1, "Hello ✓")
    page.locator("#step-1-counter", has_text="UCS-2").wait_for()  # the live counter, server-rendered
    assert page.locator("#step-1-counter mark").first.inner_text() == "✓"
    page.click("#broadcast-launch")
    page.wait_for_url("**/broadcasts/*-*/")
    assert page.locator("#broadcast-status").inner_text() in ("In progress", "Complete")
    # B waits 10 s for its RCS status, so the run is In progress now: the live send-rate gauge shows the two RCS
    # messages sent since the launch, and that every recipient got a first message.
    gauge = page.locator("#broadcast-rate")
    gauge.wait_for()
    assert float(gauge.locator('[data-stat="rate"]').inner_text()) > 0
    assert "Every recipient got a first message" in gauge.inner_text()

    # Beat stands in here: the periodic jobs the fallback timer relies on, once a second.
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline:
        broadcasts_sweep_task()
        simulated_reports_due_task()
        if page.locator("#broadcast-status").inner_text() == "Complete":
            break
        page.wait_for_timeout(1000)
    assert page.locator("#broadcast-status").inner_text() == "Complete"
    totals = page.locator("#broadcast-totals")
    assert totals.locator('[data-stat="total"]').inner_text() == "2"
    assert totals.locator('[data-stat="not_initiated"]').inner_text() == "0"
    assert totals.locator('[data-stat="initiated"]').inner_text() == "2"
    assert totals.locator('[data-stat="successful"]').inner_text() == "2"
    assert page.locator('#broadcast-channels tr[data-channel="sms"] [data-stat="sent"]').inner_text() == "1"
    assert page.locator('#broadcast-channels tr[data-channel="rcs"] [data-stat="sent"]').inner_text() == "2"
    assert Message.objects.filter(channel="sms").count() == 1
    assert Broadcast.objects.get().status == Broadcast.Status.COMPLETE
