"""Device time of the training steps: the cost basis of a run, robust to a machine shared with others.

What is timed: each epoch's training steps (batch preparation, forward, loss, backward, optimizer step and
the loop's own bookkeeping), never evaluation, stability metrics, checkpoints, the ``on_epoch`` callback or
the poll of ``should_stop`` between batches (a heartbeat written to the database is waiting, not training).

The rule (docs/design.md §4, "cost is the device time of the training steps"):
- On CUDA, a pair of ``torch.cuda.Event(enable_timing=True)`` per epoch, recorded around the epoch's steps
  and synchronised once at its end. The events time the GPU's own stream, so load on the host does not
  enter it (a host stall would only count once it drained the GPU's queue: the poll between batches does
  not, it is a rate-limited write once a second). Cost = the sum over epochs (``cost_basis="cuda_events"``).
- On the CPU, per epoch, the wall time of the steps (``perf_counter``, the poll between batches paused out)
  and, beside it, the process CPU time of the same stretches (``process_time``). Cost = the MEDIAN epoch's
  step time × epochs (``cost_basis="median_epoch_steps"``).

Why the median epoch: every epoch of a run does the same work (same steps, same batch size), so their times
differ only by what the machine did meanwhile. Another process's burst of load slows some epochs; the
median drops any burst that covers fewer than half of them, and the first epoch's warm-up (allocator,
first touch of pages) as well. (Identical runs on this project's shared 2-core machine once took 14.9 s
and 84.7 s of wall time.)
Why not wall time: it counts evaluation, checkpoints and the heartbeat, which differ between arms (the
stability metrics of a regularized arm evaluate K sub-models; ``none`` has none) and are not the training
cost a retrain pays; and every second another process holds the CPU lands on whichever arm ran then.
Why not CPU time as the basis: it counts the busy time of all the process's threads (OpenMP workers spin
while they wait), so it scales with the thread count and is not in device-hours; it is kept beside the
basis because CPU seconds / step seconds says how many cores a run really had (a drop means it was starved).
What no rule here fixes: load that lasts the whole run. On the shared 2-core machine, digits ``none`` took
3.5 s (15 epochs, this basis) at load 1.5 and 117 s at load 6.6: two OpenMP threads that wait for each
other at every op slow down many times over when either is descheduled, and their spinning inflates CPU
time too. Queueing a pilot seed by seed spreads such load over all arms, and the comparability warning
(``backend.analysis.warnings``) names an arm whose seeds' throughput differs by more than 25%.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from typing import Any

import torch

CUDA_BASIS = "cuda_events"
CPU_BASIS = "median_epoch_steps"


class StepClock:
    """Times the training steps of one epoch at a time: ``start_epoch``, ``pause``/``resume``, ``stop_epoch``."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.cuda = device.type == "cuda"
        self._wall = 0.0
        self._cpu = 0.0
        self._since: tuple[float, float] | None = None
        self._start_event: Any = None

    def start_epoch(self) -> None:
        self._wall = self._cpu = 0.0
        if self.cuda:
            self._start_event = torch.cuda.Event(enable_timing=True)
            self._start_event.record(torch.cuda.current_stream(self.device))  # the run's device, not device 0
        self.resume()

    def pause(self) -> None:
        """Stop counting (CPU); on CUDA the events time the GPU stream, which the host's pause does not stop."""
        if self._since is not None:
            wall, cpu = self._since
            self._wall += time.perf_counter() - wall
            self._cpu += time.process_time() - cpu
            self._since = None

    def resume(self) -> None:
        if self._since is None:
            self._since = (time.perf_counter(), time.process_time())

    def stop_epoch(self) -> tuple[float, float | None]:
        """The epoch's step seconds (device time on CUDA, wall time on the CPU) and its CPU seconds (CPU only)."""
        self.pause()
        if self.cuda:
            end = torch.cuda.Event(enable_timing=True)
            end.record(torch.cuda.current_stream(self.device))
            end.synchronize()  # once per epoch: the steps before it are queued on the GPU by now
            return float(self._start_event.elapsed_time(end)) / 1000.0, None
        return self._wall, self._cpu


def robust_cost(
    step_seconds: Sequence[float],
    cpu_seconds: Sequence[float],
    *,
    cuda: bool,
    epochs: int,
    samples: int,
    wall_seconds: float,
    partial_seconds: float = 0.0,
) -> dict[str, Any]:
    """The timing fields of a run's cost dict from its per-epoch step times (see the module docstring).

    ``epochs`` is the number trained, which exceeds ``len(step_seconds)`` only for a run resumed from a
    checkpoint of an older version that kept no per-epoch times: the timed epochs then stand for all.
    ``device_hours`` is the robust device time; ``train_seconds`` the plain sum of the timed epochs' step
    times; ``samples_per_second`` the unique training samples over the robust time.
    ``partial_seconds`` is the step time of an epoch stopped part-way (a cancelled run): it was spent, so the
    device time counts it (issue 16: cost so far counts every second of compute), but no median comes from it.
    """
    timed = len(step_seconds)
    median = statistics.median(step_seconds) if timed else 0.0
    device_seconds = (sum(step_seconds) * epochs / timed if timed else 0.0) if cuda else median * epochs
    device_seconds += partial_seconds
    cost: dict[str, Any] = {
        "cost_basis": CUDA_BASIS if cuda else CPU_BASIS,
        "device_seconds": device_seconds,
        "device_hours": device_seconds / 3600.0,
        "train_seconds": sum(step_seconds),
        "step_seconds_median_epoch": median,
        "epochs_timed": timed,
        "wall_seconds": wall_seconds,
        "wall_hours": wall_seconds / 3600.0,
        "samples_per_second": samples / device_seconds if device_seconds > 0 else None,
    }
    if partial_seconds:
        cost["partial_epoch_seconds"] = partial_seconds
    if not cuda:
        cost["cpu_seconds"] = sum(cpu_seconds)
    return cost
