"""Benchmark: the API's cost estimate before queueing against the measured cost of the same runs.

Not a test. For a fresh pilot of each built-in dataset (digits and shapes with small_cnn, the catalog's
default epochs and sizes, arms none, dropblock and rblock_s, one seed), it asks ``backend.estimate`` what a
dry run would (no history: the reference table), trains each run with the real training loop
(``rblock.train.train_run`` on the CPU) and prints per dataset × arm:

    estimate device-hours | measured device-hours (robust: median epoch × epochs) | estimate / measured

Goal: every ratio in 0.67 - 1.5. ``--measure-epochs N`` trains N epochs per run instead of the catalog's and
scales to the catalog's epochs by the cost rule itself (median epoch × epochs): every epoch does the same
work, and the drop-rate ramp spans the run whatever its length. Beside it, the figures the robust cost sits
next to: wall hours of the whole run, the plain sum of the epochs' step times, process CPU seconds, and the
estimated and measured evaluation (test set each epoch, stability metrics at the end) that the runs spend on
top of their steps.

The machine may be shared: the measured figure is the robust one (the median epoch), not wall time.

Run: ``PYTHONPATH=$PWD .venv/bin/python bench/estimate_check.py`` (``--quick``: 2 epochs, a smoke run;
``--save FILE`` keeps the measurements, ``--load FILE`` prints the table again from them without training,
e.g. after retuning the reference table). On a machine other processes load for the whole run, no wall-time
figure is fair (two OpenMP threads that wait for each other slow down many times over); ``--threads 1``
with ``--quiet-speedup S`` measures CPU seconds of one thread instead, which load does not inflate, and
divides them by two threads' speed-up S on a quiet machine.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import time
from pathlib import Path
from typing import Any

import torch

from backend.catalog import Catalog, get_catalog
from backend.estimate import estimate_pilot
from backend.schemas import Estimate, PilotCreate
from backend.submission import run_config
from rblock.config import TrainConfig
from rblock.train import train_run

DATASETS = ("digits", "shapes")
ARMS = ("none", "dropblock", "rblock_s")
SEED = 1


def _request(dataset: str) -> PilotCreate:
    arms = [{"regularizer": arm} for arm in ARMS]
    return PilotCreate.model_validate(
        {"name": f"estimate-{dataset}", "dataset": dataset, "model": "small_cnn", "arms": arms, "seeds": [SEED]}
    )


def _estimate(catalog: Catalog, request: PilotCreate) -> Estimate:
    return estimate_pilot(
        catalog,
        resolved=catalog.validate(request),
        dataset=request.dataset,
        model=request.model,
        width=request.width,
        seeds=1,
        queue="cpu",
        history=[],
        price_per_hour=None,
        budget_cap=None,
    )


def _measure(catalog: Catalog, request: PilotCreate, arm_index: int, epochs: int | None) -> dict[str, Any]:
    resolved = catalog.validate(request)
    arm = resolved.arms[arm_index]
    values = run_config(request, resolved, arm, SEED)
    config = TrainConfig.from_dict({**values, "device": "cpu", "epochs": epochs or values["epochs"]})
    stamps: list[float] = []
    start = time.perf_counter()
    result = train_run(config, on_epoch=lambda epoch, metrics: stamps.append(time.perf_counter()))
    # What a run spends between two epochs' steps (evaluation, checkpoint-free here): the interval between
    # on_epoch calls less the epoch's step time; the median over the middle epochs, and the last epoch's
    # extra (the stability metrics) on top of it.
    steps = [h["epoch_seconds"] for h in result.history]
    gaps = [b - a - s for a, b, s in zip([start, *stamps[:-1]], stamps, steps, strict=True)]
    eval_epoch = statistics.median(gaps[1:-1]) if len(gaps) > 2 else gaps[-1]
    return {
        "arm": arm.name,
        "catalog_epochs": int(resolved.training["epochs"]),
        "cost": result.cost,
        "eval_seconds_per_epoch": eval_epoch,
        "stability_seconds": max(0.0, gaps[-1] - eval_epoch),
        "test_acc": result.final_test_acc,
        "epoch_seconds": steps,
        "os_load": os.getloadavg()[0],
    }


def _measured_hours(run: dict[str, Any], quiet_speedup: float | None) -> float:
    """The run's measure at the catalog's epochs: robust device time, or CPU seconds / the quiet speed-up."""
    cost = run["cost"]
    scale = float(run["catalog_epochs"]) / float(cost["epochs_timed"])  # 1 unless --measure-epochs
    if quiet_speedup:
        return float(cost["cpu_seconds"]) * scale / quiet_speedup / 3600
    return float(cost["device_hours"]) * scale


def _table(catalog: Catalog, measured: dict[str, list[dict[str, Any]]], quiet_speedup: float | None) -> None:
    if quiet_speedup:
        print(f"# measured = CPU seconds of the steps / {quiet_speedup} (quiet-machine equivalent, --quiet-speedup)")
    else:
        print("# measured = the runs' robust device time (median epoch x epochs)")
    print("# wall h, sum steps h and meas eval h are wall-clock figures: the machine's load is in them")
    header = (
        f"{'dataset':8} {'arm':10} {'estimate h':>10} {'measured h':>10} {'ratio':>6} | {'wall h':>8} "
        f"{'sum steps h':>11} {'cpu s':>7} {'est eval h':>10} {'meas eval h':>11}"
    )
    print(header)
    print("-" * len(header))
    factors = []
    for dataset, runs in measured.items():
        estimate = _estimate(catalog, _request(dataset))
        base = _measured_hours(runs[0], quiet_speedup)
        for arm_estimate, run in zip(estimate.arms, runs, strict=True):
            cost = run["cost"]
            scale = run["catalog_epochs"] / cost["epochs_timed"]
            hours = _measured_hours(run, quiet_speedup)
            guess = arm_estimate.device_hours or math.nan
            eval_h = (run["eval_seconds_per_epoch"] * run["catalog_epochs"] + run["stability_seconds"]) / 3600
            print(
                f"{dataset:8} {run['arm']:10} {guess:10.5f} {hours:10.5f} {guess / hours:6.2f} | "
                f"{cost['wall_hours'] * scale:8.5f} {cost['train_seconds'] * scale / 3600:11.5f} "
                f"{cost.get('cpu_seconds', 0) * scale:7.1f} {arm_estimate.eval_hours or math.nan:10.5f} {eval_h:11.5f}"
            )
            if run is not runs[0]:
                factors.append(f"{dataset} {run['arm']} {hours / base:.2f}")
    print(f"\nstep factors against none, same measure: {', '.join(factors)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 epochs: a smoke run, not a measurement")
    parser.add_argument("--measure-epochs", type=int, default=None, help="epochs per measured run (default: catalog)")
    parser.add_argument(
        "--quiet-speedup", type=float, default=None,
        help="with --threads 1 on a loaded machine: take CPU seconds / this as the measure (two threads' speed-up "
        "over one on a quiet machine)",
    )  # fmt: skip
    parser.add_argument("--datasets", default=",".join(DATASETS), help="comma-separated, of digits and shapes")
    parser.add_argument(
        "--threads", type=int, default=None,
        help="torch CPU threads (default: torch's, as a worker trains); 1 makes the CPU seconds a load-proof figure",
    )  # fmt: skip
    parser.add_argument("--save", type=Path, help="write the measurements here (JSON)")
    parser.add_argument("--load", type=Path, help="print the table from saved measurements, without training")
    args = parser.parse_args()
    catalog = get_catalog()
    epochs = 2 if args.quick else args.measure_epochs
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.load:
        saved = json.loads(args.load.read_text())
        measured = saved["measured"]
        print(f"# measurements loaded from {args.load} ({saved['machine']})")
    else:
        machine = (
            f"{platform.machine()}, {os.cpu_count()} cores, {torch.get_num_threads()} torch threads, torch "
            f"{torch.__version__}, os load {os.getloadavg()}"
        )
        print(f"# bench/estimate_check.py on {machine}")
        measured = {}
        for dataset in args.datasets.split(","):
            request = _request(dataset)
            measured[dataset] = []
            for index in range(len(ARMS)):
                run = _measure(catalog, request, index, epochs)
                cost, load = run["cost"], os.getloadavg()[0]
                print(f"#   {dataset} {run['arm']}: {cost['device_seconds']:.1f} s robust, {cost['wall_seconds']:.1f} "
                      f"s wall, {cost['cpu_seconds']:.1f} s CPU, os load {load:.1f}", flush=True)  # fmt: skip
                measured[dataset].append(run)
        if args.save:
            args.save.parent.mkdir(parents=True, exist_ok=True)
            args.save.write_text(json.dumps({"machine": machine, "measured": measured}, indent=1))
    _table(catalog, measured, args.quiet_speedup)


if __name__ == "__main__":
    main()
