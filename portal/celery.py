"""The Celery app (CONVENTIONS R7).

Queues: ``realtime`` (one-time passwords, conversations, delivery reports), ``bulk`` (broadcast fan-out, imports,
exports, reports), ``engine`` (the broadcast engine's own tasks, consumed by the bulk workers) and ``default``. A worker per queue keeps a big campaign from delaying a one-time password.
The beat schedule is code, reviewed like the rest.
"""

from __future__ import annotations

import os

from celery import Celery
from kombu import Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

app = Celery("portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
# ``engine``: the broadcast engine's fan-out, advance and fallback-hop submit tasks, consumed by the bulk workers
# beside ``bulk`` so that they do not wait behind the first steps' submit backlog (broadcasts/tasks.py).
app.conf.task_queues = (Queue("realtime"), Queue("engine"), Queue("bulk"), Queue("default"))
app.conf.task_routes = {
    "realtime.*": {"queue": "realtime"},
    "engine.*": {"queue": "engine"},
    "bulk.*": {"queue": "bulk"},
}
app.conf.beat_schedule = {
    "core-heartbeat": {"task": "realtime.core.heartbeat", "schedule": 30.0},
    "channels-simulated-reports": {"task": "realtime.channels_out.simulated_reports_due", "schedule": 2.0},
    "channels-upkeep": {"task": "realtime.channels_out.upkeep", "schedule": 15.0},
    "channels-webhooks": {"task": "realtime.channels_out.webhook_upkeep", "schedule": 5.0},
    # Fallback timers, due schedules and completion of broadcasts (broadcasts/engine.py).
    "broadcasts-sweep": {"task": "realtime.broadcasts.sweep", "schedule": 2.0},
}
app.autodiscover_tasks()
