"""From the store's entities to the API's response bodies, with the progress and cost that the API adds.

Cost so far = Σ over finished runs of device-hours × price per hour of the device the run used (the
pilot's ``roi.price_per_device_hour`` when set, else ``PRICE_PER_HOUR`` by device string, then kind), plus
the device-hours of retried runs' earlier attempts, priced the same way by the device each ran on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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


def _price(device: str, pilot: Pilot, settings: Settings) -> float | None:
    """Price per device-hour: the pilot's ``roi.price_per_device_hour`` when set, else the device's."""
    override = pilot.roi.get("price_per_device_hour")
    if isinstance(override, int | float) and not isinstance(override, bool):
        return float(override)
    return settings.price_for(device)


def _priced(hours_by_device: Mapping[str, float], pilot: Pilot, settings: Settings) -> float | None:
    """Money for device-hours per device string, each at its device's price; None when one has no price."""
    total = 0.0
    for device, hours in hours_by_device.items():
        price = _price(device, pilot, settings)
        if price is None:
            return None
        total += hours * price
    return total


def earlier_hours(run: Run) -> float:
    """Device-hours of the run's attempts before its retries (the last attempt's are in ``run.cost``)."""
    return sum(run.earlier_device_hours.values(), 0.0)


def run_cost(run: Run, pilot: Pilot, settings: Settings) -> float | None:
    """Money one run has cost so far: the device-hours its last attempt recorded (none before it ends) and
    those of its attempts before a retry, each at its device's price; None when a device has no price."""
    spent = dict(run.earlier_device_hours)
    hours = (run.cost or {}).get("device_hours")
    if isinstance(hours, int | float) and not isinstance(hours, bool):
        device = run.device or ""
        spent[device] = spent.get(device, 0.0) + float(hours)
    return _priced(spent, pilot, settings)


def progress(summary: PilotProgress, runs: Sequence[Run] | None, settings: Settings) -> Progress:
    """Progress of a pilot, with the money spent so far (None when a device it ran on has no price)."""
    cost: float | None = None
    if runs is not None:
        costs = [run_cost(run, summary.pilot, settings) for run in runs]
        cost = None if any(c is None for c in costs) else sum(c or 0.0 for c in costs)
    else:  # a list: the store's per-device hours (earlier attempts included) give the same sum without the runs
        cost = _priced(summary.device_hours_by_device, summary.pilot, settings)
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
