"""End to end in Chromium: the pages against a real uvicorn server, with runs driven through the store.

The worker is played by the test (claim, write points, finish through the store, as a worker does), so the
test needs no Celery; what it checks is the browser side: live grid and chart without a reload, the ROI
panel recomputing the verdict, no console errors, and a screenshot of every page (in a scratch folder).
The browser is signed in with the session cookie of ``POST /api/v1/auth/login``; the test's own HTTP calls
use the engineer's API token.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest

from backend.store import RunStatus, Store
from tests.support.api import pilot_body, start
from tests.support.browser import ENGINEER, Console, Site, add_session, wait_for_chart_points
from tests.support.chromium import CHROMIUM

playwright_api = pytest.importorskip("playwright.sync_api")

# docs/screenshots/ come from the end-to-end browser test (tests/e2e/test_browser_pilot.py: a real pilot);
# these go to a scratch folder so that the two never overwrite each other.
SHOTS = Path(tempfile.gettempdir()) / "rblock-pilot-page-shots"

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed")


def _finish(store: Store, run_id: int, acc: float, hours: float) -> None:
    start(store, run_id)
    store.write_points(run_id=run_id, points=[("test_acc", e, acc - 0.1 + 0.05 * e) for e in range(3)])
    cost = {"device_hours": hours, "device_kind": "cpu", "device_name": "cpu", "samples_per_second": 1000.0}
    store.finish_run(run_id=run_id, status=RunStatus.SUCCEEDED, error=None, cost=cost, final_metrics={"test_acc": acc})


def test_pilot_pages_live_in_chromium(site: Site, chromium_browser: Any) -> None:
    base, store = site.url, site.store
    body = pilot_body(name="digits: <b>R-Block</b> vs none", seeds=3, training={"epochs": 3})
    created = site.api("POST", "/pilots", json=body)
    assert created.status_code == 201, created.text
    pilot = created.json()["pilot"]
    runs = {(run["arm"], run["seed"]): run["id"] for run in pilot["runs"]}
    for seed, (base_acc, rb_acc) in enumerate([(0.80, 0.90), (0.81, 0.92)]):
        _finish(store, runs[("none", seed)], base_acc, 0.1)
        _finish(store, runs[("rblock_s", seed)], rb_acc, 0.2)
    _finish(store, runs[("none", 2)], 0.805, 0.1)
    live_run = runs[("rblock_s", 2)]  # stays queued until the page is open

    SHOTS.mkdir(parents=True, exist_ok=True)
    console = Console()
    desktop = chromium_browser.new_context(viewport={"width": 1280, "height": 900})
    add_session(desktop, base, ENGINEER)
    page = console.watch(desktop.new_page())

    page.goto(f"{base}/")
    row = page.locator("table.pilots tbody tr").first
    assert "<b>R-Block</b>" in row.inner_text()  # escaped, shown as text
    assert row.locator(".badge").inner_text() == "running"
    page.screenshot(path=str(SHOTS / "pilots.png"), full_page=True)

    page.goto(f"{base}/pilots/{pilot['id']}")
    page.evaluate("window.__sameDocument = true")
    badge = page.locator(f'.badge[data-run="{live_run}"]')
    assert badge.inner_text() == "queued"
    points_before = wait_for_chart_points(page, "curves", more_than=0)

    start(store, live_run)  # the grid polls every 2 s: the status changes without a reload
    playwright_api.expect(badge).to_have_text("running", timeout=8_000)
    store.write_points(run_id=live_run, points=[("test_acc", 0, 0.8), ("test_acc", 1, 0.85)])
    wait_for_chart_points(page, "curves", more_than=points_before)
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

    page.goto(f"{base}/account")
    playwright_api.expect(page.locator("h1")).to_contain_text(ENGINEER)
    playwright_api.expect(page.locator("#tokens-h")).to_be_visible()
    page.screenshot(path=str(SHOTS / "account.png"), full_page=True)
    desktop.close()

    phone_context = chromium_browser.new_context(viewport={"width": 390, "height": 844}, color_scheme="dark")
    add_session(phone_context, base, ENGINEER)
    phone = console.watch(phone_context.new_page())
    phone.goto(f"{base}/pilots/{pilot['id']}")
    phone.wait_for_selector("#curves .main-svg", timeout=10_000)
    phone.screenshot(path=str(SHOTS / "pilot_phone_dark.png"), full_page=True)
    phone_context.close()

    assert console.errors() == []
    assert console.csp_violations() == []


def test_a_refresh_that_never_answers_does_not_stop_the_live_grid(site: Site, chromium_browser: Any) -> None:
    """A grid refresh whose answer is lost (a dropped connection, a restarted API process) is given up after
    its timeout (``hx-request`` on ``#runs``), and the next refresh shows the runs as they are. Without the
    timeout htmx queues every later refresh behind the lost one and the grid stays as it was for good."""
    created = site.api("POST", "/pilots", json=pilot_body(name="a lost refresh", seeds=1, training={"epochs": 3}))
    assert created.status_code == 201, created.text
    pilot = created.json()["pilot"]
    run_id = pilot["runs"][0]["id"]

    console = Console()
    context = chromium_browser.new_context(viewport={"width": 1280, "height": 900})
    add_session(context, site.url, ENGINEER)
    page = console.watch(context.new_page())
    lost: list[Any] = []

    def lose_the_first_refresh(route: Any) -> None:
        if lost:
            route.continue_()
        else:
            lost.append(route)  # never answered: the browser waits for it until its timeout

    page.route(f"**/pilots/{pilot['id']}/runs", lose_the_first_refresh)
    page.goto(f"{site.url}/pilots/{pilot['id']}")
    badge = page.locator(f'.badge[data-run="{run_id}"]')
    assert badge.inner_text() == "queued"
    page.wait_for_function("() => document.querySelector('#runs').classList.contains('htmx-request')")
    start(site.store, run_id)
    playwright_api.expect(badge).to_have_text("running", timeout=40_000)
    assert len(lost) == 1
    # The lost refresh is logged once, as htmx logs a timeout (the request ended, by its timeout); nothing else.
    events = [error.split(",")[0] for error in console.errors()]
    assert events == ["htmx:afterRequest", "htmx:timeout"], console.errors()
    context.close()
