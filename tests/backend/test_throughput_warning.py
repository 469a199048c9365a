"""The comparability warning for an arm whose throughput varies across its seeds (issue 11 §2)."""

from __future__ import annotations

from datetime import UTC, datetime

from backend.analysis.warnings import THROUGHPUT_TOLERANCE, comparability_warnings, throughput_warnings
from backend.store.entities import Run, RunStatus

NOW = datetime(2026, 11, 27, tzinfo=UTC)


def _run(run_id: int, arm: str, seed: int, samples_per_second: float | None) -> Run:
    cost = {"device_hours": 0.01, "device_kind": "cpu", "device_name": "cpu", "samples_per_second": samples_per_second}
    return Run(
        id=run_id, pilot_id=1, arm_id=1, arm=arm, seed=seed, status=RunStatus.SUCCEEDED, attempts=1, queue="cpu",
        config={}, epochs_total=3, epochs_done=3, queued_at=NOW, started_at=NOW, finished_at=NOW, heartbeat_at=NOW,
        worker_host="h", device="cpu", cancel_requested=False, error=None, cost=cost,
        final_metrics={"test_acc": 0.9}, predictions=[0, 1],
    )  # fmt: skip


def test_an_arm_whose_throughput_varies_over_a_quarter_is_named_with_its_runs() -> None:
    runs = [
        _run(11, "none", 0, 1000.0),
        _run(12, "none", 1, 1300.0),  # 30% faster than seed 0: warned
        _run(21, "rblock_s", 0, 500.0),
        _run(22, "rblock_s", 1, 600.0),  # 20%: within the tolerance
        _run(31, "dropblock", 0, 900.0),
        _run(32, "dropblock", 1, None),  # an old run without the figure is left out, not counted as 0
    ]
    (warning,) = throughput_warnings(runs)
    assert warning.startswith("Arm none's training throughput varies 1.30x across its seeds")
    assert "seed 0 (run 11) 1,000/s" in warning and "seed 1 (run 12) 1,300/s" in warning
    assert "rblock_s" not in warning
    assert warning in comparability_warnings(runs, [], {})


def test_the_tolerance_edge_and_single_runs() -> None:
    at_edge = [_run(1, "none", 0, 1000.0), _run(2, "none", 1, 1000.0 * (1 + THROUGHPUT_TOLERANCE))]
    assert throughput_warnings(at_edge) == []
    assert throughput_warnings([_run(1, "none", 0, 1000.0)]) == []
    over = [*at_edge, _run(3, "none", 2, 790.0)]
    assert len(throughput_warnings(over)) == 1
