"""Fixtures of the channel-layer tests: a simulator connection per company and a way to script it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from channels_out.models import Connection, SimulatorRule
from channels_out.services import simulator_connection_create
from portal.tenants.models import Company

# A Spanish mobile number (phonenumbers: MOBILE, operator known) and a Spanish landline.
MOBILE = "+34612345678"
LANDLINE = "+34912345678"


@pytest.fixture
def simulator(company: Company) -> Connection:
    """The company's simulator connection serving every channel for sender ID ACME."""
    return simulator_connection_create(company=company, actor=None, sender_ids=["ACME"])


@pytest.fixture
def script(company: Company) -> Callable[..., SimulatorRule]:
    """Add one rule to the simulator script of ``company``: ``script(pattern="+34*", report="undelivered")``."""

    def add(**fields: Any) -> SimulatorRule:
        fields.setdefault("report_delay_seconds", 0)
        return SimulatorRule.objects.create(company=company, **fields)

    return add
