"""Benchmark: metric points per second written through our store against MLflow's SQLAlchemy store.

Not a test. In one process, on the same kind of SQLite file (a fresh one per repetition), each side writes
35 runs x 200 epochs x 12 keys = 84,000 points in calls of 1,000 points (MLflow's ``log_batch``, as in its
own batching), then writes every batch a second time and counts the rows, to show that a retried write
duplicates nothing (our store upserts on (run, key, epoch)). Also our store at 12 points a call, the
worker's real pattern (one call per epoch). Goal: >= 10x MLflow's points/s.

Run: ``.venv/bin/pip install -e '.[bench]'`` once (mlflow-skinny), then ``.venv/bin/python bench/ingest.py``.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from backend.store import ArmInput, RunInput, Store

RUNS, EPOCHS, KEYS, BATCH = 35, 200, 12, 1000


def _points() -> list[tuple[str, int, float]]:
    return [(f"metric_{k}", epoch, 0.5 + 1e-3 * epoch + k) for epoch in range(EPOCHS) for k in range(KEYS)]


def ours(folder: Path, per_call: int) -> tuple[float, int, int]:
    store = Store(f"sqlite:///{folder}/pilot.db")
    store.upgrade()
    pilot = store.create_pilot(
        name="bench", description="", dataset="digits", dataset_params={}, model="small_cnn", width=None,
        training={}, seeds=list(range(RUNS)), baseline_arm="none", roi={}, budget_cap=None, queue="cpu",
        created_by=None, arms=[ArmInput("none", "none")],
        runs=[RunInput("none", seed, {}, EPOCHS) for seed in range(RUNS)],
    )  # fmt: skip
    run_ids = [run.id for run in store.list_runs(pilot_id=pilot.id)]
    points = _points()
    start = time.perf_counter()
    for run_id in run_ids:
        for i in range(0, len(points), per_call):
            store.write_points(run_id=run_id, points=points[i : i + per_call])
    seconds = time.perf_counter() - start
    for run_id in run_ids:  # a retried write of everything
        for i in range(0, len(points), per_call):
            store.write_points(run_id=run_id, points=points[i : i + per_call])
    stored = len(store.get_points(run_ids=run_ids))
    store.dispose()
    return RUNS * len(points) / seconds, stored, RUNS * len(points)


def mlflow(folder: Path) -> tuple[float, int, int]:
    from mlflow.entities import Metric
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    store = SqlAlchemyStore(f"sqlite:///{folder}/mlflow.db", str(folder / "artifacts"))
    experiment = store.create_experiment("bench")
    run_ids = [store.create_run(experiment, "bench", 0, [], f"run{i}").info.run_id for i in range(RUNS)]
    metrics = [Metric(key, value, 1_700_000_000_000 + epoch, epoch) for key, epoch, value in _points()]
    start = time.perf_counter()
    for run_id in run_ids:
        for i in range(0, len(metrics), BATCH):
            store.log_batch(run_id, metrics=metrics[i : i + BATCH], params=[], tags=[])
    seconds = time.perf_counter() - start
    for run_id in run_ids:
        for i in range(0, len(metrics), BATCH):
            store.log_batch(run_id, metrics=metrics[i : i + BATCH], params=[], tags=[])
    stored = sum(len(store.get_metric_history(run_id, f"metric_{k}")) for run_id in run_ids for k in range(KEYS))
    store.engine.dispose()
    return RUNS * len(metrics) / seconds, stored, RUNS * len(metrics)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    rates: dict[str, list[float]] = {"ours, 1000/call": [], "ours, 12/call": [], "mlflow log_batch, 1000/call": []}
    rows: dict[str, tuple[int, int]] = {}
    for _ in range(args.reps):  # interleaved, so that a slow spell of the machine hits both sides
        with tempfile.TemporaryDirectory() as tmp:
            rate, stored, written = ours(Path(tmp), BATCH)
            rates["ours, 1000/call"].append(rate)
            rows["ours, 1000/call"] = (stored, written)
        with tempfile.TemporaryDirectory() as tmp:
            rate, stored, written = mlflow(Path(tmp))
            rates["mlflow log_batch, 1000/call"].append(rate)
            rows["mlflow log_batch, 1000/call"] = (stored, written)
        with tempfile.TemporaryDirectory() as tmp:
            rate, stored, written = ours(Path(tmp), KEYS)
            rates["ours, 12/call"].append(rate)
            rows["ours, 12/call"] = (stored, written)
    baseline = statistics.median(rates["mlflow log_batch, 1000/call"])
    print(f"# bench/ingest.py: {RUNS} runs x {EPOCHS} epochs x {KEYS} keys = {RUNS * EPOCHS * KEYS} points, SQLite")
    print(f"# median of {args.reps} interleaved repetitions; each batch written twice (the 2nd is a retry)\n")
    for name, values in rates.items():
        stored, written = rows[name]
        rate = statistics.median(values)
        print(
            f"  {name:30s} {rate:9.0f} points/s   {rate / baseline:5.1f}x MLflow   "
            f"rows after writing every point twice: {stored} (of {written} distinct)"
        )


if __name__ == "__main__":
    main()
