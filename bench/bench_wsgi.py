"""WSGI entry point of bench/bench_callbacks.py: the portal plus one trivial view, served by the same gunicorn.

The trivial view runs through the same middleware stack as the callback endpoint (so the ratio measures the
callback's own work: signature check, raw payload stored, apply task scheduled), and nothing else of the portal
changes. Used only by the benchmark.
"""

from __future__ import annotations

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

from django.core.wsgi import get_wsgi_application

application = get_wsgi_application()

from django.conf import settings  # noqa: E402  (after setup)

settings.ROOT_URLCONF = "bench.bench_urls"
