"""Device-hours and cost of a pilot before anything is queued, so a budget can be checked up front.

Per run: samples = epochs × training images × passes of its arm (two for R-Drop and R-Block). Time =
samples / throughput. Throughput comes from history when there is any (the median samples/s of earlier
succeeded runs of the same model and dataset on the same kind of device), else from the reference table
below. Only training passes are counted: evaluation and start-up add a little on top.

The history holds each run's unique samples/s whatever its arm, and is used here as the rate of one
pass. For a two-pass arm that errs on the side of cost: its history entries are about half as fast.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from typing import Literal

from backend.catalog import Catalog, ResolvedPilot
from backend.schemas import ArmEstimate, Estimate

# Unique samples/s of a one-pass arm at 32×32 images and the model's default width. Rough figures: the
# CPU ones from a few cores (bench/training.py measured 700/s for small_cnn on 2 cores), the CUDA ones for
# a data-centre GPU with bfloat16. History replaces them as soon as runs have succeeded.
REFERENCE_SAMPLES_PER_S: dict[tuple[str, str], float] = {
    ("small_cnn", "cpu"): 1_500.0,
    ("resnet18", "cpu"): 60.0,
    ("small_cnn", "cuda"): 40_000.0,
    ("resnet18", "cuda"): 8_000.0,
}
REFERENCE_SIDE = 32
# Small images do not speed training up in proportion to their area: per-step overheads take over.
MAX_SPEEDUP = 8.0
DEVICE_KIND = {"gpu": "cuda", "cpu": "cpu"}


def train_size(catalog: Catalog, dataset: str, params: dict[str, object]) -> int | None:
    """Training images of a dataset with these parameters; None when only the files know (imagefolder)."""
    spec = catalog.datasets[dataset]
    size: object = spec.get("train_size")
    if spec.get("train_size_param"):
        size = params.get(spec["train_size_param"])
    if not isinstance(size, int):
        return None
    limit = params.get(spec["limit_param"]) if spec.get("limit_param") else None
    if isinstance(limit, int) and limit > 0:
        size = min(size, limit)
    return size


def image_side(catalog: Catalog, dataset: str, params: dict[str, object]) -> int:
    spec = catalog.datasets[dataset]
    side = params.get(spec["image_size_param"]) if spec.get("image_size_param") else spec.get("image_size")
    return side if isinstance(side, int) and side > 0 else REFERENCE_SIDE


def reference_throughput(
    catalog: Catalog, *, model: str, width: int | None, device_kind: str, side: int
) -> float | None:
    """Reference samples/s scaled by image area and width² (convolution cost), None for an unknown pair."""
    base = REFERENCE_SAMPLES_PER_S.get((model, device_kind))
    if base is None:
        return None
    default_width = catalog.models[model].get("params", {}).get("width", {}).get("default")
    area = (REFERENCE_SIDE / side) ** 2
    widths = (default_width / width) ** 2 if width and isinstance(default_width, int | float) else 1.0
    return base * min(area * widths, MAX_SPEEDUP)


def estimate_pilot(
    catalog: Catalog,
    *,
    resolved: ResolvedPilot,
    dataset: str,
    model: str,
    width: int | None,
    seeds: int,
    queue: str,
    history: Sequence[float],
    price_per_hour: float | None,
    budget_cap: float | None,
) -> Estimate:
    """The estimate of every arm and the total (see the module docstring for the basis)."""
    device_kind = DEVICE_KIND.get(queue, queue)
    notes: list[str] = []
    size = train_size(catalog, dataset, resolved.dataset_params)
    usable = [h for h in history if h > 0]
    throughput: float | None
    basis: Literal["history", "reference", "unknown"]
    if usable:
        basis = "history"
        throughput = statistics.median(usable)
        notes.append(f"throughput: median of {len(usable)} earlier run(s) of {model} on {dataset} ({device_kind})")
    else:
        basis = "reference"
        side = image_side(catalog, dataset, resolved.dataset_params)
        throughput = reference_throughput(catalog, model=model, width=width, device_kind=device_kind, side=side)
        if throughput is None:
            notes.append(f"no reference throughput for {model} on {device_kind}")
        else:
            notes.append(f"throughput: reference table, {model} on {device_kind} at {side}×{side} (no history yet)")
    if size is None:
        notes.append(f"the training-set size of {dataset} is known only from its files: no estimate before it runs")
    if throughput is None or size is None:
        basis = "unknown"
    if price_per_hour is None:
        notes.append(f"no price per hour for {device_kind}: set PRICE_PER_HOUR or roi.price_per_device_hour")
    epochs = int(resolved.training["epochs"])
    arms: list[ArmEstimate] = []
    for arm in resolved.arms:
        samples = epochs * size * arm.passes if size is not None else None
        rate = throughput  # one pass of one sample, whatever the arm
        hours = _finite(seeds * samples / rate / 3600.0) if samples is not None and rate else None
        arms.append(
            ArmEstimate(
                arm=arm.name,
                regularizer=arm.regularizer,
                passes=arm.passes,
                runs=seeds,
                samples_per_run=samples,
                samples_per_second=rate,
                device_hours=hours,
                cost=_finite(hours * price_per_hour) if hours is not None and price_per_hour is not None else None,
            )
        )
    known = all(a.device_hours is not None for a in arms)
    total_hours = _finite(sum(a.device_hours or 0.0 for a in arms)) if known else None
    return Estimate(
        basis=basis,
        device_kind=device_kind,
        history_runs=len(usable),
        price_per_device_hour=price_per_hour,
        runs=seeds * len(arms),
        device_hours=total_hours,
        cost=_finite(total_hours * price_per_hour) if total_hours is not None and price_per_hour is not None else None,
        budget_cap=budget_cap,
        arms=arms,
        notes=notes,
    )


def _finite(value: float) -> float | None:
    """JSON cannot carry an infinite estimate (absurd inputs); report it as unknown instead."""
    return value if math.isfinite(value) else None
