"""Helpers for the analysis tests: pilots and runs built in memory for the analysis functions, and pilots on
the real API whose runs finish (all at once, or a sequential pilot's rounds as the reconciler drives them)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from backend.catalog import get_catalog
from backend.rounds import advance_sequential
from backend.store.entities import Arm, Pilot, Run, RunStatus
from tests.support.api import Api, create_pilot, start

NOW = datetime(2026, 11, 27, tzinfo=UTC)
# Each arm's test accuracy by seed in ``finished_pilot``.
ACCURACY = {"none": (0.950, 0.955, 0.948), "rblock_s": (0.975, 0.980, 0.972)}

# --- In memory, for the analysis functions ----------------------------------------------------------------


def make_run(run_id: int, arm: str, seed: int, acc: float | None, *, status: RunStatus = RunStatus.SUCCEEDED,
             hours: float = 0.01, device: str = "cpu", predictions: list[int] | None = None,
             extra: dict[str, Any] | None = None, labels: list[int] | None = None) -> Run:  # fmt: skip
    """A run of pilot 1 as the store returns it, finished with ``acc`` as its test accuracy (no metrics if None)."""
    metrics = None if acc is None else {"test_acc": acc, "ece": 0.02, "flip_rate": 0.01, **(extra or {})}
    return Run(
        id=run_id, pilot_id=1, arm_id=1, arm=arm, seed=seed, status=status, attempts=1, queue="cpu", config={},
        epochs_total=3, epochs_done=3, queued_at=NOW, started_at=NOW, finished_at=NOW, heartbeat_at=NOW,
        worker_host="h", device=device, cancel_requested=False, error=None,
        cost={"device_hours": hours, "device_kind": device, "device_name": device, "samples_per_second": 100.0},
        final_metrics=metrics, predictions=predictions or [0, 1, 2, 3], test_labels=labels,
    )  # fmt: skip


def make_pilot(arms: dict[str, dict[str, Any]], roi: dict[str, Any] | None = None, baseline: str = "none") -> Pilot:
    """Pilot 1 as the store returns it, with ``arms`` (name: params) and seeds 0, 1, 2."""
    return Pilot(
        id=1, name="p", description="", dataset="digits", dataset_params={}, model="small_cnn", width=None,
        training={}, seeds=[0, 1, 2], baseline_arm=baseline, roi=roi or {}, budget_cap=None, queue="cpu",
        created_by=None, created_at=NOW, updated_at=NOW,
        arms=[Arm(i, 1, name, name, params) for i, (name, params) in enumerate(arms.items())],
    )  # fmt: skip


# --- On the real API --------------------------------------------------------------------------------------


def finished_pilot(api: Api, **overrides: Any) -> dict[str, Any]:
    """A pilot created through the API, three seeds of each arm succeeded with ``ACCURACY``; as the API returns it."""
    pilot = create_pilot(api, name="Pilot <b>ünïcode</b>", seeds=3, **overrides)
    for run in pilot["runs"]:
        start(api.store, run["id"])
        acc = ACCURACY[run["arm"]][run["seed"]]
        hours = 0.02 if run["arm"] == "rblock_s" else 0.01
        api.store.write_points(
            run_id=run["id"], points=[(k, e, acc - 0.1 / e) for e in (1, 2) for k in ("test_acc", "train_loss")]
        )
        api.store.finish_run(
            run_id=run["id"], status=RunStatus.SUCCEEDED,
            cost={"device_hours": hours, "device_kind": "cpu", "device_name": "cpu", "samples_per_second": 900.0},
            final_metrics={"test_acc": acc, "ece": 0.02, "flip_rate": 0.01, "inconsistency_kl": 0.01},
            predictions=[0, 1, 2, 3],
        )  # fmt: skip
    return pilot


def finish_round(api: Api, pilot_id: int, acc: Callable[[Run], float], hours: dict[str, float]) -> int:
    """Run every queued run of the pilot as a worker would; returns how many."""
    queued = [r for r in api.store.list_runs(pilot_id=pilot_id) if r.status == RunStatus.QUEUED]
    for run in queued:
        start(api.store, run.id)
        cost = {"device_hours": hours[run.arm], "device_kind": "cpu", "device_name": "cpu", "samples_per_second": 1e3}
        api.store.finish_run(run_id=run.id, status=RunStatus.SUCCEEDED, cost=cost, final_metrics={"test_acc": acc(run)})
    return len(queued)


def advance(api: Api) -> dict[int, str]:
    """One pass of the reconciler's sequential rounds: pilot id -> what it did."""
    return advance_sequential(store=api.store, queue=api.queue, settings=api.settings, catalog=get_catalog())
