"""The status-change point: a section hears about its own messages' changes once, after commit."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any

import pytest

from channels_out.kinds import ChannelKind
from channels_out.models import Connection, Message, SimulatorRule
from channels_out.services import message_send
from channels_out.status_hooks import StatusNotice, status_subscribers
from portal.tenants.models import Company
from tests.channels_out.conftest import MOBILE

Capture = Callable[..., AbstractContextManager[Any]]


@pytest.fixture
def heard() -> Iterator[list[StatusNotice]]:
    notices: list[StatusNotice] = []
    saved = dict(status_subscribers._items)
    status_subscribers._items.clear()
    status_subscribers.add(Message.Origin.BROADCAST, notices.extend)
    yield notices
    status_subscribers._items.clear()
    status_subscribers._items.update(saved)


def _send(company: Company, capture: Capture, origin: str) -> Message:
    with capture(execute=True):
        return message_send(
            company=company, actor=None, channel=ChannelKind.SMS, sender_id="ACME", to=MOBILE,
            payload={"text": "Hi"}, origin=origin,
        )  # fmt: skip


def test_origin_subscriber_hears_submit_and_delivery(
    company: Company,
    simulator: Connection,
    script: Callable[..., SimulatorRule],
    heard: list[StatusNotice],
    django_capture_on_commit_callbacks: Capture,
) -> None:
    script(report="delivered")
    message = _send(company, django_capture_on_commit_callbacks, Message.Origin.BROADCAST)
    assert [(n.message_id, n.status) for n in heard] == [(message.pk, "submitted"), (message.pk, "delivered")]
    assert {n.company_id for n in heard} == {company.pk}


def test_other_origins_are_not_announced_to_it(
    company: Company,
    simulator: Connection,
    script: Callable[..., SimulatorRule],
    heard: list[StatusNotice],
    django_capture_on_commit_callbacks: Capture,
) -> None:
    script(report="delivered")
    _send(company, django_capture_on_commit_callbacks, Message.Origin.API)
    assert heard == []
