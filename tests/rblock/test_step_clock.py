"""The cost basis of a run (rblock.step_clock): device time of the training steps, robust to what is not one."""

from __future__ import annotations

import statistics
import time
from typing import Any

import pytest
import torch

from rblock.config import TrainConfig
from rblock.regularizer import Regularizer
from rblock.step_clock import CPU_BASIS, CUDA_BASIS, robust_cost
from rblock.train import train_run

STEPS_PER_EPOCH = 22  # digits: 1437 training images, batch 64, last partial batch dropped


def _config(**overrides: Any) -> TrainConfig:
    base: dict[str, Any] = {"dataset": "digits", "epochs": 3, "batch_size": 64, "width": 8, "device": "cpu"}
    base.update(overrides)
    return TrainConfig(**base)


def test_cost_dict_has_the_robust_fields_and_device_hours_is_median_epoch_times_epochs() -> None:
    result = train_run(_config(arm="rblock_s", epochs=4))
    cost = result.cost
    steps = [h["epoch_seconds"] for h in result.history]
    assert cost["cost_basis"] == CPU_BASIS and cost["epochs_timed"] == 4
    assert cost["step_seconds_median_epoch"] == pytest.approx(statistics.median(steps), rel=1e-9)
    assert cost["device_seconds"] == pytest.approx(4 * statistics.median(steps), rel=1e-9)
    assert cost["device_hours"] == pytest.approx(cost["device_seconds"] / 3600, rel=1e-9)
    assert cost["train_seconds"] == pytest.approx(sum(steps), rel=1e-9)
    assert cost["wall_hours"] == pytest.approx(cost["wall_seconds"] / 3600, rel=1e-9)
    # The wall time holds the steps and more (data, evaluation, stability metrics).
    assert cost["wall_seconds"] > cost["train_seconds"] > 0
    assert cost["cpu_seconds"] > 0
    samples = 4 * STEPS_PER_EPOCH * 64
    assert cost["samples_per_second"] == pytest.approx(samples / cost["device_seconds"], rel=1e-9)
    for h in result.history:  # the per-epoch metric is over the same step time
        assert h["samples_per_second"] == pytest.approx(STEPS_PER_EPOCH * 64 / h["epoch_seconds"], rel=1e-9)


def test_sleeps_outside_the_steps_add_to_wall_time_only() -> None:
    """A slow heartbeat poll between batches and a slow on_epoch callback are waiting, not training."""
    poll_sleep, epoch_sleep, epochs = 0.05, 0.3, 3

    def slow_poll() -> bool:
        time.sleep(poll_sleep)
        return False

    def slow_callback(_epoch: int, _metrics: dict[str, float]) -> None:
        time.sleep(epoch_sleep)

    result = train_run(_config(epochs=epochs), should_stop=slow_poll, on_epoch=slow_callback)
    cost = result.cost
    # Each epoch polls once per batch.
    injected = epochs * (STEPS_PER_EPOCH * poll_sleep + epoch_sleep)
    assert cost["wall_seconds"] >= injected
    # The steps and the sleeps are disjoint stretches of the run: had the clock counted the polls (1.1 s an
    # epoch), the steps would not fit into what the wall time leaves beside the sleeps (data set-up and
    # evaluation of a width-8 model on 360 images take well under that).
    assert cost["train_seconds"] <= cost["wall_seconds"] - injected
    assert cost["device_seconds"] <= epochs * max(h["epoch_seconds"] for h in result.history)


def test_a_burst_of_load_in_one_epoch_does_not_move_the_cost(monkeypatch: pytest.MonkeyPatch) -> None:
    """Another process holding the machine during one epoch (simulated: every step of epoch 2 stalls)."""
    original = Regularizer.loss
    calls = 0
    stall = 0.03

    def stalled_in_epoch_2(self: Any, *args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if STEPS_PER_EPOCH < calls <= 2 * STEPS_PER_EPOCH:
            time.sleep(stall)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Regularizer, "loss", stalled_in_epoch_2)
    result = train_run(_config(epochs=5))
    steps = [h["epoch_seconds"] for h in result.history]
    others = steps[:1] + steps[2:]
    assert steps[1] >= STEPS_PER_EPOCH * stall  # the burst is in the plain sum ...
    assert result.cost["train_seconds"] >= sum(others) + STEPS_PER_EPOCH * stall
    # ... but not in the cost: the median epoch is one of the four undisturbed ones.
    assert min(others) * 5 <= result.cost["device_seconds"] <= max(others) * 5


def test_robust_cost_rules() -> None:
    cpu = robust_cost([1.0, 9.0, 2.0], [1.5, 2.0, 3.0], cuda=False, epochs=3, samples=300, wall_seconds=20.0)
    assert cpu["device_seconds"] == 6.0 and cpu["step_seconds_median_epoch"] == 2.0 and cpu["train_seconds"] == 12.0
    assert cpu["cpu_seconds"] == 6.5 and cpu["samples_per_second"] == 50.0 and cpu["cost_basis"] == CPU_BASIS
    cuda = robust_cost([1.0, 9.0, 2.0], [], cuda=True, epochs=3, samples=300, wall_seconds=20.0)
    assert cuda["device_seconds"] == 12.0 and cuda["cost_basis"] == CUDA_BASIS and "cpu_seconds" not in cuda
    # A run resumed from an older checkpoint that kept no per-epoch times: the timed epochs stand for all.
    resumed = robust_cost([2.0, 4.0], [1.0, 1.0], cuda=False, epochs=4, samples=400, wall_seconds=9.0)
    assert resumed["device_seconds"] == 12.0 and resumed["epochs_timed"] == 2
    # A cancelled run: the stopped epoch's steps were spent, so they count, beside the median of the whole ones.
    stopped = robust_cost([2.0, 4.0], [1.0, 1.0], cuda=False, epochs=2, samples=200, wall_seconds=9.0,
                          partial_seconds=1.5)  # fmt: skip
    assert stopped["device_seconds"] == 7.5 and stopped["partial_epoch_seconds"] == 1.5
    cancelled_first = robust_cost([], [], cuda=True, epochs=0, samples=0, wall_seconds=2.0, partial_seconds=0.5)
    assert cancelled_first["device_hours"] == 0.5 / 3600
    empty = robust_cost([], [], cuda=False, epochs=0, samples=0, wall_seconds=1.0)
    assert empty["device_hours"] == 0.0 and empty["samples_per_second"] is None


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_runs_are_timed_by_events() -> None:
    result = train_run(_config(device="cuda", epochs=2))
    cost = result.cost
    assert cost["cost_basis"] == CUDA_BASIS and "cpu_seconds" not in cost
    assert cost["device_seconds"] == pytest.approx(sum(h["epoch_seconds"] for h in result.history), rel=1e-9)
    assert 0 < cost["device_seconds"] < cost["wall_seconds"]
