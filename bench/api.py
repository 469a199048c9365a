"""Benchmark: latency of the whole-pilot metrics endpoint through the real app (uvicorn + HTTP) on SQLite.

Not a test. A pilot of 35 runs x 200 epochs x 12 keys (84,000 points) is written through the store; then
50 requests of ``GET /api/v1/pilots/{id}/metrics`` go over HTTP to the app served by uvicorn on a free
local port, for each body layout (``format=rows``: a list of point objects; ``format=columns``: the same
long-format table by column, what the dashboard reads). Prints p50 and p95 beside the baseline of the
same run: reading the same histories through MLflow's store (``get_metric_history`` per run and key), as
MLflow's own server would. Goal: p95 < 100 ms.

Run: ``.venv/bin/python bench/api.py``.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import httpx
from serving import NoQueue, serve

from backend.app import create_app
from backend.settings import Settings
from backend.store import ArmInput, RunInput, Store

RUNS, EPOCHS, KEYS, REQUESTS = 35, 200, 12, 50


def _fill(store: Store) -> int:
    keys = [f"metric_{k}" for k in range(KEYS)]
    pilot = store.create_pilot(
        name="bench", description="", dataset="digits", dataset_params={}, model="small_cnn", width=None,
        training={}, seeds=list(range(RUNS)), baseline_arm="none", roi={}, budget_cap=None, queue="cpu",
        created_by=None, arms=[ArmInput("none", "none")],
        runs=[RunInput("none", seed, {}, EPOCHS) for seed in range(RUNS)],
    )  # fmt: skip
    for run in store.list_runs(pilot_id=pilot.id):
        for epoch in range(1, EPOCHS + 1):  # one call per epoch, as a worker writes them
            store.write_points(run_id=run.id, points=[(k, epoch, 0.5 + 1e-3 * epoch + i) for i, k in enumerate(keys)])
    return pilot.id


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def _mlflow_read_ms(folder: Path) -> float | None:
    try:
        from mlflow.entities import Metric
        from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore
    except ImportError:
        return None
    store = SqlAlchemyStore(f"sqlite:///{folder}/mlflow.db", str(folder / "artifacts"))
    experiment = store.create_experiment("bench")
    run_ids = [store.create_run(experiment, "bench", 0, [], f"r{i}").info.run_id for i in range(RUNS)]
    metrics = [
        Metric(f"metric_{k}", 0.5 + 1e-3 * e + k, 1_700_000_000_000 + e, e) for e in range(EPOCHS) for k in range(KEYS)
    ]
    for run_id in run_ids:
        for i in range(0, len(metrics), 1000):
            store.log_batch(run_id, metrics=metrics[i : i + 1000], params=[], tags=[])
    times = []
    for _ in range(5):
        start = time.perf_counter()
        for run_id in run_ids:
            for k in range(KEYS):
                store.get_metric_history(run_id, f"metric_{k}")
        times.append(time.perf_counter() - start)
    store.engine.dispose()
    return 1000 * statistics.median(times)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(database_url=f"sqlite:///{tmp}/pilot.db", broker_url=f"sqla+sqlite:///{tmp}/broker.db")
        store = Store(settings.database_url)
        store.upgrade()
        pilot_id = _fill(store)
        with serve(create_app(settings, store=store, queue=NoQueue())) as port:
            print(
                f"# bench/api.py: {RUNS} runs x {EPOCHS} epochs x {KEYS} keys = {RUNS * EPOCHS * KEYS} points, SQLite,"
            )
            print(f"# {REQUESTS} requests per layout over HTTP to uvicorn on 127.0.0.1:{port}\n")
            url = f"http://127.0.0.1:{port}/api/v1/pilots/{pilot_id}/metrics"
            with httpx.Client(timeout=30) as client:
                for layout in ("columns", "rows"):
                    client.get(url, params={"format": layout}).raise_for_status()  # warm-up
                    samples = []
                    for _ in range(REQUESTS):
                        start = time.perf_counter()
                        response = client.get(url, params={"format": layout})
                        samples.append(1000 * (time.perf_counter() - start))
                        response.raise_for_status()
                    p50, p95 = _percentiles(samples)
                    size = len(response.content) / 1e6
                    print(
                        f"  format={layout:8s} p50 {p50:6.1f} ms   p95 {p95:6.1f} ms   "
                        f"body {size:.1f} MB (goal p95 < 100 ms)"
                    )
        store.dispose()
        mlflow_ms = _mlflow_read_ms(Path(tmp))
        if mlflow_ms is None:
            print("  MLflow not installed (pip install -e '.[bench]'): no baseline")
        else:
            print(
                f"  baseline: MLflow store, get_metric_history of the same 420 series: {mlflow_ms:.0f} ms (median of 5)"
            )


if __name__ == "__main__":
    main()
