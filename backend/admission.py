"""Reads wait their turn: at most ``API_CONCURRENCY`` GET requests of a process are worked on at once, the
rest queue in arrival order (docs/design.md §6, the service under load).

Without it, every request that arrives is started at once and they all share the cores (processor sharing):
with 50 in flight, a pilot page, which waits on three in-process API calls one after the other, waits
behind the other 49 requests three times, and its tail is several times a one-step request's. Started in
arrival order, a few at a time, each request runs with little competition once it starts: the time a
request spends is the queue (the same for every kind) plus its own work, so the slow tail shrinks while
the throughput stays. What is let through:
- in-process calls of a page (``INTERNAL_CALL``): the page holding its place makes them, and holding them
  back would deadlock it;
- anything but GET and HEAD: a form's post or a dataset upload may send its body slowly, and a slow client
  must not hold a place that reads wait for;
- the health check, so that a probe sees a busy process as up rather than timing out in the queue.
A request gives its place back when its answer starts (the work is done by then), so a slow reader of a
large answer does not hold it either. ``Places`` counts both for ``/metrics``.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backend.internal_calls import INTERNAL_CALL

QUEUED_METHODS = frozenset({"GET", "HEAD"})


@dataclass
class Places:
    """The GETs this process is working on and those waiting for a place (``/metrics`` reads them)."""

    working: int = 0
    waiting: int = 0


class Admission:
    """Pure ASGI middleware; ``limit`` 0 lets everything through."""

    def __init__(
        self, app: ASGIApp, *, limit: int, exempt_paths: frozenset[str] = frozenset(), places: Places | None = None
    ) -> None:
        self.app = app
        self.limit = limit
        self.exempt_paths = exempt_paths
        self.places = places if places is not None else Places()
        self._turns: asyncio.Semaphore | None = None  # made on the server's event loop, at the first request

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            self.limit <= 0
            or scope["type"] != "http"
            or scope.get(INTERNAL_CALL)
            or scope.get("method") not in QUEUED_METHODS
            or scope.get("path") in self.exempt_paths
        ):
            await self.app(scope, receive, send)
            return
        if self._turns is None:
            self._turns = asyncio.Semaphore(self.limit)
        turns = self._turns
        self.places.waiting += 1
        try:
            await turns.acquire()
        finally:
            self.places.waiting -= 1
        self.places.working += 1
        held = True

        def give_back() -> None:
            nonlocal held
            if held:
                held = False
                self.places.working -= 1
                turns.release()

        async def send_then_give_back(message: Message) -> None:
            if message["type"] == "http.response.start":
                give_back()
            await send(message)

        try:
            await self.app(scope, receive, send_then_give_back)
        finally:
            give_back()
