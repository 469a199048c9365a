"""Benchmark: seconds for a pilot's PDF report (issue 13 §3), against the old path in the same run.

Not a test. A pilot of realistic size on SQLite, written directly to the store as bench/pages.py does:
5 arms x 5 seeds x 50 epochs x 12 metrics (15,000 points), every run succeeded, ROI inputs set, and one
decision. ``export_report`` (what ``GET /api/v1/pilots/{id}/report.pdf`` and ``rblock-pilot report`` call)
is timed end to end: the summary, the charts, the layout (WeasyPrint), the cache.

- the very first report.pdf in a process: kaleido's Chromium started, modules loaded on first use;
- the first report.pdf after a change (a new test_acc point, each time): cache cold for that version, browser
  warm; the charts the change left as they were come from those kept (here: all but the accuracy curves);
- the same after a change to every chart (the kept charts dropped first): the worst case;
- a repeated report.pdf: the same version again, from the cache;
- baseline, the old path: ``plotly.io.to_image`` per chart (one kaleido Chromium per chart, one after
  another), nothing cached, no chart kept. Goals: first after a change <= 3 s, repeated <= 0.3 s.

Run: ``.venv/bin/python bench/reports.py``.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from backend.analysis.service import analyse_pilot
from backend.figures import build_figure
from backend.reports import render
from backend.reports.cache import REPORTS
from backend.reports.charts import RENDERER
from backend.reports.export import export_report
from backend.store import ArmInput, RunInput, RunStatus, Store
from pilot_spec.analysis import PilotAnalysis
from pilot_spec.money import DEFAULT_CURRENCY, Currency

ARMS = ["none", "rblock_s", "rblock_b", "rdrop", "dropblock"]
SEEDS, EPOCHS = 5, 50
KEYS = [
    "train_loss", "train_acc", "test_loss", "test_acc", "lr", "drop_rate", "epoch_seconds",
    "samples_per_second", "consistency_kl", "ece", "nll", "inconsistency_kl",
]  # fmt: skip
PRICES = {"cpu": 2.0, "cuda": 3.0}
CHANGES, REPEATS, BASELINES = 5, 20, 2


def _fill(store: Store) -> tuple[int, int]:
    """The pilot; returns (pilot id, a run id to add points to)."""
    pilot = store.create_pilot(
        name="bench: 25 runs x 50 epochs", description="", dataset="digits", dataset_params={}, model="small_cnn",
        width=None, training={"epochs": EPOCHS}, seeds=list(range(SEEDS)), baseline_arm="none",
        roi={"predictions_per_year": 2e6, "cost_per_error": 0.3, "retrains_per_year": 12}, budget_cap=None,
        queue="cpu", created_by=None, arms=[ArmInput(arm, arm) for arm in ARMS],
        runs=[RunInput(arm, seed, {}, EPOCHS) for arm in ARMS for seed in range(SEEDS)],
    )  # fmt: skip
    runs = store.list_runs(pilot_id=pilot.id)
    for n, run in enumerate(runs):
        store.claim_run(run_id=run.id, worker_host="bench", device="cpu", stale_after_s=60.0)
        acc = 0.90 + 0.002 * (n % SEEDS) + 0.004 * (n // SEEDS)
        points = [(key, e, acc * e / EPOCHS + 1e-3 * k) for e in range(1, EPOCHS + 1) for k, key in enumerate(KEYS)]
        store.write_points(run_id=run.id, points=points)
        cost = {"device_hours": 0.05 * (1 + n // SEEDS), "device_kind": "cpu", "device_name": "cpu"}
        metrics = {"test_acc": acc, "ece": 0.02, "nll": 0.3}
        store.finish_run(run_id=run.id, status=RunStatus.SUCCEEDED, cost=cost, final_metrics=metrics)
    store.decisions.record(
        pilot_id=pilot.id, decision="defer", arm="rblock_s", note="bench", decided_by="bench", provisional=False,
        summary={},
    )  # fmt: skip
    return pilot.id, runs[0].id


def _old_chart_images(summary: PilotAnalysis, currency: Currency = DEFAULT_CURRENCY) -> list[tuple[str, bytes]]:
    """The charts as the old path drew them: ``to_image`` per chart, a Chromium each, one after another."""
    import plotly.io as pio

    out = []
    for name in render.REPORT_FIGURES:
        fig = build_figure(name, summary, currency=currency)
        fig.update_layout(width=render.CHART_WIDTH, height=render.CHART_HEIGHT)
        png = pio.to_image(fig, format="png", scale=render.CHART_SCALE)
        out.append((name, png))
    return out


@contextmanager
def _old_path() -> Iterator[None]:
    """The report as before issue 13 §3: the old chart drawing, and no cache (cleared before each report)."""
    new = render.chart_images
    render.chart_images = _old_chart_images
    try:
        yield
    finally:
        render.chart_images = new


def _seconds(make: Callable[[], Any]) -> float:
    start = time.perf_counter()
    make()
    return time.perf_counter() - start


def _line(label: str, samples: list[float], goal: str = "") -> None:
    ordered = sorted(samples)
    print(
        f"  {label:52s} median {statistics.median(ordered):6.2f} s   max {ordered[-1]:6.2f} s"
        f"   (n={len(ordered)}) {goal}"
    )


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(f"sqlite:///{tmp}/pilot.db")
        store.upgrade()
        pilot_id, run_id = _fill(store)

        def pdf() -> bytes:
            return export_report(store, pilot_id, "pdf", PRICES).content

        load = os.getloadavg()
        print(f"# bench/reports.py: SQLite, {len(ARMS)} arms x {SEEDS} seeds x {EPOCHS} epochs x {len(KEYS)} metrics")
        print(f"# {os.cpu_count()} CPUs, load average at start {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}\n")
        first = _seconds(pdf)
        size = len(pdf())
        print(f"  very first report.pdf in the process (Chromium start)  {first:6.2f} s   ({size / 1e3:.0f} kB)")

        after_change, every_chart, summaries, charts = [], [], [], []
        drawn = RENDERER.drawn
        for epoch in range(EPOCHS + 1, EPOCHS + 1 + CHANGES):
            store.write_points(run_id=run_id, points=[("test_acc", epoch, 0.95)])
            after_change.append(_seconds(pdf))
        per_change = (RENDERER.drawn - drawn) / CHANGES
        for epoch in range(EPOCHS + 1 + CHANGES, EPOCHS + 1 + 2 * CHANGES):
            store.write_points(run_id=run_id, points=[("test_acc", epoch, 0.95)])
            RENDERER.forget()
            every_chart.append(_seconds(pdf))
            summary = analyse_pilot(store, pilot_id, PRICES, render.REPORT_CURVES)
            summaries.append(_seconds(lambda: analyse_pilot(store, pilot_id, PRICES, render.REPORT_CURVES)))
            RENDERER.forget()
            charts.append(_seconds(lambda: render.chart_images(summary)))  # noqa: B023 - called at once
        _line(f"first report.pdf after a change ({per_change:.0f} chart drawn)", after_change, "(goal <= 3 s)")
        _line("first report.pdf after a change to every chart", every_chart, "(goal <= 3 s)")
        _line("  of which the summary (test_acc curves)", summaries)
        _line("  of which the four charts, built and drawn at once", charts)
        repeated = [_seconds(pdf) for _ in range(REPEATS)]
        _line("repeated report.pdf (cached)", repeated, "(goal <= 0.3 s)")

        baseline = []
        with _old_path():
            for _ in range(BASELINES):
                REPORTS.clear()
                RENDERER.forget()
                baseline.append(_seconds(pdf))
        _line("baseline: old path (a Chromium per chart, in turn)", baseline)
        print(f"\n  Chromium starts for the new path: {RENDERER.launches}")
        RENDERER.close()
        store.dispose()


if __name__ == "__main__":
    main()
