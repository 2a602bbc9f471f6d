"""A real Celery worker process for tests where the queue and timing matter (CONVENTIONS R12)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@contextmanager
def celery_worker(
    *, broker_url: str, cache_url: str, queues: str = "realtime,engine,bulk,default"
) -> Iterator[str]:
    """Start ``celery worker`` on the test broker, wait until it answers a ping, stop it afterwards."""
    from portal.celery import app

    name = f"test-{uuid.uuid4().hex[:8]}@localhost"
    env = {
        **os.environ,
        "CELERY_BROKER_URL": broker_url,
        "CELERY_RESULT_BACKEND": broker_url,
        "REDIS_URL": cache_url,
        "DJANGO_SETTINGS_MODULE": "portal.settings",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "portal", "worker", "-Q", queues, "-n", name, "-c", "1",
         "--pool", "solo", "--without-gossip", "--without-mingle", "--loglevel", "WARNING"],
        cwd=ROOT,
        env=env,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"the Celery worker exited with {process.returncode}")
            replies = app.control.ping(destination=[name], timeout=0.5) or []
            if replies:
                break
        else:
            raise RuntimeError("the Celery worker did not answer within 40 s")
        yield name
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
