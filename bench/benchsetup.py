"""Shared start of every benchmark: its own database (created when missing), Django set up, migrated.

Run benchmarks as scripts (``.venv/bin/python bench/<name>.py``); this folder is then first on ``sys.path``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def bench_env(db_name: str) -> None:
    """Make the project importable and point Django at the benchmark's own database (unless DB_NAME is set)."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DB_NAME", db_name)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")


def bench_django(db_name: str) -> None:
    """Use the database ``db_name`` (unless DB_NAME is set), create it if missing, set Django up and migrate."""
    bench_env(db_name)
    subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-qc",
         f"create database {os.environ['DB_NAME']} owner portal"],
        capture_output=True, check=False,
    )  # fmt: skip
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
