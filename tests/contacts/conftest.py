"""Fixtures of the contacts tests: the API tests use the API section's key and HTTP client fixtures."""

from tests.api.conftest import http, make_key  # noqa: F401  (fixtures are found by name)
