"""Extending a pilot in place: N more seeds for every arm and/or new arms on every seed (issue 11 §3).

This is the service behind ``POST /api/v1/pilots/{id}/extend`` (the pilot page calls it through the API,
and a sequential pilot's rounds call it from the reconciler). It reuses the submission's pieces: the
catalog validates the pilot with its new arms as it would a new pilot, each new run's config is built by
``run_config`` from the pilot's stored settings, and the estimate is ``backend.estimate``'s.

Decisions:

* New seeds are numbered after the pilot's highest seed, so the new runs of every arm share their seeds
  (paired comparisons stay paired); new arms run on every seed, old and new.
* The new runs go to the queue the pilot's runs went to (same kind of device: their costs compare), and
  are queued seed by seed like a new pilot's: first the new arms on the old seeds, then every arm on each
  new seed.
* The budget cap is on the pilot's total: the device-hours measured for its finished runs, estimated for
  its queued and running ones, plus the estimate of the new runs. ``budget_cap`` in the request replaces
  the pilot's cap (a manager raising it is the way forward when the cap stops an extension).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from backend.catalog import Catalog, CatalogError, FieldError, ResolvedArm, ResolvedPilot
from backend.dispatch import RunQueue
from backend.quotas import check_limits
from backend.schemas import MAX_ARMS, MAX_SEED, MAX_SEEDS, ArmSpec, Estimate, ExtensionTotal, PilotCreate, PilotExtend
from backend.settings import Settings
from backend.store import ACTIVE_STATUSES, Conflict, Pilot, Run, RunInput, RunStatus, Store
from backend.submission import Placement, estimate_runs, place, seed_by_seed, send_runs, unknown_cost
from backend.views import earlier_hours, run_cost


@dataclass(frozen=True)
class ExtensionPlan:
    """A validated extension, ready to commit."""

    pilot: Pilot
    new_seeds: list[int]
    new_arms: list[ResolvedArm]
    queue: str
    estimate: Estimate
    total: ExtensionTotal
    runs: list[RunInput]
    budget_cap: float | None  # the cap to store with the pilot; None: keep its own


def plan_extension(
    pilot_id: int,
    request: PilotExtend,
    *,
    catalog: Catalog,
    store: Store,
    settings: Settings,
    by_rounds: bool = False,
) -> ExtensionPlan:
    """Validate and estimate an extension (``CatalogError``: 422, ``Conflict``: 409, ``NotFound``: 404).

    ``by_rounds``: the reconciler's next round of a sequential pilot, which a user may not ask for.
    """
    pilot = store.get_pilot(pilot_id=pilot_id)
    runs = store.list_runs(pilot_id=pilot_id)
    _check_state(pilot, runs, by_rounds)
    count, new_specs = request.seeds or 0, request.arms or []
    if not count and not new_specs:
        raise CatalogError(
            [FieldError("body", 'ask for "seeds" (N new seeds for every arm), "arms" (new arms on all seeds), or both')]
        )
    _check_sizes(pilot, count, new_specs)
    resolved = _validate(catalog, pilot, new_specs)
    old_names = {arm.name for arm in pilot.arms}
    old_arms = [arm for arm in resolved.arms if arm.name in old_names]
    new_arms = [arm for arm in resolved.arms if arm.name not in old_names]
    start = max(pilot.seeds, default=-1) + 1
    new_seeds = list(range(start, start + count))
    placement = place(
        store,
        settings,
        queue=runs[0].queue if runs else pilot.queue,
        model=pilot.model,
        dataset=pilot.dataset,
        price_override=pilot.roi.get("price_per_device_hour"),
    )
    cap = request.budget_cap if request.budget_cap is not None else pilot.budget_cap

    def estimate(arms: list[ResolvedArm], seeds: int) -> Estimate:
        return estimate_runs(catalog, pilot, replace(resolved, arms=arms), placement, seeds=seeds, budget_cap=cap)

    # Old arms × new seeds, and new arms × every seed: two groups, one arm in only one of them.
    parts = [estimate(old_arms, count)] if count else []
    if new_arms:
        parts.append(estimate(new_arms, len(pilot.seeds) + count))
    new = _combine(parts)
    total = _total(pilot, runs, estimate(old_arms, 1), new, placement, settings, cap)
    _check_total(cap, total, new, len(runs))
    new_runs = seed_by_seed(pilot, resolved, new_arms, pilot.seeds) + seed_by_seed(
        pilot, resolved, resolved.arms, new_seeds
    )
    # The spending limits of the pilot's owner, on its totals once extended (issue 15's limits hold here too).
    check_limits(
        replace(resolved, arms=new_arms),
        dataset=pilot.dataset,
        model=pilot.model,
        width=pilot.width,
        runs=len(runs) + len(new_runs),
        new_runs=len(new_runs),
        device_hours=total.device_hours,
        uncapped_cost=total.cost if cap is None else None,
        catalog=catalog,
        store=store,
        settings=settings,
        user=pilot.created_by,
        adder="this extension",
    )
    return ExtensionPlan(
        pilot=pilot,
        new_seeds=new_seeds,
        new_arms=new_arms,
        queue=placement.queue,
        estimate=new,
        total=total,
        runs=new_runs,
        budget_cap=request.budget_cap,
    )


def apply_extension(
    plan: ExtensionPlan, *, store: Store, queue: RunQueue, sequential: dict[str, Any] | None = None
) -> tuple[Pilot, list[Run]]:
    """Commit the new arms, seeds and runs in one transaction, then send each new run to the broker.

    ``sequential``: the sequential state to store with it (the look that led to this round).
    """
    pilot, runs = store.extensions.extend(
        pilot_id=plan.pilot.id,
        expect_seeds=plan.pilot.seeds,
        new_seeds=plan.new_seeds,
        arms=plan.new_arms,
        runs=plan.runs,
        run_queue=plan.queue,
        budget_cap=plan.budget_cap,
        sequential=sequential,
    )
    send_runs(runs, store=store, queue=queue, what=f"pilot {pilot.id} was extended")
    return pilot, runs


def _check_state(pilot: Pilot, runs: list[Run], by_rounds: bool) -> None:
    cancelling = [run.id for run in runs if run.status == RunStatus.CANCELLING]
    if cancelling:
        raise Conflict(
            f"pilot {pilot.id} is being cancelled (run(s) {', '.join(map(str, cancelling))} stopping): "
            "extend it once they have stopped"
        )
    state = pilot.sequential
    if not by_rounds and state is not None and not state.get("stopped"):
        raise Conflict(
            f"pilot {pilot.id} is sequential: it extends itself a round at a time until its verdicts settle "
            f"(at most {state['max_seeds']} seeds); extend it by hand once it has stopped"
        )


def _check_sizes(pilot: Pilot, count: int, arms: list[ArmSpec]) -> None:
    errors = []
    have = len(pilot.seeds)
    if have + count > MAX_SEEDS:
        errors.append(
            FieldError(
                "seeds",
                f"pilot {pilot.id} has {have} seeds and a pilot has at most {MAX_SEEDS}: ask for at most "
                f"{MAX_SEEDS - have} (got {count})",
            )
        )
    elif max(pilot.seeds, default=-1) + count > MAX_SEED:
        errors.append(FieldError("seeds", f"the new seeds would pass {MAX_SEED}, the highest seed"))
    if len(pilot.arms) + len(arms) > MAX_ARMS:
        errors.append(
            FieldError(
                "arms",
                f"pilot {pilot.id} has {len(pilot.arms)} arms and a pilot has at most {MAX_ARMS}: add at most "
                f"{MAX_ARMS - len(pilot.arms)} (got {len(arms)})",
            )
        )
    taken = {arm.name: "the pilot" for arm in pilot.arms}
    for index, arm in enumerate(arms):
        if arm.label in taken:
            errors.append(
                FieldError(
                    f"arms[{index}].name",
                    f"{arm.label!r} is already the name of an arm of {taken[arm.label]}: arm names must be unique "
                    "(set name to tell two arms of one regularizer apart)",
                )
            )
        taken.setdefault(arm.label, f"this request (arms[{index}])")
    if errors:
        raise CatalogError(errors)


def _validate(catalog: Catalog, pilot: Pilot, new_arms: list[ArmSpec]) -> ResolvedPilot:
    """The catalog's validation of the pilot with its new arms, as if it were submitted now.

    Problems of the new arms are 422s under the request's own paths (``arms[0].params.drop_prob``); a
    problem of the stored pilot itself (the catalog changed since) makes it impossible to extend: 409.
    """
    old = [ArmSpec.model_construct(name=a.name, regularizer=a.regularizer, params=dict(a.params)) for a in pilot.arms]
    whole = PilotCreate.model_construct(
        name=pilot.name,
        dataset=pilot.dataset,
        dataset_params=dict(pilot.dataset_params),
        model=pilot.model,
        width=pilot.width,
        training=dict(pilot.training),
        arms=[*old, *new_arms],
        baseline_arm=pilot.baseline_arm,
    )
    try:
        return catalog.validate(whole)
    except CatalogError as error:
        mine, stored = [], []
        for item in error.errors:
            index = _arm_index(item.field)
            if index is not None and index >= len(old):
                rest = item.field[item.field.index("]") + 1 :]
                mine.append(FieldError(f"arms[{index - len(old)}]{rest}", item.message))
            else:
                stored.append(f"{item.field}: {item.message}")
        if stored:
            raise Conflict(
                f"pilot {pilot.id} no longer fits the catalog ({'; '.join(stored)}): it cannot be extended; "
                "submit a new pilot instead"
            ) from None
        raise CatalogError(mine) from None


def _arm_index(field: str) -> int | None:
    if not field.startswith("arms["):
        return None
    try:
        return int(field[len("arms[") : field.index("]")])
    except ValueError:
        return None


def _combine(parts: list[Estimate]) -> Estimate:
    """One estimate of the new runs from the estimates of their groups (old arms × new seeds, new arms × all)."""
    first = parts[0]
    hours = [p.device_hours for p in parts]
    costs = [p.cost for p in parts]
    notes = list(dict.fromkeys(note for p in parts for note in p.notes))
    return first.model_copy(
        update={
            "runs": sum(p.runs for p in parts),
            "device_hours": None if None in hours else sum(h or 0.0 for h in hours),
            "cost": None if None in costs else sum(c or 0.0 for c in costs),
            "arms": [arm for p in parts for arm in p.arms],
            "notes": notes,
            "basis": "unknown" if any(p.basis == "unknown" for p in parts) else first.basis,
        }
    )


def _total(
    pilot: Pilot,
    runs: list[Run],
    per_run: Estimate,
    new: Estimate,
    placement: Placement,
    settings: Settings,
    cap: float | None,
) -> ExtensionTotal:
    """The pilot's device-hours and cost once extended: measured where a run has finished, else estimated."""
    estimated = {arm.arm: arm.device_hours for arm in per_run.arms}
    hours: float | None = 0.0
    cost: float | None = 0.0
    for run in runs:
        measured = (run.cost or {}).get("device_hours")
        earlier = earlier_hours(run)  # a retried run's attempts before the retry: spent, whatever comes next
        spent = run_cost(run, pilot, settings)  # measured and earlier attempts, at their devices' prices
        if isinstance(measured, int | float) and not isinstance(measured, bool):
            run_hours: float | None = float(measured) + earlier
            money = spent
        elif run.status in ACTIVE_STATUSES:
            guess = estimated.get(run.arm)
            price = placement.price_per_hour
            run_hours = None if guess is None else guess + earlier
            money = None if guess is None or price is None or spent is None else guess * price + spent
        else:
            run_hours, money = earlier, spent  # failed or cancelled before it measured anything
        hours = None if hours is None or run_hours is None else hours + run_hours
        cost = None if cost is None or money is None else cost + money
    return ExtensionTotal(
        existing_runs=len(runs),
        existing_device_hours=hours,
        existing_cost=cost,
        device_hours=None if hours is None or new.device_hours is None else hours + new.device_hours,
        cost=None if cost is None or new.cost is None else cost + new.cost,
        budget_cap=cap,
    )


def _check_total(cap: float | None, total: ExtensionTotal, new: Estimate, existing: int) -> None:
    if cap is None:
        return
    if total.cost is None:
        error = unknown_cost(new) or FieldError(
            "budget_cap",
            "cannot be checked: a device the pilot's runs used or will use has no price: set "
            "roi.price_per_device_hour (or PRICE_PER_HOUR), or remove budget_cap",
        )
        raise CatalogError([error])
    if total.cost > cap:
        raise CatalogError(
            [
                FieldError(
                    "budget_cap",
                    f"the cap applies to the pilot's total: {total.cost:.2f} ({total.existing_cost or 0.0:.2f} "
                    f"measured or estimated for its {existing} existing runs + {new.cost or 0.0:.2f} estimated for "
                    f"the {new.runs} new runs, {total.device_hours or 0.0:.3g} device-hours) exceeds budget_cap "
                    f"{cap:.2f}: send a higher budget_cap with the extension, or ask for fewer seeds or arms",
                )
            ]
        )
