"""Device-hours and cost of a pilot before anything is queued, so a budget can be checked up front.

What is estimated is what the runs will record as their cost (``rblock.step_clock``): the device time of the
training steps. Per run: time = epochs × training images / the arm's unique samples per second. Beside it,
``eval_hours``: the evaluation the runs do on top of their steps (the test set every epoch, the stability
metrics' K sub-models at the end and every ``eval_every`` epochs), which holds a worker but is not part of a
run's cost. Budget checks use ``device_hours`` (what the pilot's recorded cost will add up to).

Throughput, per arm:
- History (succeeded runs of the same model and dataset on the same kind of device, ``Store.
  throughput_history``): the median samples/s of earlier runs of the same regularizer; for a regularizer
  with no runs yet, the history of the others converted through the step factors below (the machine's
  speed comes from history, the arm's extra work from the table).
- Else the reference table: the baseline's (``none``) samples/s at 32×32 and the model's default width,
  scaled by image area and width², divided by the arm's step factor.

Step factors are measured (``bench/estimate_check.py``), not assumed: a two-pass arm runs the layers before
the first drop site once (docs/design.md §2, the shared trunk), so it costs about its FLOP floor plus the paired
masks and the consistency loss: 1.5x a one-pass step for small_cnn, 1.2x for resnet18, not 2x.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from backend.catalog import Catalog, ResolvedArm, ResolvedPilot
from backend.schemas import ArmEstimate, Estimate
from backend.store.entities import ThroughputPoint

# Unique samples/s of the baseline arm (none) at 32×32 images, the model's default width and batch 64, on a
# quiet machine; the CUDA ones (not measured yet) for a data-centre GPU with bfloat16. History replaces them
# as soon as runs have succeeded. small_cnn on the CPU: shapes trained 686/s on this project's 2-core
# machine at load 1-2 (bench/estimate_check.py, robust device time; 719/s at batch 128 in bench/training.py).
REFERENCE_SAMPLES_PER_S: dict[tuple[str, str], float] = {
    ("small_cnn", "cpu"): 650.0,
    ("resnet18", "cpu"): 60.0,
    ("small_cnn", "cuda"): 40_000.0,
    ("resnet18", "cuda"): 8_000.0,
}
# Time of a training step per unique sample against the baseline's, per regularizer, small_cnn on 2 CPU
# threads at load < 2. One-pass arms: bench/estimate_check.py (digits: dropblock 1.05-1.20; shapes:
# 1.04-1.08) and bench/training.py on shapes (dropout 1.36, spatial_dropout 1.06). Two-pass arms run the
# layers before the first drop site once (the shared trunk, rblock/shared_trunk.py), so they cost their FLOP
# floor plus the paired masks and the consistency loss, not 2x: bench/estimate_check.py measured rblock_s
# 1.49 on shapes and 1.19 on digits (whose 8x8 steps are mostly per-step overhead), bench/regularizers.py
# 1.42-1.47 for the three two-pass arms' step (FLOP floor 1.49). A regularizer not listed costs its passes.
STEP_FACTOR: dict[str, float] = {
    "none": 1.0,
    "dropout": 1.35,
    "spatial_dropout": 1.06,
    "dropblock": 1.08,
    "rdrop": 1.5,
    "rblock_b": 1.45,
    "rblock_s": 1.5,
}
# Models whose trunk (the layers before the first drop site) is a larger share of the step: resnet18's is
# 76% of its FLOPs (floor 1.24x), and bench/regularizers.py measured its two-pass steps at 1.14-1.17x.
STEP_FACTOR_BY_MODEL: dict[tuple[str, str], float] = {
    ("resnet18", "rdrop"): 1.2,
    ("resnet18", "rblock_b"): 1.2,
    ("resnet18", "rblock_s"): 1.2,
}
# A test-set sample (forward only, batch 1024, no gradients) against a training sample of the baseline
# (shapes at load < 2: 0.31 with the test pass alone, 0.33 with the stability sub-models).
FORWARD_SHARE = 0.33
REFERENCE_SIDE = 32
# Small images do not speed training up in proportion to their area: per-step overheads take over (digits,
# 8×8, trains 8.5x faster per sample than shapes at 32×32, not 16x).
MAX_SPEEDUP = 9.0
DEVICE_KIND = {"gpu": "cuda", "cpu": "cpu"}


def _sized(catalog: Catalog, dataset: str, params: dict[str, object], prefix: str, limit_key: str) -> int | None:
    spec = catalog.datasets[dataset]
    size: object = spec.get(f"{prefix}_size")
    if spec.get(f"{prefix}_size_param"):
        size = params.get(spec[f"{prefix}_size_param"])
    if not isinstance(size, int):
        return None
    limit = params.get(spec[limit_key]) if spec.get(limit_key) else None
    if isinstance(limit, int) and limit > 0:
        size = min(size, limit)
    return size


def train_size(catalog: Catalog, dataset: str, params: dict[str, object]) -> int | None:
    """Training images of a dataset with these parameters; None when only the files know (imagefolder)."""
    return _sized(catalog, dataset, params, "train", "limit_param")


def eval_set_size(catalog: Catalog, dataset: str, params: dict[str, object]) -> int | None:
    """Test images of a dataset with these parameters; None when only the files know (imagefolder)."""
    return _sized(catalog, dataset, params, "test", "test_limit_param")


def image_side(catalog: Catalog, dataset: str, params: dict[str, object]) -> int:
    spec = catalog.datasets[dataset]
    # The size parameter when it is set, else the set's native side (an image folder's parameter has a default).
    side = params.get(spec["image_size_param"]) if spec.get("image_size_param") else None
    side = side if side is not None else spec.get("image_size")
    return side if isinstance(side, int) and not isinstance(side, bool) and side > 0 else REFERENCE_SIDE


def reference_throughput(
    catalog: Catalog, *, model: str, width: int | None, device_kind: str, side: int
) -> float | None:
    """The baseline's reference samples/s scaled by image area and width² (convolution cost), None for an
    unknown pair."""
    base = REFERENCE_SAMPLES_PER_S.get((model, device_kind))
    if base is None:
        return None
    default_width = catalog.models[model].get("params", {}).get("width", {}).get("default")
    area = (REFERENCE_SIDE / side) ** 2
    widths = (default_width / width) ** 2 if width and isinstance(default_width, int | float) else 1.0
    return base * min(area * widths, MAX_SPEEDUP)


def step_factor(regularizer: str, passes: int, model: str | None = None) -> float:
    """Time per unique training sample of a regularizer against the baseline's (a measured table)."""
    if model is not None and (model, regularizer) in STEP_FACTOR_BY_MODEL:
        return STEP_FACTOR_BY_MODEL[(model, regularizer)]
    return STEP_FACTOR.get(regularizer, float(passes))


