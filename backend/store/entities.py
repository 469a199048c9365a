"""Plain entities the store returns: no SQLAlchemy objects leave the store (MLflow's layering)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

# The statuses and the run life cycle are the shared contract's (pilot_spec.status); re-exported here
# because the store's entities carry them.
from pilot_spec.status import ACTIVE_STATUSES as ACTIVE_STATUSES
from pilot_spec.status import FINISHED_STATUSES as FINISHED_STATUSES
from pilot_spec.status import PilotStatus as PilotStatus
from pilot_spec.status import RunStatus as RunStatus


class StoreError(Exception):
    """Base of the store's errors."""


class NotFound(StoreError):
    """The pilot or run does not exist."""


class Conflict(StoreError):
    """The request does not fit the current state (cancel a finished run, delete an active pilot)."""


class Superseded(StoreError):
    """A worker's write for an attempt that no longer owns its run: the run was requeued or claimed again.

    Raised by the fenced writes (``heartbeat``, ``write_points``, ``finish_run`` given ``attempt``); the
    worker stops that run and writes nothing more (a hung worker woken after its run moved on).
    """


@dataclass(frozen=True)
class ArmInput:
    """An arm to create: its label within the pilot, its regularizer and parameters."""

    name: str
    regularizer: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RunInput:
    """A run to create: which arm (by label), which seed, and the full training config (JSON)."""

    arm: str
    seed: int
    config: dict[str, Any]
    epochs_total: int


@dataclass(frozen=True)
class Arm:
    id: int
    pilot_id: int
    name: str
    regularizer: str
    params: dict[str, Any]


@dataclass(frozen=True)
class Run:
    id: int
    pilot_id: int
    arm_id: int
    arm: str
    seed: int
    status: RunStatus
    attempts: int
    queue: str
    config: dict[str, Any]
    epochs_total: int
    epochs_done: int
    queued_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    heartbeat_at: datetime | None
    worker_host: str | None
    device: str | None
    cancel_requested: bool
    error: str | None
    cost: dict[str, Any] | None
    final_metrics: dict[str, Any] | None
    predictions: list[int] | None
    test_labels: list[int] | None = None  # same order as predictions; None on runs stored before 0005
    # Device string -> device-hours of the attempts before its retries: in the money spent so far, not in
    # ``cost`` (the last attempt's, which the analysis reads).
    earlier_device_hours: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Pilot:
    id: int
    name: str
    description: str
    dataset: str
    dataset_params: dict[str, Any]
    model: str
    width: int | None
    training: dict[str, Any]
    seeds: list[int]
    baseline_arm: str
    roi: dict[str, Any]
    budget_cap: float | None
    queue: str
    created_by: str | None
    created_at: datetime
    updated_at: datetime
    arms: list[Arm] = field(default_factory=list)
    sequential: dict[str, Any] | None = None  # backend.analysis.sequential's state; None: a fixed design


@dataclass(frozen=True)
class PilotProgress:
    """A pilot with its run counts and progress (not its statistics: that is ``backend.analysis``)."""

    pilot: Pilot
    status: PilotStatus  # derived from runs_by_status by pilot_spec.status.pilot_status
    runs_by_status: dict[str, int]
    epochs_done: int
    epochs_total: int
    device_hours: float
    started_at: datetime | None
    finished_at: datetime | None
    device_hours_by_device: dict[str, float] = field(default_factory=dict)  # device string -> hours


@dataclass(frozen=True)
class MetricPoint:
    run_id: int
    key: str
    epoch: int
    value: float


@dataclass(frozen=True)
class ThroughputPoint:
    """One succeeded run's unique training samples per second and its arm's regularizer, for cost estimates."""

    samples_per_second: float
    regularizer: str


_NONFINITE = {1: float("nan"), 2: float("inf"), 3: float("-inf")}
NONFINITE_NAMES = {1: "NaN", 2: "Infinity", 3: "-Infinity"}


@dataclass(frozen=True)
class MetricSeries:
    """One metric of one run over epochs. ``values`` holds None where the value is not finite, and
    ``flags`` says which (0 finite, 1 NaN, 2 +inf, 3 -inf), so the arrays go to JSON as they are."""

    run_id: int
    key: str
    epochs: list[int]
    values: list[float | None]
    flags: list[int]

    def floats(self) -> list[float]:
        """The values with NaN and infinities restored."""
        if not any(self.flags):
            return [float(v) for v in self.values]  # type: ignore[arg-type]
        return [_NONFINITE[f] if f else float(v) for v, f in zip(self.values, self.flags, strict=True)]  # type: ignore[arg-type]


@dataclass(frozen=True)
class MetricSeriesJson:
    """A :class:`MetricSeries` as the stored JSON arrays, for callers that pass them on without parsing."""

    run_id: int
    key: str
    epochs: str
    values: str
    flags: str


@dataclass(frozen=True)
class Worker:
    name: str
    host: str
    device: str
    queues: list[str]
    current_run_id: int | None
    last_seen: datetime


@dataclass(frozen=True)
class User:
    """Someone who may sign in; the password hash stays in the store unless asked for by name."""

    id: int
    name: str
    role: str  # admin | engineer | viewer (backend.auth decides what each may do)
    must_change_password: bool
    disabled: bool
    created_at: datetime


@dataclass(frozen=True)
class ApiToken:
    """A token's record: never the token itself (shown once when made), only what tells it apart."""

    id: int
    user_id: int
    user_name: str
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


@dataclass(frozen=True)
class LoginSession:
    user: User
    csrf_token: str
    expires_at: datetime


@dataclass(frozen=True)
class Decision:
    """A recorded decision on a pilot; ``summary`` (canonical JSON text of the snapshot it rested on, whose
    SHA-256 is ``summary_sha256``) is filled only when one decision is read, not in lists."""

    id: int
    pilot_id: int
    decision: str  # adopt | reject | defer
    arm: str
    note: str
    decided_by: str
    decided_at: datetime
    provisional: bool
    summary_sha256: str
    summary: str | None = None
