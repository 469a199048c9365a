"""Submitting a pilot: validate, estimate, check the budget, then commit every run and only then enqueue.

This is the service behind ``POST /api/v1/pilots`` (the pages call it in-process too). Each run's config
has exactly the shape of ``rblock.config.TrainConfig.to_dict()`` with every default filled in, so the
stored config says what ran, and the worker can rebuild it with ``TrainConfig.from_dict``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from backend.analysis.sequential import sequential_state
from backend.catalog import Catalog, CatalogError, FieldError, ResolvedArm, ResolvedPilot
from backend.data_paths import data_path_problems
from backend.dispatch import RunQueue, enqueue_runs
from backend.estimate import DEVICE_KIND, estimate_pilot
from backend.queue import QueueUnavailable, resolve_queue
from backend.quotas import check_pilot
from backend.schemas import Estimate, PilotCreate
from backend.settings import Settings
from backend.store import Pilot, Run, RunInput, Store, Worker
from backend.store.entities import ThroughputPoint
from pilot_spec.training import RUN_CONFIG_FIELDS


@dataclass(frozen=True)
class PilotPlan:
    """A validated pilot, ready to commit: its resolved settings, queue, estimate and runs."""

    request: PilotCreate
    resolved: ResolvedPilot
    queue: str
    seeds: list[int]
    estimate: Estimate
    runs: list[RunInput]


class ModelChoice(Protocol):
    """What a run's config takes from its pilot: a new one (``PilotCreate``) or a stored one (``Pilot``)."""

    @property
    def dataset(self) -> str: ...

    @property
    def model(self) -> str: ...

    @property
    def width(self) -> int | None: ...


def run_config(pilot: ModelChoice, resolved: ResolvedPilot, arm: ResolvedArm, seed: int) -> dict[str, Any]:
    """One run's full training config (``TrainConfig.to_dict()`` shape)."""
    values: dict[str, Any] = {
        **resolved.training,
        "dataset": pilot.dataset,
        "dataset_params": dict(resolved.dataset_params),
        "model": pilot.model,
        "width": pilot.width,
        "arm": arm.regularizer,
        "arm_params": dict(arm.params),
        "seed": seed,
        # The worker's process is bound to one device (a GPU, or the CPU): "auto" takes that one.
        "device": "auto",
    }
    return {name: values[name] for name in RUN_CONFIG_FIELDS}


def device_price(settings: Settings, workers: list[Worker], queue: str, override: float | None) -> float | None:
    """Price per device-hour on ``queue``: the pilot's override, else the live workers' device, else the kind."""
    if override is not None:
        return override
    kind = DEVICE_KIND.get(queue, queue)
    named = sorted({w.device for w in workers if queue in w.queues and w.device.startswith(kind)})
    priced = [settings.price_per_hour[d] for d in named if d in settings.price_per_hour]
    # Several kinds of GPU on one queue: assume the dearest, so a budget check errs on the safe side.
    return max(priced) if priced else settings.price_for(kind)


def seed_by_seed(
    pilot: ModelChoice, resolved: ResolvedPilot, arms: Sequence[ResolvedArm], seeds: Sequence[int]
) -> list[RunInput]:
    """The runs of ``arms`` × ``seeds`` seed by seed: every arm of a seed back to back (docs/design.md §4).

    Runs are committed, and so sent to the broker, in this order, and workers take them first in first out:
    whatever slows the machine for a while (another job, thermal throttling) then falls on every arm
    alike instead of deciding the comparison of cost.
    """
    epochs = int(resolved.training["epochs"])
    return [
        RunInput(arm=arm.name, seed=seed, config=run_config(pilot, resolved, arm, seed), epochs_total=epochs)
        for seed in seeds
        for arm in arms
    ]


@dataclass(frozen=True)
class Placement:
    """Where a pilot's runs go and what their device costs: the inputs of an estimate besides the pilot."""

    queue: str
    history: list[ThroughputPoint]
    price_per_hour: float | None


def place(
    store: Store, settings: Settings, *, queue: str, model: str, dataset: str, price_override: float | None
) -> Placement:
    """Resolve ``queue`` (auto, gpu, cpu) on the live workers, with its throughput history and price."""
    workers = store.list_workers(seen_within_s=settings.workers_seen_within_s)
    resolved_queue = resolve_queue(queue, workers)
    history = store.throughput_history(model=model, dataset=dataset, device_kind=DEVICE_KIND[resolved_queue])
    price = device_price(settings, workers, resolved_queue, price_override)
    return Placement(queue=resolved_queue, history=history, price_per_hour=price)


def estimate_runs(
    catalog: Catalog,
    pilot: ModelChoice,
    resolved: ResolvedPilot,
    placement: Placement,
    *,
    seeds: int,
    budget_cap: float | None,
) -> Estimate:
    """The estimate of ``seeds`` runs of each of ``resolved.arms`` (``backend.estimate``) at ``placement``."""
    return estimate_pilot(
        catalog,
        resolved=resolved,
        dataset=pilot.dataset,
        model=pilot.model,
        width=pilot.width,
        seeds=seeds,
        queue=placement.queue,
        history=placement.history,
        price_per_hour=placement.price_per_hour,
        budget_cap=budget_cap,
    )


