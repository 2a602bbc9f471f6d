"""The OpenAPI schema of every /api/v1 endpoint generates and validates without a warning."""

from __future__ import annotations

from pathlib import Path

from django.core.management import call_command


def test_schema_has_no_warnings_and_validates(tmp_path: Path) -> None:
    out = tmp_path / "schema.yaml"
    # --fail-on-warn turns every name collision or unresolvable field into an error.
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    text = out.read_text()
    assert "/api/v1/broadcasts" in text
    assert "ContactListApiInput" in text
