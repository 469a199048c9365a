"""Comparability warnings, shown wherever results are: what could make a comparison unfair or provisional."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from backend.store.entities import ACTIVE_STATUSES, MetricPoint, Run, RunStatus
from pilot_spec.metrics import DROP_RATE

DROP_RATE_TOLERANCE = 0.02
# An arm's runs do the same work; samples/s of the robust device time (rblock.step_clock) that differ by more
# than this across its seeds (max / min - 1) mean the machine, not the arm, set part of its cost.
THROUGHPUT_TOLERANCE = 0.25


def comparability_warnings(
    runs: Sequence[Run], points: Sequence[MetricPoint], arm_params: dict[str, dict[str, object]]
) -> list[str]:
    """Plain-language warnings for a pilot's results (an empty list when all is comparable)."""
    out: list[str] = []
    active = [r for r in runs if r.status in ACTIVE_STATUSES]
    if active:
        out.append(f"Provisional: {len(active)} of {len(runs)} runs are still queued or running.")
    if runs and all(r.status in (RunStatus.FAILED, RunStatus.CANCELLED) for r in runs):
        out.append("Every run failed or was cancelled: there are no results to compare.")
    left_out = [r for r in runs if r.status in (RunStatus.FAILED, RunStatus.CANCELLED)]
    if left_out:
        names = ", ".join(f"{r.arm} seed {r.seed} ({r.status.value})" for r in left_out[:8])
        more = f" and {len(left_out) - 8} more" if len(left_out) > 8 else ""
        out.append(f"Left out of the comparison: {names}{more}.")
    done = [r for r in runs if r.status == RunStatus.SUCCEEDED]
    kinds = sorted({str((r.cost or {}).get("device_name") or (r.cost or {}).get("device_kind") or "?") for r in done})
    if len(kinds) > 1:
        out.append(f"Runs ran on different devices ({', '.join(kinds)}): training costs are not directly comparable.")
    seeds: dict[str, set[int]] = defaultdict(set)
    epochs: dict[str, set[int]] = defaultdict(set)
    for run in done:
        seeds[run.arm].add(run.seed)
        epochs[run.arm].add(run.epochs_done)
    if len({frozenset(s) for s in seeds.values()}) > 1:
        counts = ", ".join(f"{arm}: {len(s)}" for arm, s in sorted(seeds.items()))
        out.append(f"Arms finished different seeds ({counts}): the paired test is not used for every arm.")
    if len({e for s in epochs.values() for e in s}) > 1:
        out.append("Arms trained for different numbers of epochs.")
    out.extend(_drop_rate_warnings(done, points, arm_params))
    out.extend(throughput_warnings(done))
    return out


def throughput_warnings(done: Sequence[Run]) -> list[str]:
    """One warning per arm whose runs' throughput varies by more than ``THROUGHPUT_TOLERANCE`` across seeds."""
    by_arm: dict[str, list[tuple[Run, float]]] = defaultdict(list)
    for run in done:
        rate = (run.cost or {}).get("samples_per_second")
        if isinstance(rate, int | float) and rate > 0:
            by_arm[run.arm].append((run, float(rate)))
    out = []
    for arm, runs in sorted(by_arm.items()):
        rates = [rate for _, rate in runs]
        if len(runs) > 1 and max(rates) / min(rates) - 1 > THROUGHPUT_TOLERANCE:
            listed = ", ".join(
                f"seed {run.seed} (run {run.id}) {rate:,.0f}/s" for run, rate in sorted(runs, key=lambda r: r[0].seed)
            )
            out.append(
                f"Arm {arm}'s training throughput varies {max(rates) / min(rates):.2f}x across its seeds ({listed}): "
                f"the machine's load, not the arm, set part of its cost: rerun the slow ones or read it with care."
            )
    return out


def _drop_rate_warnings(
    done: Sequence[Run], points: Sequence[MetricPoint], arm_params: dict[str, dict[str, object]]
) -> list[str]:
    # The last epoch's realised drop rate per run, averaged per arm; compared between arms at the same target.
    last: dict[int, tuple[int, float]] = {}
    for p in points:
        if p.key == DROP_RATE and (p.run_id not in last or p.epoch > last[p.run_id][0]):
            last[p.run_id] = (p.epoch, p.value)
    realised: dict[str, list[float]] = defaultdict(list)
    for run in done:
        if run.id in last:
            realised[run.arm].append(last[run.id][1])
    by_target: dict[object, list[tuple[str, float]]] = defaultdict(list)
    for arm, values in realised.items():
        target = arm_params.get(arm, {}).get("drop_prob")
        if target is not None:
            by_target[target].append((arm, sum(values) / len(values)))
    out = []
    for target, arms in by_target.items():
        rates = [rate for _, rate in arms]
        if len(arms) > 1 and max(rates) - min(rates) > DROP_RATE_TOLERANCE:
            listed = ", ".join(f"{arm} {rate:.3f}" for arm, rate in arms)
            out.append(
                f"Arms that target drop rate {target} realised different rates ({listed}): "
                f"the comparison is not at equal regularization strength."
            )
    return out
