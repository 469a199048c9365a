"""Benchmark: server render time of the pages and the pilot page's chart draw time in Chromium.

Not a test. Through the real app (``pilot_cli.webapp.create_app``: API + pages) served by uvicorn on a free
local port, on SQLite:

- a pilot of 35 runs (5 arms x 7 seeds, every run succeeded) x 200 epochs x 12 keys (84,000 points):
  ``GET /pilots/{id}`` (the page, with the grid and the comparison) beside the JSON the page's chart asks
  for (``GET /api/v1/pilots/{id}/metrics?format=columns&keys=test_acc``) and ``GET /api/v1/health``;
- 1,000 pilots of 4 runs each: ``GET /`` (the pilots page, 50 a page) beside ``GET /api/v1/pilots``;

p50 / p95 over 30 requests each, after one warm-up. Then Chromium (Debian's /usr/bin/chromium through
Playwright) opens the pilot page 10 times, each in a fresh browser context (nothing cached: plotly.js is
fetched and compiled each time, as on a first visit): from the navigation's start to the chart painted
with all its points. charts.js sets ``#curves[data-points]`` once ``Plotly.react`` has drawn them into
``#curves .main-svg``; the page's own clock reads the time at the start of the next animation frame, after
that frame's paint (``DRAWN``). Beside it, ``seen by the driver``: when this script, after its wait
returned, read the page's clock (what the first version reported; it adds the round trips to a driver that
shares this process, and the GIL, with the server). Each page is closed once its network is idle (the
comparison figures it asks for after the chart), so that a load does not wait on the previous one's
requests. Goals: pages < 150 ms server time, charts < 1 s.

With sign-in (issue 7) the requests carry an admin's session cookie, made through the store.

Run: ``.venv/bin/python bench/pages.py``.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from serving import NoQueue, serve

from backend.settings import Settings
from backend.store import ArmInput, RunInput, RunStatus, Store
from pilot_cli.webapp import create_app, freeze_startup_objects

ARMS = ["none", "rblock_s", "rblock_b", "rdrop", "dropblock"]
SEEDS, EPOCHS, PILOTS, REQUESTS, LOADS = 7, 200, 1000, 30, 10
KEYS = [
    "train_loss", "train_acc", "test_loss", "test_acc", "lr", "drop_rate", "epoch_seconds",
    "samples_per_second", "consistency_kl", "ece", "nll", "inconsistency_kl",
]  # fmt: skip
CHROMIUM = "/usr/bin/chromium"
# Polled by Chromium at each animation frame. A function, not an expression: the pages' CSP has no
# 'unsafe-eval', and Playwright polls a string expression through eval. The first frame that finds the
# chart drawn asks for one more: its start, after the paint of the chart, is the time returned.
DRAWN = """() => {
  const el = document.getElementById("curves");
  if (!window.__drawnAt && el && el.querySelector(".main-svg") && Number(el.dataset.points || 0) > 0) {
    window.__drawnAt = performance.now();
    requestAnimationFrame(() => { window.__paintedAt = performance.now(); });
  }
  return window.__paintedAt || false;
}"""


def _pilot(store: Store, name: str, arms: list[str], seeds: int, epochs: int) -> int:
    pilot = store.create_pilot(
        name=name, description="", dataset="digits", dataset_params={}, model="small_cnn", width=None,
        training={"epochs": epochs}, seeds=list(range(seeds)), baseline_arm="none", roi={}, budget_cap=None,
        queue="cpu", created_by=None, arms=[ArmInput(arm, arm) for arm in arms],
        runs=[RunInput(arm, seed, {}, epochs) for arm in arms for seed in range(seeds)],
    )  # fmt: skip
    return pilot.id


def _fill_big_pilot(store: Store) -> int:
    pilot_id = _pilot(store, "bench: 35 runs x 200 epochs", ARMS, SEEDS, EPOCHS)
    for n, run in enumerate(store.list_runs(pilot_id=pilot_id)):
        store.claim_run(run_id=run.id, worker_host="bench", device="cpu", stale_after_s=60.0)
        acc = 0.90 + 0.002 * (n % 7) + 0.01 * (n // 7)
        points = [(key, e, acc * e / EPOCHS + 1e-3 * k) for e in range(1, EPOCHS + 1) for k, key in enumerate(KEYS)]
        store.write_points(run_id=run.id, points=points)
        cost = {"device_hours": 0.5, "device_kind": "cpu", "device_name": "cpu", "samples_per_second": 1000.0}
        store.finish_run(
            run_id=run.id, status=RunStatus.SUCCEEDED, cost=cost, final_metrics={"test_acc": acc, "ece": 0.02}
        )
    return pilot_id


def _fill_many_pilots(store: Store) -> None:
    for i in range(PILOTS - 1):
        _pilot(store, f"bench pilot {i}", ["none", "rblock_s"], 2, 10)


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def _time(client: httpx.Client, label: str, url: str, goal: str = "") -> None:
    client.get(url).raise_for_status()  # warm-up
    samples = []
    for _ in range(REQUESTS):
        start = time.perf_counter()
        response = client.get(url)
        samples.append(1000 * (time.perf_counter() - start))
        response.raise_for_status()
    p50, p95 = _percentiles(samples)
    size = len(response.content) / 1e3
    print(f"  {label:58s} p50 {p50:6.1f} ms   p95 {p95:6.1f} ms   {size:7.1f} kB {goal}")


def _session(store: Store) -> dict[str, str]:
    """An admin's session cookie where the app has sign-in (issue 7); none where it has not."""
    try:
        from backend.auth.accounts import create_user, open_session
        from backend.auth.guard import SESSION_COOKIE
    except ImportError:
        return {}
    user, _ = create_user(store, name="bench", role="admin", password="bench-password-0123456789")
    session_id, _ = open_session(store, user=user, lifetime=timedelta(hours=2))
    return {SESSION_COOKIE: session_id}


