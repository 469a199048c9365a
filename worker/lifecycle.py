"""A worker process's shared state and its start and stop: the store, the device binding and its presence.

Celery's ``worker_init``, ``worker_ready`` and ``worker_shutdown`` signals bracket the process: at start the
worker lowers its CPU priority (``worker.priority``), binds its device, tunes the CPU allocator (CPU
workers), and reports itself; at shutdown it stops reporting and closes its database connections. Told to
shut down while training, it interrupts the run between batches (see ``worker.runner``). The store is created
lazily, once per process (the solo pool runs tasks in the main process, so nothing is shared across a fork).
"""

from __future__ import annotations

import functools
import logging
import socket
import threading
from typing import Any

from celery.signals import worker_init, worker_ready, worker_shutdown, worker_shutting_down

from backend.settings import Settings, get_settings
from backend.store import Store
from worker.binding import current_binding
from worker.presence import IDLE_REPORT_EVERY_S, Presence
from worker.priority import lower_cpu_priority

log = logging.getLogger(__name__)

_presence: Presence | None = None
_shutting_down = threading.Event()


@functools.cache
def worker_settings() -> Settings:
    return get_settings()


@functools.cache
def worker_store() -> Store:
    return Store(worker_settings().database_url)


def host_name() -> str:
    return socket.gethostname()


def presence() -> Presence | None:
    """This process's presence once the worker is ready (None before, and outside a worker)."""
    return _presence


def shutting_down() -> bool:
    """True once the worker was told to stop (SIGTERM, SIGINT): a running training run then yields."""
    return _shutting_down.is_set()


def consumed_queues(app: Any) -> list[str]:
    """The queue names this worker consumes (``-Q``), in a stable order."""
    return sorted(str(name) for name in app.amqp.queues.consume_from)


def _on_worker_init(**_: Any) -> None:
    # First thing in the worker process, before its consumer, pool and torch's threads start (they inherit it).
    lower_cpu_priority(worker_settings().worker_nice)


def _on_worker_ready(sender: Any = None, **_: Any) -> None:
    global _presence
    binding = current_binding()
    if binding.device == "cpu":
        from rblock.device import tune_cpu_allocator

        tune_cpu_allocator()
    queues = consumed_queues(sender.app) if sender is not None else [binding.queue]
    if "gpu" in queues and binding.device == "cpu":
        log.warning("this worker consumes the gpu queue but has no CUDA GPU: its runs will train on the CPU")
    name = str(getattr(sender, "hostname", None) or f"worker@{host_name()}")
    # Twice per window in which the API counts a worker as online, so that an idle one never drops out between two
    # reports (the fixed period alone is longer than the window when HEARTBEAT_TIMEOUT_S is under 5 s).
    every_s = min(IDLE_REPORT_EVERY_S, worker_settings().workers_seen_within_s / 2)
    _presence = Presence(
        store_factory=worker_store,
        name=name,
        host=host_name(),
        device=binding.label,
        queues=queues,
        idle_every_s=every_s,
    )
    _presence.start()
    log.info("worker %s ready on %s, queues %s", name, binding.label, ",".join(queues))


def _on_worker_shutting_down(**_: Any) -> None:
    # Runs inside Celery's signal handler in the main thread, between two bytecodes of the training loop:
    # only set a flag; the loop's next should_stop() raises and the run is left to be resumed.
    _shutting_down.set()


def _on_worker_shutdown(**_: Any) -> None:
    global _presence
    if _presence is not None:
        _presence.stop()
        _presence = None
    if worker_store.cache_info().currsize:
        worker_store().dispose()


# Connected by call rather than as decorators (Celery's decorators are untyped). Module-level functions live
# as long as the process, so strong references are fine.
worker_init.connect(_on_worker_init, weak=False)
worker_ready.connect(_on_worker_ready, weak=False)
worker_shutting_down.connect(_on_worker_shutting_down, weak=False)
worker_shutdown.connect(_on_worker_shutdown, weak=False)
