"""End to end in Chromium: the pages against a real uvicorn server, with runs driven through the store.

The worker is played by the test (claim, write points, finish through the store, as a worker does), so the
test needs no Celery; what it checks is the browser side: live grid and chart without a reload, the ROI
panel recomputing the verdict, no console errors, and a screenshot of every page (in a scratch folder).
"""

from __future__ import annotations

import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from backend.store import RunStatus, Store
from pilot_cli.webapp import create_app
from tests.backend.api_support import RecordingQueue, pilot_body, start
from tests.browser import ARGS, CHROMIUM
from tests.frontend.support import site_settings

playwright_api = pytest.importorskip("playwright.sync_api")

# docs/screenshots/ come from the end-to-end browser test (tests/e2e/test_browser_pilot.py: a real pilot);
# these go to a scratch folder so that the two never overwrite each other.
SHOTS = Path(tempfile.gettempdir()) / "rblock-pilot-page-shots"

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def server(sqlite_url: str) -> Iterator[tuple[str, Store]]:
    settings = site_settings(sqlite_url)
    store = Store(settings.database_url)
    store.upgrade()
    app = create_app(settings, store=store, queue=RecordingQueue(store=store))
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", store
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        store.dispose()


def _finish(store: Store, run_id: int, acc: float, hours: float) -> None:
    start(store, run_id)
    store.write_points(run_id=run_id, points=[("test_acc", e, acc - 0.1 + 0.05 * e) for e in range(3)])
    cost = {"device_hours": hours, "device_kind": "cpu", "device_name": "cpu", "samples_per_second": 1000.0}
    store.finish_run(run_id=run_id, status=RunStatus.SUCCEEDED, error=None, cost=cost, final_metrics={"test_acc": acc})


@pytest.fixture
def chromium_browser() -> Iterator[Any]:
    with playwright_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


def test_pilot_pages_live_in_chromium(server: tuple[str, Store], chromium_browser: Any) -> None:
    base, store = server
    body = pilot_body(name="digits: <b>R-Block</b> vs none", seeds=3, training={"epochs": 3})
    created = httpx.post(f"{base}/api/v1/pilots", json=body, timeout=30)
    assert created.status_code == 201, created.text
    pilot = created.json()["pilot"]
    runs = {(run["arm"], run["seed"]): run["id"] for run in pilot["runs"]}
    for seed, (base_acc, rb_acc) in enumerate([(0.80, 0.90), (0.81, 0.92)]):
        _finish(store, runs[("none", seed)], base_acc, 0.1)
        _finish(store, runs[("rblock_s", seed)], rb_acc, 0.2)
    _finish(store, runs[("none", 2)], 0.805, 0.1)
    live_run = runs[("rblock_s", 2)]  # stays queued until the page is open

    SHOTS.mkdir(parents=True, exist_ok=True)
    browser = chromium_browser
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    problems: list[str] = []
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))

    page.goto(f"{base}/")
    row = page.locator("table.pilots tbody tr").first
    assert "<b>R-Block</b>" in row.inner_text()  # escaped, shown as text
    assert row.locator(".badge").inner_text() == "running"
    page.screenshot(path=str(SHOTS / "pilots.png"), full_page=True)

    page.goto(f"{base}/pilots/{pilot['id']}")
    page.evaluate("window.__sameDocument = true")
    badge = page.locator(f'.badge[data-run="{live_run}"]')
    assert badge.inner_text() == "queued"
    page.wait_for_function("Number(document.getElementById('curves').dataset.points || 0) > 0", timeout=10_000)
    points_before = int(page.locator("#curves").get_attribute("data-points") or 0)

    start(store, live_run)  # the grid polls every 2 s: the status changes without a reload
    playwright_api.expect(badge).to_have_text("running", timeout=8_000)
    store.write_points(run_id=live_run, points=[("test_acc", 0, 0.8), ("test_acc", 1, 0.85)])
    page.wait_for_function(
        f"Number(document.getElementById('curves').dataset.points) > {points_before}", timeout=10_000
    )
    assert page.evaluate("window.__sameDocument") is True

    verdict = page.locator('[data-verdict="rblock_s"]')
    assert verdict.inner_text().startswith("inconclusive")
    page.fill("#roi-predictions_per_year", "10000000")
    page.fill("#roi-cost_per_error", "5")
    page.locator("#roi-cost_per_error").press("Tab")
    playwright_api.expect(page.locator('[data-verdict="rblock_s"]')).to_have_text("adopt", timeout=8_000)
    page.screenshot(path=str(SHOTS / "pilot.png"), full_page=True)

    page.goto(f"{base}/runs/{runs[('none', 0)]}")
    page.wait_for_selector("#run-curves .main-svg", timeout=10_000)
    page.screenshot(path=str(SHOTS / "run.png"), full_page=True)

    page.goto(f"{base}/workers")
    page.screenshot(path=str(SHOTS / "workers.png"), full_page=True)

    page.goto(f"{base}/pilots/new")
    playwright_api.expect(page.locator("#estimate")).to_contain_text("device-hours", timeout=8_000)
    page.fill("#f-training-epochs", "0")
    page.locator("#f-training-epochs").press("Tab")
    playwright_api.expect(page.locator("#err-training-epochs")).to_contain_text("from 1 to 10000", timeout=8_000)
    page.screenshot(path=str(SHOTS / "new_pilot.png"), full_page=True)
    page.close()

    phone = browser.new_page(viewport={"width": 390, "height": 844}, color_scheme="dark")
    phone.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    phone.goto(f"{base}/pilots/{pilot['id']}")
    phone.wait_for_selector("#curves .main-svg", timeout=10_000)
    phone.screenshot(path=str(SHOTS / "pilot_phone_dark.png"), full_page=True)
    phone.close()

    assert problems == []
