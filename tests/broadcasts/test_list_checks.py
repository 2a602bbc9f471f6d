"""The Broadcasts tab's paging, column picker, sort and filter (inventory A checks 12, 13, 48-51) on real runs."""

from __future__ import annotations

import datetime
import html
import re
from collections.abc import Callable

from django.test import Client
from django.urls import reverse
from django.utils import timezone

from broadcasts.models import Broadcast
from portal.accounts.models import User
from portal.tenants.models import Company

ClientFor = Callable[[User], Client]


def _runs(company: Company, n: int) -> list[Broadcast]:
    """``n`` draft runs named Broadcast_1 … Broadcast_n; every third has a schedule, launched at distinct times."""
    now = timezone.now()
    return Broadcast.objects.bulk_create(
        [
            Broadcast(
                company=company,
                name=f"Broadcast_{i}",
                scheduled_for=now + datetime.timedelta(days=1) if i % 3 == 0 else None,
                launched_at=now - datetime.timedelta(minutes=i),
            )
            for i in range(1, n + 1)
        ]
    )


def _names(page: str) -> list[str]:
    return re.findall(r">(Broadcast_\d+)(?: promo)?<", page)


def test_paging_shows_page_x_of_n_and_rows_a_b_of_total(
    company: Company, admin_user: User, client_for: ClientFor
) -> None:
    """Check 12: 101 runs → "Page 1 of 2", "Rows 1-100 of 101"; Next shows row 101 (newest first)."""
    _runs(company, 101)
    client = client_for(admin_user)
    first = client.get(reverse("broadcasts:broadcast-list")).content.decode()
    assert "Page 1 of 2" in first
    assert "Rows 1-100 of 101" in first
    assert len(_names(first)) == 100
    next_url = html.unescape(re.search(r'href="([^"]+)"[^>]*rel="next"', first).group(1))  # type: ignore[union-attr]
    if next_url.startswith("?"):
        next_url = reverse("broadcasts:broadcast-list") + next_url
    second = client.get(next_url).content.decode()
    assert "Page 2 of 2" in second
    assert "Rows 101-101 of 101" in second
    assert _names(second) == ["Broadcast_1"]


def test_column_picker_hides_template_also_after_a_reload(
    company: Company, admin_user: User, client_for: ClientFor
) -> None:
    """Check 13: unticking Template and saving hides the column for this user, also on the next visit."""
    _runs(company, 1)
    client = client_for(admin_user)
    url = reverse("broadcasts:broadcast-list")
    assert ">Template<" in client.get(url).content.decode()
    keep = [
        "id",
        "name",
        "progress",
        "type",
        "status",
        "scheduled",
        "contacts",
        "launched",
        "launch",
        "finished",
    ]
    response = client.post("/ui/columns/broadcasts/", {"columns": keep, "next": url})
    assert response.status_code in (302, 303)
    assert ">Template<" not in client.get(url).content.decode()
    assert ">Template<" not in client.get(url).content.decode()


def test_sort_filter_by_value_and_empty_values(
    company: Company, admin_user: User, client_for: ClientFor
) -> None:
    """Checks 48-51: Launched sorts descending then ascending; Broadcast Name "500" by value; Scheduled for empty /
    non-empty (check 51, one filter at a time, holds by construction: the query string has one ``filter``)."""
    _runs(company, 6)
    Broadcast.objects.create(company=company, name="Broadcast_500 promo")
    client = client_for(admin_user)
    url = reverse("broadcasts:broadcast-list")
    launched = [f"Broadcast_{i}" for i in range(1, 7)]  # Broadcast_1 was launched last
    newest_first = _names(client.get(url, {"sort": "-launched"}).content.decode())
    assert [n for n in newest_first if n in launched] == launched
    oldest_first = _names(client.get(url, {"sort": "launched"}).content.decode())
    assert [n for n in oldest_first if n in launched] == launched[::-1]
    by_name = client.get(url, {"filter": "name", "mode": "value", "q": "500"}).content.decode()
    assert _names(by_name) == ["Broadcast_500"]
    empty = _names(client.get(url, {"filter": "scheduled", "mode": "empty"}).content.decode())
    assert sorted(empty) == sorted(
        ["Broadcast_1", "Broadcast_2", "Broadcast_4", "Broadcast_5", "Broadcast_500"]
    )
    filled = _names(client.get(url, {"filter": "scheduled", "mode": "nonempty"}).content.decode())
    assert sorted(filled) == ["Broadcast_3", "Broadcast_6"]
