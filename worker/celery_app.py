"""The worker's Celery application: ``celery -A worker.celery_app worker ...`` loads this module.

Configured from ``backend.queue.celery_config(get_settings())``, the same broker, queues and task options
the API enqueues with. The worker imports rblock, ``backend.store``, ``backend.settings``, ``backend.queue``
and Celery, never the web app (an import-linter contract enforces it).
"""

from __future__ import annotations

from worker.binding import bind_process

# Narrow CUDA_VISIBLE_DEVICES to this worker's GPU before anything can initialise CUDA.
bind_process()

from celery import Celery  # noqa: E402

from backend.queue import celery_config  # noqa: E402
from backend.settings import get_settings  # noqa: E402

celery_app = Celery("rblock_pilot")
celery_app.conf.update(celery_config(get_settings()))

# Registers the task (shared_task binds it to this app) and the worker's start/stop signal handlers.
from worker import lifecycle, tasks  # noqa: E402, F401

app = celery_app  # `celery -A worker.celery_app` finds `app` or `celery_app`
