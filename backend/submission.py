"""Submitting a pilot: validate, estimate, check the budget, then commit every run and only then enqueue.

This is the service behind ``POST /api/v1/pilots`` (the pages call it in-process too). Each run's config
has exactly the shape of ``rblock.config.TrainConfig.to_dict()`` with every default filled in, so the
stored config says what ran, and the worker can rebuild it with ``TrainConfig.from_dict``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from backend.catalog import Catalog, CatalogError, FieldError, ResolvedArm, ResolvedPilot
from backend.dispatch import RunQueue, enqueue_runs
from backend.estimate import DEVICE_KIND, estimate_pilot
from backend.queue import QueueUnavailable, resolve_queue
from backend.quotas import check_pilot
from backend.schemas import Estimate, PilotCreate
from backend.settings import Settings
from backend.store import ArmInput, Pilot, Run, RunInput, Store, Worker

# The order of rblock.config.TrainConfig's fields, so a stored config reads like the library's.
CONFIG_FIELDS = (
    "dataset", "dataset_params", "data_seed", "label_noise", "augment", "model", "width", "arm", "arm_params",
    "epochs", "batch_size", "optimizer", "lr", "momentum", "nesterov", "weight_decay", "lr_schedule",
    "warmup_epochs", "label_smoothing", "seed", "eval_every", "stability_masks", "device", "bf16", "channels_last",
)  # fmt: skip


@dataclass(frozen=True)
class PilotPlan:
    """A validated pilot, ready to commit: its resolved settings, queue, estimate and runs."""

    request: PilotCreate
    resolved: ResolvedPilot
    queue: str
    seeds: list[int]
    estimate: Estimate
    runs: list[RunInput]


def run_config(request: PilotCreate, resolved: ResolvedPilot, arm: ResolvedArm, seed: int) -> dict[str, Any]:
    """One run's full training config (``TrainConfig.to_dict()`` shape)."""
    values: dict[str, Any] = {
        **resolved.training,
        "dataset": request.dataset,
        "dataset_params": dict(resolved.dataset_params),
        "model": request.model,
        "width": request.width,
        "arm": arm.regularizer,
        "arm_params": dict(arm.params),
        "seed": seed,
        # The worker's process is bound to one device (a GPU, or the CPU): "auto" takes that one.
        "device": "auto",
    }
    return {name: values[name] for name in CONFIG_FIELDS}


def device_price(settings: Settings, workers: list[Worker], queue: str, override: float | None) -> float | None:
    """Price per device-hour on ``queue``: the pilot's override, else the live workers' device, else the kind."""
    if override is not None:
        return override
    kind = DEVICE_KIND.get(queue, queue)
    named = sorted({w.device for w in workers if queue in w.queues and w.device.startswith(kind)})
    priced = [settings.price_per_hour[d] for d in named if d in settings.price_per_hour]
    # Several kinds of GPU on one queue: assume the dearest, so a budget check errs on the safe side.
    return max(priced) if priced else settings.price_for(kind)


def plan_pilot(
    request: PilotCreate, *, catalog: Catalog, store: Store, settings: Settings, user: str | None = None
) -> PilotPlan:
    """Validate against the catalog, resolve the queue, estimate, and enforce the budget (``CatalogError``)."""
    resolved = catalog.validate(request)
    workers = store.list_workers(seen_within_s=2 * settings.heartbeat_timeout_s)
    queue = resolve_queue(request.queue, workers)
    seeds = request.seed_list()
    history = store.throughput_history(model=request.model, dataset=request.dataset, device_kind=DEVICE_KIND[queue])
    estimate = estimate_pilot(
        catalog,
        resolved=resolved,
        dataset=request.dataset,
        model=request.model,
        width=request.width,
        seeds=len(seeds),
        queue=queue,
        history=history,
        price_per_hour=device_price(settings, workers, queue, request.roi.price_per_device_hour),
        budget_cap=request.budget_cap,
    )
    _check_budget(request.budget_cap, estimate)
    check_pilot(request, resolved, estimate, catalog=catalog, store=store, settings=settings, user=user)  # limits
    runs = [
        RunInput(
            arm=arm.name,
            seed=seed,
            config=run_config(request, resolved, arm, seed),
            epochs_total=int(resolved.training["epochs"]),
        )
        for arm in resolved.arms
        for seed in seeds
    ]
    return PilotPlan(request=request, resolved=resolved, queue=queue, seeds=seeds, estimate=estimate, runs=runs)


def _check_budget(cap: float | None, estimate: Estimate) -> None:
    if cap is None:
        return
    if estimate.cost is None:
        if estimate.device_hours is None:
            why = "the device-hours cannot be estimated before it runs (" + "; ".join(estimate.notes) + ")"
            fix = "remove budget_cap"
        else:
            why = f"no price per hour is set for {estimate.device_kind}"
            fix = "set roi.price_per_device_hour (or PRICE_PER_HOUR), or remove budget_cap"
        raise CatalogError([FieldError("budget_cap", f"cannot be checked: {why}: {fix}")])
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
        arms=[ArmInput(name=a.name, regularizer=a.regularizer, params=a.params) for a in resolved.arms],
        runs=plan.runs,
        run_queue=plan.queue,
    )
    runs = store.list_runs(pilot_id=pilot.id)
    try:
        enqueue_runs(runs, store=store, queue=queue)
    except QueueUnavailable as error:
        raise QueueUnavailable(
            f"pilot {pilot.id} was saved but its runs could not be queued, so they are marked failed "
            f"(retry them with POST /api/v1/runs/{{id}}/retry once the broker is back): {error}"
        ) from None
    return pilot, runs
