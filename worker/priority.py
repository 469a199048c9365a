"""A worker trains at a lower CPU priority than the API (``WORKER_NICE``, docs/design.md §6).

``rblock-pilot up`` runs the API and a worker on one machine, and the worker's training would take every
cycle it can get: a page that waits for a core while an epoch computes is what a user notices, an epoch
that ends a little later is not. So the worker lowers its own priority when it starts (Celery's
``worker_init``, ``worker.lifecycle``), whoever started it (``up``, ``rblock-pilot worker``, a process
manager, ``bench/load.py``): every path runs ``pilot_cli.service.worker_command``, and this is the one place
that acts on the setting. Alone on a machine (a GPU host), a niced worker loses nothing: niceness only
matters when something else wants the CPU.

Linux keeps a niceness per thread, and a new thread inherits its creator's: hence every thread alive at the
call (Celery's and any a library started) is lowered, and the threads started later (torch's intra-op pool
on the first batch, the data loaders) inherit it. Only ever lowered: raising a priority needs privileges,
and a worker a process manager started at a higher niceness keeps it.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)

TASKS = Path("/proc/self/task")  # Linux: one folder per thread of this process


def lower_cpu_priority(niceness: int) -> int:
    """Give every thread of this process a niceness of at least ``niceness``; returns this thread's afterwards."""
    if niceness <= 0 or not hasattr(os, "setpriority"):
        return _niceness(0)
    threads = [int(task.name) for task in TASKS.iterdir()] if TASKS.is_dir() else [0]
    for thread in threads:
        try:
            if _niceness(thread) < niceness:
                os.setpriority(os.PRIO_PROCESS, thread, niceness)
        except (ProcessLookupError, PermissionError):  # a thread that just ended; one we may not touch
            continue
    now = _niceness(0)
    log.info("training at CPU niceness %d (WORKER_NICE=%d)", now, niceness)
    return now


def _niceness(thread: int) -> int:
    return os.getpriority(os.PRIO_PROCESS, thread) if hasattr(os, "getpriority") else 0
