"""portal.core.htmx: where a form or a finished job sends the browser next."""

from __future__ import annotations

import pytest
from django.test import RequestFactory

from portal.core.htmx import next_url


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("/contacts/", "/contacts/"),
        ("http://testserver/contacts/?page=2", "http://testserver/contacts/?page=2"),
        ("", "/home/"),
        ("//evil.example/", "/home/"),
        ("/\\evil.example/", "/home/"),
        ("https://evil.example/", "/home/"),
        ("javascript:alert(1)", "/home/"),
    ],
)
def test_next_url_stays_on_the_site(given: str, expected: str) -> None:
    """A ``next`` on this host is followed; any other (or none) gives the default, posted or in the query."""
    factory = RequestFactory()
    assert next_url(factory.post("/x/", {"next": given}), "/home/") == expected
    assert next_url(factory.get("/x/", {"next": given}), "/home/") == expected


def test_next_url_prefers_the_posted_value() -> None:
    request = RequestFactory().post("/x/?next=/from-query/", {"next": "/posted/"})
    assert next_url(request, "/home/") == "/posted/"
