from __future__ import annotations

import datetime
from collections.abc import Iterator

import pytest

from channels_out.inbound import InboundNotice, inbound_dispatch, inbound_subscribers

NOTICE = InboundNotice(
    1, 2, "sms", "ACME", "+34600000000", "STOP", datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
)


@pytest.fixture
def subscribers() -> Iterator[list[str]]:
    seen: list[str] = []
    saved = dict(inbound_subscribers._items)
    inbound_subscribers._items.clear()
    yield seen
    inbound_subscribers._items.clear()
    inbound_subscribers._items.update(saved)


def test_every_subscriber_gets_the_notice_even_when_one_fails(subscribers: list[str]) -> None:
    def broken(notice: InboundNotice) -> None:
        raise RuntimeError("boom")

    inbound_subscribers.add("first", lambda n: subscribers.append(f"first:{n.text}"))
    inbound_subscribers.add("broken", broken)
    inbound_subscribers.add("last", lambda n: subscribers.append(f"last:{n.text}"))
    assert inbound_dispatch(NOTICE) == ["broken"]
    assert subscribers == ["first:STOP", "last:STOP"]