def plan_pilot(
    request: PilotCreate, *, catalog: Catalog, store: Store, settings: Settings, user: str | None = None
) -> PilotPlan:
    """Validate against the catalog, resolve the queue, estimate, and enforce the budget (``CatalogError``).

    A sequential pilot (``request.sequential``) plans its first round only: later rounds are extensions.
    """
    resolved = catalog.validate(request)
    if paths := data_path_problems(resolved.dataset_params, resolved.training, settings.data_root):
        raise CatalogError([FieldError(field, problem) for field, problem in paths])  # outside the data root
    seeds = request.seed_list()
    _check_sequential(request, seeds)
    placement = place(
        store,
        settings,
        queue=request.queue,
        model=request.model,
        dataset=request.dataset,
        price_override=request.roi.price_per_device_hour,
    )
    estimate = estimate_runs(catalog, request, resolved, placement, seeds=len(seeds), budget_cap=request.budget_cap)
    if request.sequential is not None:
        most = request.sequential.max_seeds
        estimate.notes.append(
            f"sequential: this is the first round of {len(seeds)} seeds; all {most} seeds would cost about "
            f"{most / len(seeds):.3g}× as much, and the budget cap is checked again before each round"
        )
    check_budget(request.budget_cap, estimate)
    check_pilot(request, resolved, estimate, catalog=catalog, store=store, settings=settings, user=user)  # limits
    runs = seed_by_seed(request, resolved, resolved.arms, seeds)
    return PilotPlan(
        request=request, resolved=resolved, queue=placement.queue, seeds=seeds, estimate=estimate, runs=runs
    )


def _check_sequential(request: PilotCreate, seeds: list[int]) -> None:
    plan = request.sequential
    if plan is not None and len(seeds) != plan.round:
        raise CatalogError(
            [
                FieldError(
                    "seeds",
                    f"a sequential pilot queues its seeds a round of {plan.round} at a time: omit seeds, or give "
                    f"{plan.round} (got {len(seeds)})",
                )
            ]
        )


def unknown_cost(estimate: Estimate) -> FieldError | None:
    """Why a budget cannot be checked against ``estimate`` (no device-hours, or no price), or None."""
    if estimate.cost is not None:
        return None
    if estimate.device_hours is None:
        why = "the device-hours cannot be estimated before it runs (" + "; ".join(estimate.notes) + ")"
        fix = "remove budget_cap"
    else:
        why = f"no price per hour is set for {estimate.device_kind}"
        fix = "set roi.price_per_device_hour (or PRICE_PER_HOUR), or remove budget_cap"
    return FieldError("budget_cap", f"cannot be checked: {why}: {fix}")


def check_budget(cap: float | None, estimate: Estimate) -> None:
    if cap is None:
        return
    if (error := unknown_cost(estimate)) is not None:
        raise CatalogError([error])
    assert estimate.cost is not None
    if estimate.cost > cap:
        raise CatalogError(
            [
                FieldError(
                    "budget_cap",
                    f"the estimated cost {estimate.cost:.2f} ({estimate.device_hours:.3g} device-hours at "
                    f"{estimate.price_per_device_hour:g} per hour, {estimate.basis} basis) exceeds budget_cap "
                    f"{cap:.2f}: raise the cap, or use fewer seeds, arms or epochs",
                )
            ]
        )


def submit_pilot(plan: PilotPlan, *, store: Store, queue: RunQueue, created_by: str | None) -> tuple[Pilot, list[Run]]:
    """Commit the pilot (owned by ``created_by``) and all its runs in one transaction, then send each run id
    to the broker.

    Raises ``QueueUnavailable`` (after marking the unsent runs failed) when the broker refuses them.
    """
    request, resolved = plan.request, plan.resolved
    pilot = store.create_pilot(
        name=request.name,
        description=request.description,
        dataset=request.dataset,
        dataset_params=resolved.dataset_params,
        model=request.model,
        width=request.width,
        training=resolved.training,
        seeds=plan.seeds,
        baseline_arm=resolved.baseline_arm,
        roi=request.roi.model_dump(),
        budget_cap=request.budget_cap,
        queue=request.queue,
        created_by=created_by,
        arms=resolved.arms,
        runs=plan.runs,
        run_queue=plan.queue,
        sequential=sequential_state(plan_.max_seeds, plan_.round) if (plan_ := request.sequential) else None,
    )
    runs = store.list_runs(pilot_id=pilot.id)
    send_runs(runs, store=store, queue=queue, what=f"pilot {pilot.id} was saved")
    return pilot, runs


def send_runs(runs: Sequence[Run], *, store: Store, queue: RunQueue, what: str) -> None:
    """Send committed runs to the broker; when it refuses, they are marked failed and ``QueueUnavailable``
    says ``what`` happened (the runs exist) and how to retry them."""
    try:
        enqueue_runs(runs, store=store, queue=queue)
    except QueueUnavailable as error:
        raise QueueUnavailable(
            f"{what} but its runs could not be queued, so they are marked failed "
            f"(retry them with POST /api/v1/runs/{{id}}/retry once the broker is back): {error}"
        ) from None
