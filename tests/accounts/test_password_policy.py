"""Password policy of guide Appendix 2 (acceptance checks 82, 83)."""

from __future__ import annotations

import datetime

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.utils import timezone

from portal.accounts.models import User
from portal.accounts.services import password_change
from portal.tenants.models import Company
from tests.factories import PASSWORD, make_user


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("abcdefgh", "at least 3 of these groups"),
        ("Abc1!x", "too short"),
        ("ABCDEFGH12", "at least 3 of these groups"),
    ],
)
def test_weak_passwords_are_refused(company: Company, password: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        make_user(company, password=password)


def test_strong_password_is_accepted(company: Company) -> None:
    assert make_user(company, password="Abcdef1!").check_password("Abcdef1!")


def test_own_change_needs_the_current_password(broadcast_manager: User, company: Company) -> None:
    later = timezone.now() + datetime.timedelta(days=2)
    with time_machine.travel(later), pytest.raises(ValidationError, match="current password is not correct"):
        password_change(
            user=broadcast_manager, actor=broadcast_manager, company=company,
            current_password="nope", new_password="Other-pass-1",
        )  # fmt: skip


def test_reusing_one_of_the_last_seven_passwords_is_refused(admin_user: User, company: Company) -> None:
    passwords = [f"Cycle-pass-{i}" for i in range(8)]
    current = PASSWORD
    for new in passwords:
        password_change(
            user=admin_user, actor=admin_user, company=company, current_password=current, new_password=new
        )
        current = new
    with pytest.raises(ValidationError, match="must differ from your last 7 passwords"):
        password_change(
            user=admin_user,
            actor=admin_user,
            company=company,
            current_password=current,
            new_password=passwords[3],
        )
    # The oldest one has left the window of seven, plus the current password.
    password_change(
        user=admin_user, actor=admin_user, company=company, current_password=current, new_password=PASSWORD
    )


def test_regular_user_waits_24_hours_between_own_changes_but_admin_does_not(
    broadcast_manager: User, admin_user: User, company: Company
) -> None:
    start = timezone.now() + datetime.timedelta(days=2)
    with time_machine.travel(start):
        password_change(
            user=broadcast_manager, actor=broadcast_manager, company=company,
            current_password=PASSWORD, new_password="Second-pass-1",
        )  # fmt: skip
        with pytest.raises(ValidationError, match="less than 24 hours ago"):
            password_change(
                user=broadcast_manager, actor=broadcast_manager, company=company,
                current_password="Second-pass-1", new_password="Third-pass-1",
            )  # fmt: skip
        password_change(
            user=admin_user,
            actor=admin_user,
            company=company,
            current_password=PASSWORD,
            new_password="Adm-pass-1",
        )
        password_change(
            user=admin_user,
            actor=admin_user,
            company=company,
            current_password="Adm-pass-1",
            new_password="Adm-pass-2",
        )
        # An admin may reset a regular user's password at any time; that user must change it at next sign-in.
        password_change(
            user=broadcast_manager, actor=admin_user, company=company, new_password="Reset-pass-1"
        )
    broadcast_manager.refresh_from_db()
    assert broadcast_manager.must_change_password is True
