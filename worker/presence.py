"""A worker process reporting itself to the store, so the API can list workers and route ``auto`` pilots.

The worker writes ``store.worker_seen`` at start, with every run heartbeat (the runner calls
:meth:`Presence.report`), and every ``idle_every_s`` from a daemon thread while no run is active. The idle
thread stays silent during a run on purpose: then only the training loop reports, so a hung loop makes the
worker look gone, as it is.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from backend.store import Store
from worker.retry import TRANSIENT_ERRORS

log = logging.getLogger(__name__)

IDLE_REPORT_EVERY_S = 10.0


@dataclass
class Presence:
    """One worker process as the store sees it: its name, host, device, queues and current run."""

    store_factory: Callable[[], Store]
    name: str
    host: str
    device: str
    queues: list[str]
    idle_every_s: float = IDLE_REPORT_EVERY_S
    current_run_id: int | None = None
    _last_report: float = field(default=0.0, repr=False)
    _stop: threading.Event = field(default_factory=threading.Event, repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)

    def report(self, current_run_id: int | None = None) -> None:
        """Write ``worker_seen`` now; a transient database error is logged, not raised (the next report retries)."""
        self.current_run_id = current_run_id
        try:
            self.store_factory().worker_seen(
                name=self.name,
                host=self.host,
                device=self.device,
                queues=list(self.queues),
                current_run_id=current_run_id,
            )
        except TRANSIENT_ERRORS as error:
            log.warning("could not report worker %s: %s", self.name, str(error).splitlines()[0])
        self._last_report = time.monotonic()

    def start(self) -> None:
        """Report once, then keep reporting while idle from a daemon thread."""
        self.report(None)
        if self._thread is None:
            self._thread = threading.Thread(target=self._idle_loop, name="worker-presence", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
            self._thread = None

    def _idle_loop(self) -> None:
        while not self._stop.wait(self.idle_every_s / 4):
            idle = self.current_run_id is None
            if idle and time.monotonic() - self._last_report >= self.idle_every_s:
                self.report(None)