def stability_evaluations(epochs: int, eval_every: int) -> int:
    """How often a run computes the stability metrics: every ``eval_every`` epochs and after the last."""
    if eval_every <= 0:
        return 1
    return epochs // eval_every + (0 if epochs % eval_every == 0 else 1)


@dataclass(frozen=True)
class _Rates:
    baseline: float | None  # unique samples/s of the baseline arm
    own: dict[str, list[float]]  # regularizer -> its runs' samples/s
    history_runs: int


def _history_rates(history: Sequence[ThroughputPoint], model: str) -> _Rates:
    usable = [h for h in history if h.samples_per_second > 0 and math.isfinite(h.samples_per_second)]
    own: dict[str, list[float]] = {}
    for point in usable:
        own.setdefault(point.regularizer, []).append(point.samples_per_second)
    converted = [p.samples_per_second * step_factor(p.regularizer, 1, model) for p in usable]
    return _Rates(statistics.median(converted) if converted else None, own, len(usable))


def estimate_pilot(
    catalog: Catalog,
    *,
    resolved: ResolvedPilot,
    dataset: str,
    model: str,
    width: int | None,
    seeds: int,
    queue: str,
    history: Sequence[ThroughputPoint],
    price_per_hour: float | None,
    budget_cap: float | None,
) -> Estimate:
    """The estimate of every arm and the total (see the module docstring for the basis)."""
    device_kind = DEVICE_KIND.get(queue, queue)
    notes: list[str] = []
    size = train_size(catalog, dataset, resolved.dataset_params)
    rates = _history_rates(history, model)
    basis: Literal["history", "reference", "unknown"]
    baseline = rates.baseline
    if baseline is not None:
        basis = "history"
        notes.append(
            f"throughput: {rates.history_runs} earlier run(s) of {model} on {dataset} ({device_kind}), per "
            f"regularizer; a regularizer without runs of its own is scaled from the others by its step factor"
        )
    else:
        basis = "reference"
        side = image_side(catalog, dataset, resolved.dataset_params)
        baseline = reference_throughput(catalog, model=model, width=width, device_kind=device_kind, side=side)
        if baseline is None:
            notes.append(f"no reference throughput for {model} on {device_kind}")
        else:
            notes.append(
                f"throughput: reference table, {model} on {device_kind} at {side}×{side}, measured step factor "
                f"per regularizer (no history yet)"
            )
    if size is None:
        notes.append(f"the training-set size of {dataset} is known only from its files: no estimate before it runs")
    if baseline is None or size is None:
        basis = "unknown"
    if price_per_hour is None:
        notes.append(f"no price per hour for {device_kind}: set PRICE_PER_HOUR or roi.price_per_device_hour")
    epochs = int(resolved.training["epochs"])
    eval_samples = _evaluation_samples(catalog, dataset, resolved, epochs)
    arms: list[ArmEstimate] = []
    for arm in resolved.arms:
        samples = epochs * size * arm.passes if size is not None else None
        own = rates.own.get(arm.regularizer)
        unique_rate = (
            statistics.median(own)
            if own
            else (baseline / step_factor(arm.regularizer, arm.passes, model) if baseline else None)
        )
        rate = unique_rate * arm.passes if unique_rate else None  # pass-samples/s, as samples_per_run counts
        hours = _finite(seeds * samples / rate / 3600.0) if samples is not None and rate else None
        evaluated = eval_samples(arm)
        eval_hours = (
            _finite(seeds * evaluated * FORWARD_SHARE / baseline / 3600.0)
            if evaluated is not None and baseline
            else None
        )
        arms.append(
            ArmEstimate(
                arm=arm.name,
                regularizer=arm.regularizer,
                passes=arm.passes,
                runs=seeds,
                samples_per_run=samples,
                samples_per_second=rate,
                device_hours=hours,
                eval_hours=eval_hours,
                cost=_finite(hours * price_per_hour) if hours is not None and price_per_hour is not None else None,
            )
        )
    known = all(a.device_hours is not None for a in arms)
    total_hours = _finite(sum(a.device_hours or 0.0 for a in arms)) if known else None
    eval_known = all(a.eval_hours is not None for a in arms)
    return Estimate(
        basis=basis,
        device_kind=device_kind,
        history_runs=rates.history_runs,
        price_per_device_hour=price_per_hour,
        runs=seeds * len(arms),
        device_hours=total_hours,
        eval_hours=_finite(sum(a.eval_hours or 0.0 for a in arms)) if eval_known and arms else None,
        cost=_finite(total_hours * price_per_hour) if total_hours is not None and price_per_hour is not None else None,
        budget_cap=budget_cap,
        arms=arms,
        notes=notes,
    )


def _evaluation_samples(
    catalog: Catalog, dataset: str, resolved: ResolvedPilot, epochs: int
) -> Callable[[ResolvedArm], int | None]:
    """Test-set samples a run of an arm evaluates: the test set each epoch, and K sub-models of it at each
    stability evaluation (the baseline has no drop layers, hence no sub-models)."""
    n_test = eval_set_size(catalog, dataset, resolved.dataset_params)
    masks = int(resolved.training.get("stability_masks") or 0)
    looks = stability_evaluations(epochs, int(resolved.training.get("eval_every") or 0))

    def count(arm: ResolvedArm) -> int | None:
        if n_test is None:
            return None
        sub_models = 0 if arm.regularizer == "none" else masks * looks
        return n_test * (epochs + sub_models)

    return count


def _finite(value: float) -> float | None:
    """JSON cannot carry an infinite estimate (absurd inputs); report it as unknown instead."""
    return value if math.isfinite(value) else None
