"""The queue client: sends run ids to Celery workers by task NAME and reads queue depths (docs/design.md §1, §5).

The backend never imports worker code (nor torch): it knows only the task's name, ``TASK_NAME``, which
the worker registers. The broker carries nothing but run ids; the database is the source of truth, so a
lost message is repaired by re-enqueueing from the database, and a duplicate is harmless (the worker's
``claim_run`` returns None for a run that is running or finished). The worker imports this module for
``celery_config`` and ``TASK_NAME``, so it imports Celery but no FastAPI.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any, Protocol

from celery import Celery

from backend.settings import Settings

TASK_NAME = "rblock_pilot.train_run"
QUEUES = ("gpu", "cpu")
QUEUE_CHOICES = ("auto", *QUEUES)

# Redis hands an unacknowledged message to another worker after this long. Training runs take hours and
# the task acknowledges late, so a short timeout would start a second copy of a healthy run. Lost workers
# are detected by heartbeats in the database instead (``Store.requeue_stale``), so a long timeout loses
# nothing.
VISIBILITY_TIMEOUT_S = 7 * 24 * 3600
# How long the API waits for an unreachable broker before answering 503.
CONNECT_TIMEOUT_S = 3.0

log = logging.getLogger(__name__)


class QueueUnavailable(Exception):
    """The broker cannot be reached; the message says which and why, in one line."""


class SeenWorker(Protocol):
    """What ``resolve_queue`` needs of a worker (``backend.store.Worker`` has it)."""

    @property
    def device(self) -> str: ...

    @property
    def queues(self) -> list[str]: ...


def celery_config(settings: Settings) -> dict[str, Any]:
    """Celery settings shared by the API (sender) and the worker (consumer)."""
    return {
        "broker_url": settings.broker_url,
        "task_ignore_result": True,  # results live in the database
        "task_acks_late": True,  # a worker that dies mid-run leaves the message to be redelivered
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,  # one run at a time per worker process (one per GPU)
        "task_default_queue": "cpu",
        "task_create_missing_queues": True,
        "broker_transport_options": transport_options(settings.broker_url),
        "broker_connection_retry_on_startup": True,
        "broker_connection_timeout": CONNECT_TIMEOUT_S,
        "worker_hijack_root_logger": False,
    }


def transport_options(broker_url: str) -> dict[str, Any]:
    """Options for the broker's transport, which differ by transport.

    kombu's SQLAlchemy transport passes all of them to ``create_engine``, which rejects Redis's options.
    """
    scheme = broker_url.partition("://")[0]
    if scheme in ("redis", "rediss"):
        return {
            "visibility_timeout": VISIBILITY_TIMEOUT_S,
            "socket_connect_timeout": CONNECT_TIMEOUT_S,  # fail fast when Redis is down
        }
    if scheme.startswith("sqla+sqlite"):
        # The API and the workers write the same SQLite file: wait for a lock rather than fail at once.
        return {"connect_args": {"timeout": 30}}
    return {}


def make_celery(settings: Settings) -> Celery:
    """A Celery app configured for the broker, with no task code (tasks are sent by name)."""
    app = Celery("rblock_pilot", set_as_current=False)
    app.conf.update(celery_config(settings))
    return app


def resolve_queue(requested: str, workers: Iterable[SeenWorker]) -> str:
    """``auto`` is ``gpu`` when a CUDA worker listening on ``gpu`` was seen recently, else ``cpu``.

    ``workers`` are those seen within the heartbeat window (``Store.list_workers(seen_within_s=...)``).
    """
    if requested != "auto":
        return requested
    gpu_alive = any(worker.device.startswith("cuda") and "gpu" in worker.queues for worker in workers)
    return "gpu" if gpu_alive else "cpu"


class QueueClient:
    """Enqueue runs by task name and report queue depths; one per API process."""

    def __init__(self, settings: Settings, app: Celery | None = None) -> None:
        self.app = app if app is not None else make_celery(settings)
        self.broker_url = settings.broker_url

    def enqueue(self, run_id: int, queue: str) -> None:
        """Send one run id to ``queue``; raise ``QueueUnavailable`` when the broker cannot take it."""
        if queue not in QUEUES:
            raise ValueError(f"queue must be one of {', '.join(QUEUES)} (got {queue!r})")
        try:
            self.app.send_task(
                TASK_NAME,
                args=[run_id],
                queue=queue,
                retry=True,
                retry_policy={"max_retries": 1, "interval_start": 0.2, "interval_step": 0.5, "interval_max": 1.0},
            )
        except Exception as error:  # kombu raises OperationalError, redis/sqlalchemy their own errors
            raise QueueUnavailable(f"broker {_redact(self.broker_url)} did not take run {run_id}: {error}") from None

    def depths(self) -> dict[str, int | None]:
        """Messages waiting in each queue (Redis: list length; SQLAlchemy transport: visible rows).

        Best effort: None for a queue whose depth could not be read (broker down, unknown transport).
        """
        depths: dict[str, int | None] = dict.fromkeys(QUEUES)
        try:
            with self.app.connection_for_read() as connection:
                connection.ensure_connection(max_retries=1, timeout=CONNECT_TIMEOUT_S)
                channel = connection.default_channel
                for queue in QUEUES:
                    # A (non-passive) declare creates nothing on Redis and an empty row on SQLAlchemy, and
                    # returns the transport's count of waiting messages.
                    declared = channel.queue_declare(queue=queue, passive=False)
                    depths[queue] = int(declared.message_count)
        except Exception as error:
            log.warning("queue depths unavailable from %s: %s", _redact(self.broker_url), error)
        return depths

    def close(self) -> None:
        """Release the broker connections."""
        self.app.close()


def _redact(url: str) -> str:
    """The URL without its password, for messages."""
    scheme, sep, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    if not sep or not at:
        return url
    user = credentials.partition(":")[0]
    return f"{scheme}://{user}:***@{host}" if ":" in credentials else url
