"""The store's interface, as the API, the worker and the CLI use it: :class:`PilotStore`.

``backend.store.Store`` implements it (a typed test holds it to that); tests and tools may hold any other
object that does. Entities are in ``entities.py`` (frozen dataclasses; datetimes are timezone-aware UTC).
Every method is keyword-only and runs in its own transaction; ORM rows never leave the store.

Run statuses and the moves between them are :mod:`pilot_spec.status`; every status change below is a
conditional UPDATE guarded by that table, so a move it lacks is refused (``Conflict``) and two writers
never both win one move.

Fencing: a worker passes its attempt number (``Run.attempts`` after its claim) to ``heartbeat``,
``write_points`` and ``finish_run``. The write then happens only while that attempt owns the run (status
running or cancelling, attempts unchanged); else it raises ``Superseded`` and changes nothing, so a worker
that hung, was requeued and woke up again cannot overwrite what the next attempt wrote.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Concatenate, ParamSpec, Protocol, TypeVar, runtime_checkable

from sqlalchemy import Engine

from backend.store.accounts import Accounts
from backend.store.annotations import Annotations
from backend.store.decisions import Decisions
from backend.store.entities import (
    MetricPoint,
    MetricSeries,
    MetricSeriesJson,
    Pilot,
    PilotProgress,
    Run,
    ThroughputPoint,
    Worker,
)
from backend.store.extension import Extensions
from backend.store.installation import Installation
from backend.store.lease import Leases
from backend.store.pilots import Pilots
from backend.store.runs import Runs
from backend.store.usage import Usage
from backend.store.versions import Versions

P = ParamSpec("P")
R = TypeVar("R")


def declared_by(
    implementation: Callable[Concatenate[Any, P], R],
) -> Callable[[Callable[..., object]], Callable[Concatenate[Any, P], R]]:
    """Declare an interface method with the signature (and docstring) of ``implementation``: a long keyword
    list is written once, where it is used, and a caller typed against the interface is still checked."""

    def declare(_stub: Callable[..., object]) -> Callable[Concatenate[Any, P], R]:
        return implementation

    return declare


@runtime_checkable
class PilotStore(Protocol):
    """Pilots, runs, metric points, workers and cost history, plus the smaller stores as attributes."""

    url: str
    engine: Engine
    accounts: Accounts  # users, API tokens, browser sessions
    decisions: Decisions  # append-only decisions on a pilot, each with its frozen snapshot
    annotations: Annotations  # a pilot's notes and tags
    installation: Installation  # the deployment's one row: the artifact store's id
    extensions: Extensions  # more seeds or arms for a pilot; a sequential pilot's rounds
    usage: Usage  # what a user has running and spent, for the spending limits
    versions: Versions  # each pilot's version, bumped by every write its summary reads
    leases: Leases  # one holder at a time of a named job (the reconciler)

    # -- the database -----------------------------------------------------------------------------------

    def upgrade(self) -> None:
        """Create or migrate the schema to the newest revision (the service calls it at start)."""

    def ping(self) -> None:
        """Raise ``StoreUnavailable`` with one clear line when the database cannot be reached."""

    def dispose(self) -> None:
        """Close the engine's connections."""

    # -- pilots ------------------------------------------------------------------------------------------

    # Declared by the implementation's own signature (long keyword lists, one source): it creates a pilot with
    # its arms and its runs, all queued (on ``run_queue`` or ``queue``), in one transaction; ``NotFound`` when
    # a run names an arm the pilot lacks.
    @declared_by(Pilots.create_pilot)
    def create_pilot(self) -> None: ...

    def get_pilot(self, *, pilot_id: int) -> Pilot:
        """The pilot with its arms; ``NotFound``."""

    def list_pilots(
        self, *, status: str | None = None, offset: int = 0, limit: int = 50, search: str = "", sort: str = "-created"
    ) -> tuple[list[PilotProgress], int]:
        """A page of pilots with their progress, and how many match; ``status`` filters on the pilot status
        (``pilot_spec.status.pilot_status``), ``search`` keeps pilots whose name, description, owner or tags
        hold every word, ``sort`` is one of ``pilot_spec.listing``'s columns (``-`` first: descending)."""

    def pilot_progress(self, *, pilot_id: int) -> PilotProgress:
        """The pilot with its run counts per status, epochs, device hours and time span; ``NotFound``."""

    def update_roi(self, *, pilot_id: int, roi: dict[str, Any]) -> Pilot:
        """Replace the pilot's ROI inputs; ``NotFound``."""

    def delete_pilot(self, *, pilot_id: int) -> None:
        """Delete the pilot, its runs and their points; ``Conflict`` while a run is active."""

    # -- runs --------------------------------------------------------------------------------------------

    def list_runs(self, *, pilot_id: int) -> list[Run]:
        """The pilot's runs in id order; ``NotFound`` when the pilot does not exist."""

    def get_run(self, *, run_id: int) -> Run:
        """The run; ``NotFound``."""

    def claim_run(self, *, run_id: int, worker_host: str, device: str, stale_after_s: float) -> Run | None:
        """queued -> running (attempts + 1, started and heartbeat now), or take over a running or
        cancelling run whose heartbeat is older than ``stale_after_s`` (a resume). A queued run whose
        cancel was requested becomes cancelled. None when the run is not claimable."""

    def heartbeat(self, *, run_id: int, epochs_done: int | None = None, attempt: int | None = None) -> bool:
        """The worker is alive (and its progress); returns whether a cancel was requested. Fenced."""

    # Declared by the implementation's signature: the run's final status and results. Fenced; a repeated
    # fenced call that already won returns the run. Unfenced, a move the life cycle lacks raises ``Conflict``.
    @declared_by(Runs.finish_run)
    def finish_run(self) -> None: ...

    def request_cancel(self, *, run_id: int) -> Run:
        """queued -> cancelled; running -> cancelling (its worker stops at its next heartbeat); a
        cancelling run is returned as it is; a finished one raises ``Conflict``."""

    def cancel_pilot(self, *, pilot_id: int) -> list[Run]:
        """Cancel every queued or running run of the pilot as above; returns the runs it changed."""

    def retry_run(self, *, run_id: int) -> Run:
        """failed | cancelled -> queued, from scratch (attempts 0, points deleted); else ``Conflict``."""

    def requeue_stale(self, *, stale_after_s: float, max_attempts: int) -> tuple[list[Run], list[Run]]:
        """Running runs with an old heartbeat go back to queued, or to failed once attempts reach
        ``max_attempts`` ("worker lost N times"); cancelling ones become cancelled. (requeued, failed)."""

    def queued_runs(self, *, older_than_s: float = 0) -> list[Run]:
        """Queued runs queued at least ``older_than_s`` seconds ago."""

    def queued_counts(self, *, sent_before_s: float = 0) -> dict[str, int]:
        """Queued runs per queue whose last send to the broker is at least ``sent_before_s`` old."""

    def mark_resent(self, *, queue: str, limit: int, sent_before_s: float) -> list[Run]:
        """Up to ``limit`` such runs of ``queue``, least recently sent first, stamped as sent now by a
        conditional update: the reconciler sends them again when the broker lost their messages."""

    def count_runs_by_status(self) -> dict[str, int]:
        """Every pilot's runs per status (the ``/metrics`` gauges)."""

    # -- metric points: (key, epoch, value), idempotent on (run, key, epoch); NaN and +-inf survive -------

    def write_points(self, *, run_id: int, points: Sequence[tuple[str, int, float]], attempt: int | None = None) -> int:
        """Upsert the points (the newest value of a point wins) and their series; returns how many. Fenced."""

    def get_points(self, *, run_ids: Sequence[int], keys: Sequence[str] | None = None) -> list[MetricPoint]:
        """Points of these runs (of ``keys`` when given), by run, key and epoch."""

    def get_series(self, *, run_ids: Sequence[int], keys: Sequence[str] | None = None) -> list[MetricSeries]:
        """Each (run, key) history, parsed: a row per series."""

    def get_series_json(self, *, run_ids: Sequence[int], keys: Sequence[str] | None = None) -> list[MetricSeriesJson]:
        """Each (run, key) history as its stored JSON arrays, for callers that pass them on unparsed."""

    # -- workers and cost history ------------------------------------------------------------------------

    def worker_seen(self, *, name: str, host: str, device: str, queues: list[str], current_run_id: int | None) -> None:
        """A worker process reports itself (and the run it trains)."""

    def list_workers(self, *, seen_within_s: float) -> list[Worker]:
        """Workers seen in the last ``seen_within_s`` seconds, by name."""

    def throughput_history(self, *, model: str, dataset: str, device_kind: str) -> list[ThroughputPoint]:
        """Samples per second of succeeded runs of this model and dataset on this device kind."""
