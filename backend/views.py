"""From the store's entities to the API's response bodies, with the progress and cost that the API adds.

Cost so far = Σ over finished runs of device-hours × price per hour of the device the run used (the
pilot's ``roi.price_per_device_hour`` when set, else ``PRICE_PER_HOUR`` by device string, then kind).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from dataclasses import fields as dataclass_fields

from backend.schemas import ArmOut, DecisionOut, PilotDetail, PilotOut, Progress, RunOut, WorkerOut
from backend.settings import Settings
from backend.store import Arm, Decision, Pilot, PilotProgress, Run, Worker


def run_out(run: Run) -> RunOut:
    """A run without its final predictions and test labels (thousands of integers that only the analysis reads)."""
    fields = {
        f.name: getattr(run, f.name) for f in dataclass_fields(run) if f.name not in ("predictions", "test_labels")
    }
    fields["status"] = run.status.value
    return RunOut(**fields)


def arm_out(arm: Arm) -> ArmOut:
    return ArmOut(id=arm.id, name=arm.name, regularizer=arm.regularizer, params=arm.params)


def worker_out(worker: Worker) -> WorkerOut:
    return WorkerOut(**asdict(worker))


def decision_out(decision: Decision) -> DecisionOut:
    """A decision without its snapshot (lists; the snapshot is read one decision at a time)."""
    return DecisionOut(**{k: v for k, v in asdict(decision).items() if k != "summary"})


def run_cost(run: Run, pilot: Pilot, settings: Settings) -> float | None:
    """Money one run has cost so far (0 before it has finished); None when its device has no price."""
    hours = (run.cost or {}).get("device_hours")
    if not isinstance(hours, int | float) or isinstance(hours, bool):
        return 0.0
    override = pilot.roi.get("price_per_device_hour")
    if isinstance(override, int | float) and not isinstance(override, bool):
        return float(hours) * float(override)
    price = settings.price_for(run.device or "")
    return float(hours) * price if price is not None else None


def progress(summary: PilotProgress, runs: Sequence[Run] | None, settings: Settings) -> Progress:
    """Progress of a pilot, with the money spent so far (None when a device it ran on has no price)."""
    cost: float | None = None
    if runs is not None:
        costs = [run_cost(run, summary.pilot, settings) for run in runs]
        cost = None if any(c is None for c in costs) else sum(c or 0.0 for c in costs)
    else:  # a list: the store's per-device hours give the same sum without reading every run
        override = summary.pilot.roi.get("price_per_device_hour")
        prices = [
            (hours, float(override) if override is not None else settings.price_for(device))
            for device, hours in summary.device_hours_by_device.items()
        ]
        cost = None if any(p is None for _, p in prices) else sum(h * (p or 0.0) for h, p in prices)
    total = summary.epochs_total
    return Progress(
        status=summary.status,
        runs_by_status=summary.runs_by_status,
        epochs_done=summary.epochs_done,
        epochs_total=total,
        fraction=min(1.0, summary.epochs_done / total) if total else 0.0,
        device_hours=summary.device_hours,
        cost=cost,
        started_at=summary.started_at,
        finished_at=summary.finished_at,
    )


def _pilot_fields(summary: PilotProgress, runs: Sequence[Run] | None, settings: Settings) -> dict[str, object]:
    pilot = summary.pilot
    fields = asdict(pilot)
    fields["arms"] = [arm_out(arm) for arm in pilot.arms]
    fields["progress"] = progress(summary, runs, settings)
    return fields


def pilot_out(summary: PilotProgress, settings: Settings, latest_decision: Decision | None = None) -> PilotOut:
    fields = _pilot_fields(summary, None, settings)
    fields["latest_decision"] = decision_out(latest_decision) if latest_decision else None
    return PilotOut.model_validate(fields)


def pilot_detail(summary: PilotProgress, runs: Sequence[Run], settings: Settings) -> PilotDetail:
    fields = _pilot_fields(summary, runs, settings)
    fields["runs"] = [run_out(run) for run in runs]
    return PilotDetail.model_validate(fields)
