"""The contract between the API and the worker: the backend enqueues by name, the worker registers that name."""

from __future__ import annotations

from backend.queue import TASK_NAME, celery_config
from backend.settings import get_settings


def test_the_worker_registers_the_task_name_the_backend_sends() -> None:
    from worker.celery_app import celery_app

    assert TASK_NAME in celery_app.tasks
    task = celery_app.tasks[TASK_NAME]
    # Late acknowledgement: a worker lost mid-run leaves the message to be redelivered.
    assert task.acks_late is True
    assert task.reject_on_worker_lost is True


def test_the_worker_uses_the_backend_celery_config() -> None:
    from worker.celery_app import celery_app

    expected = celery_config(get_settings())
    assert celery_app.conf.broker_url == expected["broker_url"]
    assert celery_app.conf.worker_prefetch_multiplier == 1