def _chart_times(base: str, pilot_id: int, cookies: dict[str, str]) -> tuple[list[float], list[float]] | str:
    """(painted, seen by the driver) in ms from the navigation's start, per load."""
    if not Path(CHROMIUM).exists():
        return "Debian's chromium is not installed"
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return "playwright is not installed"
    painted, seen = [], []
    state: Any = {"cookies": [{"name": k, "value": v, "url": base} for k, v in cookies.items()], "origins": []}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"], headless=True)
        try:
            for _ in range(LOADS + 1):
                page = browser.new_page(viewport={"width": 1280, "height": 900}, storage_state=state)
                page.goto(f"{base}/pilots/{pilot_id}", wait_until="commit")
                drawn = page.wait_for_function(DRAWN, timeout=30_000, polling="raf")
                seen.append(float(page.evaluate("() => performance.now()")))
                painted.append(float(drawn.json_value()))
                page.wait_for_load_state("networkidle", timeout=30_000)
                page.close()
        finally:
            browser.close()
    return painted[1:], seen[1:]  # the first load warms Chromium and the server's code paths


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(database_url=f"sqlite:///{tmp}/pilot.db", broker_url=f"sqla+sqlite:///{tmp}/broker.db")
        store = Store(settings.database_url)
        store.upgrade()
        started = time.perf_counter()
        pilot_id = _fill_big_pilot(store)
        _fill_many_pilots(store)
        fill_s = time.perf_counter() - started
        app = create_app(settings, store=store, queue=NoQueue())
        freeze_startup_objects()  # as `rblock-pilot up` and `api` do (pilot_cli.webapp.serve_app)
        with serve(app) as port:
            base = f"http://127.0.0.1:{port}"
            points = len(ARMS) * SEEDS * EPOCHS * len(KEYS)
            print(f"# bench/pages.py: SQLite, uvicorn on 127.0.0.1:{port}, {REQUESTS} requests each after a warm-up")
            print(
                f"# pilot {pilot_id}: {len(ARMS) * SEEDS} runs x {EPOCHS} epochs x {len(KEYS)} keys = {points} points;"
            )
            print(f"# {PILOTS} pilots in all (written in {fill_s:.0f} s)\n")
            cookies = _session(store)
            with httpx.Client(base_url=base, timeout=30, cookies=cookies) as client:
                _time(client, "baseline: GET /api/v1/health", "/api/v1/health")
                _time(
                    client,
                    f"GET /pilots/{pilot_id} (pilot page, 35 runs, comparison)",
                    f"/pilots/{pilot_id}",
                    "(goal < 150 ms)",
                )
                _time(client, f"  its grid fragment GET /pilots/{pilot_id}/runs", f"/pilots/{pilot_id}/runs")
                _time(client, f"  baseline: GET /api/v1/pilots/{pilot_id} (JSON)", f"/api/v1/pilots/{pilot_id}")
                chart = f"/api/v1/pilots/{pilot_id}/metrics?format=columns&keys=test_acc&max_points=1500"
                _time(client, "  the chart's metrics request (7,000 points)", chart)
                _time(client, f"GET / (pilots page, {PILOTS} pilots, 50 a page)", "/", "(goal < 150 ms)")
                _time(client, "  baseline: GET /api/v1/pilots (JSON)", "/api/v1/pilots")
            charts = _chart_times(base, pilot_id, cookies)
            if isinstance(charts, str):
                print(f"\n  Chromium: skipped ({charts})")
            else:
                painted, seen = charts
                print(f"\n  Chromium: navigation -> pilot chart painted (7,000 points), {len(painted)} loads:")
                for label, times, goal in (("painted", painted, "(goal < 1,000 ms)"), ("seen by the driver", seen, "")):
                    p50, p95 = _percentiles(times)
                    print(f"    {label:20s} p50 {p50:5.0f} ms   p95 {p95:5.0f} ms   max {max(times):5.0f} ms {goal}")
                print(f"    painted, each load: {', '.join(f'{t:.0f}' for t in painted)} ms")
        store.dispose()


if __name__ == "__main__":
    main()
