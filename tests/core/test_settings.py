from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings

from portal import env
from portal.core.checks import check_production_settings

ROOT = Path(__file__).resolve().parents[2]


def test_env_bool_accepts_only_true_false_1_0(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("X_FLAG", "true")
    assert env.env_bool("X_FLAG", False) is True
    monkeypatch.setenv("X_FLAG", "0")
    assert env.env_bool("X_FLAG", True) is False
    monkeypatch.setenv("X_FLAG", "yes")
    with pytest.raises(ImproperlyConfigured, match="X_FLAG must be one of 1/0/true/false"):
        env.env_bool("X_FLAG", False)


def test_env_int_and_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("X_INT", "12")
    assert env.env_int("X_INT", 1) == 12
    monkeypatch.setenv("X_INT", "twelve")
    with pytest.raises(ImproperlyConfigured, match="X_INT must be an integer"):
        env.env_int("X_INT", 1)
    monkeypatch.setenv("X_LIST", "a, b,,c")
    assert env.env_list("X_LIST", "") == ["a", "b", "c"]


def test_env_secret_reads_the_file_and_fails_loudly(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("s3cr3t\n")
    monkeypatch.setenv("X_SECRET_FILE", str(secret))
    assert env.env_secret("X_SECRET", "default") == "s3cr3t"
    monkeypatch.setenv("X_SECRET_FILE", str(tmp_path / "missing"))
    with pytest.raises(ImproperlyConfigured, match=r"X_SECRET_FILE=.* cannot be read"):
        env.env_secret("X_SECRET", "default")


def test_env_example_lists_every_variable_of_settings() -> None:
    source = (ROOT / "portal" / "settings.py").read_text()
    used = set(re.findall(r'env_(?:str|bool|int|list|secret)\(\s*"([A-Z0-9_]+)"', source))
    listed = {
        line.split("=", 1)[0].strip()
        for line in (ROOT / ".env.example").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert used - listed == set(), "missing from .env.example"
    assert listed - used == set(), "listed in .env.example but not read by settings"


def test_deploy_check_refuses_the_dev_secret_and_debug() -> None:
    from django.conf import settings

    with override_settings(SECRET_KEY=settings.DEV_SECRET_KEY, DEBUG=True):
        ids = {m.id for m in check_production_settings()}
    assert ids == {"portal.E001", "portal.E002"}
    with override_settings(SECRET_KEY="x" * 60, DEBUG=False):
        assert check_production_settings() == []


def test_check_deploy_command_fails_with_the_dev_secret() -> None:
    from django.conf import settings

    with (
        override_settings(SECRET_KEY=settings.DEV_SECRET_KEY),
        pytest.raises(SystemCheckError, match=r"portal\.E001"),
    ):
        call_command("check", "--deploy")


def test_session_cookie_is_httponly_and_samesite() -> None:
    from django.conf import settings

    assert settings.SESSION_COOKIE_HTTPONLY is True
    assert settings.SESSION_COOKIE_SAMESITE == "Lax"
