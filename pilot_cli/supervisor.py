"""Supervising the child processes of ``rblock-pilot up``: start them, wait for health, stop them cleanly.

Each child runs in a session of its own, so a Ctrl-C in the terminal reaches only this supervisor, which
then stops the children in order (SIGTERM, a grace period, then SIGKILL) instead of leaving each to react
to the keyboard on its own.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

STOP_GRACE_S = 20.0


@dataclass
class Child:
    """A named child process."""

    name: str
    process: subprocess.Popen[bytes]

    @property
    def exit_code(self) -> int | None:
        return self.process.poll()


def start(name: str, command: Sequence[str], env: Mapping[str, str]) -> Child:
    """Start ``command`` in a new session, sharing this terminal's stdout and stderr."""
    process = subprocess.Popen(list(command), env=dict(env), start_new_session=True)
    return Child(name=name, process=process)


def stop(children: Sequence[Child], grace_s: float = STOP_GRACE_S) -> None:
    """SIGTERM every live child, wait up to ``grace_s`` in all, then SIGKILL what is left."""
    for child in children:
        if child.exit_code is None:
            _signal(child, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    for child in children:
        try:
            child.process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            print(f"rblock-pilot: the {child.name} did not stop within {grace_s:.0f} s; killing it", file=sys.stderr)
            _signal(child, signal.SIGKILL)
            child.process.wait()


def _signal(child: Child, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        # The whole session: uvicorn or celery may have helpers of their own.
        os.killpg(child.process.pid, signum)


def http_ok(url: str, timeout_s: float = 2.0) -> bool:
    """True when ``GET url`` answers 200."""
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            return int(response.status) == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


@dataclass
class StopRequest:
    """Turns SIGINT and SIGTERM into a flag the supervisor's loop polls (no exception mid-cleanup)."""

    signum: int | None = None
    _previous: dict[int, Any] = field(default_factory=dict)

    def install(self) -> None:
        for signum in (signal.SIGINT, signal.SIGTERM):
            self._previous[signum] = signal.signal(signum, self._handle)

    def restore(self) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        self.signum = signum

    @property
    def requested(self) -> bool:
        return self.signum is not None


def wait_until_healthy(
    url: str, children: Sequence[Child], stop_request: StopRequest, timeout_s: float
) -> tuple[bool, Child | None]:
    """Poll ``url`` until it answers 200; returns (healthy, the child that died first if one did)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and not stop_request.requested:
        for child in children:
            if child.exit_code is not None:
                return False, child
        if http_ok(url):
            return True, None
        time.sleep(0.25)
    return False, None


def watch(children: Sequence[Child], stop_request: StopRequest, poll_s: float = 0.25) -> Child | None:
    """Block until a stop is requested (None) or a child exits (that child)."""
    while not stop_request.requested:
        for child in children:
            if child.exit_code is not None:
                return child
        time.sleep(poll_s)
    return None
