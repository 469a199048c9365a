"""Reads wait their turn (backend/admission.py): at most ``limit`` GETs at once, the rest started in arrival order;
writes, a page's in-process calls and the health check pass by; a place is given back when the answer starts."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from backend.admission import Admission
from backend.internal_calls import INTERNAL_CALL


class Held:
    """An ASGI app whose requests answer only when released, recording the order they started in."""

    def __init__(self) -> None:
        self.started: list[str] = []
        self.release: dict[str, asyncio.Event] = {}

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        name = scope["name"]
        self.started.append(name)
        await self.release.setdefault(name, asyncio.Event()).wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    def let_go(self, name: str) -> None:
        self.release.setdefault(name, asyncio.Event()).set()


def _scope(name: str, method: str = "GET", path: str = "/x", **extra: Any) -> dict[str, Any]:
    return {"type": "http", "method": method, "path": path, "name": name, **extra}


async def _call(gate: Admission, scope: dict[str, Any]) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    await gate(scope, receive, send)
    return sent


async def _settle() -> None:
    for _ in range(10):
        await asyncio.sleep(0)


def test_reads_beyond_the_limit_wait_and_start_in_arrival_order() -> None:
    async def scenario() -> None:
        app = Held()
        gate = Admission(app, limit=2, exempt_paths=frozenset({"/health"}))
        reads = [asyncio.create_task(_call(gate, _scope(f"r{n}"))) for n in range(5)]
        await _settle()
        assert app.started == ["r0", "r1"] and (gate.places.working, gate.places.waiting) == (2, 3)
        # Writes, a page's own calls and the health check are not queued behind the reads.
        passing = [
            asyncio.create_task(_call(gate, _scope("post", method="POST"))),
            asyncio.create_task(_call(gate, _scope("internal", **{INTERNAL_CALL: True}))),
            asyncio.create_task(_call(gate, _scope("health", path="/health"))),
        ]
        await _settle()
        assert app.started[2:] == ["post", "internal", "health"] and gate.places.waiting == 3
        for name in ("post", "internal", "health"):
            app.let_go(name)
        await asyncio.gather(*passing)
        for n in range(5):  # each answer gives its place to the next in line
            app.let_go(f"r{n}")
            await _settle()
        results = await asyncio.gather(*reads)
        assert [name for name in app.started if name.startswith("r")] == ["r0", "r1", "r2", "r3", "r4"]
        assert all(r[0]["status"] == 200 for r in results) and (gate.places.working, gate.places.waiting) == (0, 0)

    asyncio.run(scenario())


def test_a_failing_request_gives_its_place_back_and_zero_means_no_limit() -> None:
    async def failing(*_: Any) -> None:
        raise RuntimeError("boom")

    async def scenario() -> None:
        gate = Admission(failing, limit=1)
        for _ in range(3):  # with the place not given back, the second call would wait for ever
            with contextlib.suppress(RuntimeError):
                await asyncio.wait_for(_call(gate, _scope("r")), timeout=2)
        assert (gate.places.working, gate.places.waiting) == (0, 0)
        app = Held()
        open_gate = Admission(app, limit=0)
        tasks = [asyncio.create_task(_call(open_gate, _scope(f"r{n}"))) for n in range(20)]
        await _settle()
        assert len(app.started) == 20
        for n in range(20):
            app.let_go(f"r{n}")
        await asyncio.gather(*tasks)

    asyncio.run(scenario())


def test_metrics_show_the_reads_working_and_waiting(sqlite_url: str) -> None:
    from tests.support.api import open_api
    from tests.support.metrics import scrape

    with open_api(sqlite_url) as api:
        samples = scrape(api.client)
    states = {dict(labels)["state"]: value for (name, labels), value in samples.items() if name.endswith("http_reads")}
    assert states == {"working": 1.0, "waiting": 0.0}  # the scrape itself is the one read being worked on
