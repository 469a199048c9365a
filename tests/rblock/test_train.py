"""train_run: reproducibility, resume, cancellation, NaN handling, metric names, accuracy on digits."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

import rblock.train as train_module
from rblock import ARMS
from rblock.config import ConfigError, TrainConfig
from rblock.train import TrainingError, train_run

EPOCH_METRICS = {
    "train_loss",
    "train_acc",
    "test_loss",
    "test_acc",
    "lr",
    "drop_rate",
    "epoch_seconds",
    "samples_per_second",
}
STABILITY_METRICS = {"inconsistency_kl", "flip_rate", "ece", "nll"}


def _config(**overrides: Any) -> TrainConfig:
    base: dict[str, Any] = {"dataset": "digits", "epochs": 2, "batch_size": 64, "width": 16, "device": "cpu"}
    base.update(overrides)
    return TrainConfig(**base)


def _without_timings(history: list[dict[str, float]]) -> list[dict[str, float]]:
    return [{k: v for k, v in h.items() if k not in {"epoch_seconds", "samples_per_second"}} for h in history]


def test_on_epoch_reports_the_design_metric_names() -> None:
    seen: list[tuple[int, dict[str, float]]] = []
    result = train_run(_config(arm="rblock_s", epochs=2, eval_every=1), on_epoch=lambda e, m: seen.append((e, m)))
    assert [e for e, _ in seen] == [1, 2]
    for _, metrics in seen:
        assert EPOCH_METRICS | {"consistency_kl"} | STABILITY_METRICS <= set(metrics)
        assert all(math.isfinite(v) for v in metrics.values())
    assert result.status == "succeeded" and result.epochs_completed == 2
    assert len(result.predictions) == 360 and len(result.labels) == 360
    hits = sum(p == y for p, y in zip(result.predictions, result.labels, strict=True))
    assert hits / 360 == pytest.approx(result.final_metrics["test_acc"], abs=1 / 360)  # labels in prediction order
    assert result.cost["device_kind"] == "cpu" and result.cost["device_name"] == "cpu"
    assert result.cost["device_hours"] == pytest.approx(result.cost["device_seconds"] / 3600)
    assert result.cost["peak_memory_bytes"] > 0 and result.cost["samples_per_second"] > 0
    assert result.cost["energy_joules"] is None
    assert {"torch", "torchvision", "numpy", "scikit-learn", "python"} <= set(result.versions)
    json.dumps(result.to_dict())  # the worker stores it as JSON


def test_single_pass_arms_have_no_consistency_kl_and_none_has_no_inconsistency() -> None:
    result = train_run(_config(arm="none", epochs=1))
    assert "consistency_kl" not in result.final_metrics
    assert "inconsistency_kl" not in result.final_metrics and "ece" in result.final_metrics
    assert result.final_metrics["drop_rate"] == 0.0


def test_same_seed_same_run_and_another_seed_differs() -> None:
    a = train_run(_config(arm="rblock_s"))
    b = train_run(_config(arm="rblock_s"))
    c = train_run(_config(arm="rblock_s", seed=1))
    assert _without_timings(a.history) == _without_timings(b.history)
    assert a.predictions == b.predictions
    assert _without_timings(a.history) != _without_timings(c.history)


@pytest.mark.parametrize("arm", ["rblock_s", "dropout"])
def test_resumed_run_ends_like_an_uninterrupted_one(arm: str, tmp_path: Path) -> None:
    config = _config(arm=arm, epochs=4, eval_every=2)
    uninterrupted = train_run(config, checkpoint_dir=tmp_path / "a")

    epochs_done: list[int] = []
    stop_after_epoch_2 = lambda: len(epochs_done) >= 2  # noqa: E731
    first = train_run(
        config,
        on_epoch=lambda e, _m: epochs_done.append(e),
        should_stop=stop_after_epoch_2,
        checkpoint_dir=tmp_path / "b",
    )
    assert first.status == "cancelled" and first.epochs_completed == 2
    resumed = train_run(config, checkpoint_dir=tmp_path / "b")
    assert resumed.status == "succeeded" and resumed.epochs_completed == 4
    assert _without_timings(resumed.history) == _without_timings(uninterrupted.history)
    assert resumed.predictions == uninterrupted.predictions
    assert resumed.final_test_acc == uninterrupted.final_test_acc


def test_checkpoint_of_another_config_is_refused(tmp_path: Path) -> None:
    train_run(_config(epochs=1), checkpoint_dir=tmp_path)
    with pytest.raises(TrainingError, match="belongs to another configuration"):
        train_run(_config(epochs=1, seed=5), checkpoint_dir=tmp_path)


def test_cancellation_stops_within_one_batch() -> None:
    polls = 0
    steps_after_stop: list[int] = []

    def should_stop() -> bool:
        nonlocal polls
        polls += 1
        return polls > 5

    original = train_module.Regularizer.loss

    def counting_loss(self: Any, *args: Any, **kwargs: Any) -> Any:
        if polls > 5:
            steps_after_stop.append(polls)
        return original(self, *args, **kwargs)

    train_module.Regularizer.loss = counting_loss  # type: ignore[method-assign]
    try:
        result = train_run(_config(epochs=3), should_stop=should_stop)
    finally:
        train_module.Regularizer.loss = original  # type: ignore[method-assign]
    assert result.status == "cancelled"
    assert result.epochs_completed == 0 and result.history == [] and result.predictions == []
    assert polls == 6 and steps_after_stop == []


def test_nan_loss_fails_with_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """A model that starts producing NaN stops the run with TrainingError instead of training on."""
    real_create = train_module.create_model

    class PoisonAfter(nn.Module):
        def __init__(self, inner: nn.Module) -> None:
            super().__init__()
            self.inner = inner
            self.calls = 0

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            self.calls += 1
            out = self.inner(x)
            return out * math.nan if self.calls > 3 else out

    monkeypatch.setattr(train_module, "create_model", lambda *a, **k: PoisonAfter(real_create(*a, **k)))
    with pytest.raises(TrainingError, match="NaN or infinite in epoch 1"):
        train_run(_config(epochs=2))


@pytest.mark.slow
@pytest.mark.parametrize("arm", list(ARMS))
def test_every_arm_learns_digits_in_15_epochs(arm: str) -> None:
    result = train_run(TrainConfig(dataset="digits", arm=arm, epochs=15, device="cpu"))
    assert result.final_test_acc is not None
    assert result.final_test_acc >= (0.95 if arm == "none" else 0.93), result.final_test_acc


def test_config_round_trips_through_json() -> None:
    config = _config(arm="rblock_b", arm_params={"alpha": 0.5})
    again = TrainConfig.from_json(config.to_json())
    assert again == config
    assert again.arm_params["groups"] == 8  # defaults are resolved and stored


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"dataset": "imagenet"}, "dataset must be one of digits"),
        ({"model": "vgg"}, "model must be one of small_cnn, resnet18"),
        ({"epochs": 0}, "epochs must be an integer from 1"),
        ({"batch_size": 1}, "batch_size must be an integer from 2"),
        ({"lr": -1.0}, "lr must be a number in"),
        ({"lr": math.nan}, "lr must be a number in"),
        ({"optimizer": "lbfgs"}, "optimizer must be one of sgd, adamw"),
        ({"lr_schedule": "step"}, "lr_schedule must be one of cosine, onecycle, constant"),
        ({"warmup_epochs": 3.0}, "warmup_epochs must be a number from 0 to less than epochs"),
        ({"device": "tpu"}, "device must be auto, cpu, cuda or cuda:N"),
        ({"label_noise": 1.0}, "label_noise must be a fraction"),
        ({"arm": "rblock_s", "arm_params": {"alpha": -1}}, "arm: rblock_s.alpha must be a number"),
        ({"momentum": 0.0}, "nesterov needs momentum > 0"),
    ],
)
def test_bad_config_raises_config_error(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        _config(**overrides)


def test_unknown_json_field_and_bad_json_raise() -> None:
    with pytest.raises(ConfigError, match="unknown config field\\(s\\) colour"):
        TrainConfig.from_dict({"colour": "red"})
    with pytest.raises(ConfigError, match="not valid JSON"):
        TrainConfig.from_json("{nope")


def test_cuda_asked_for_on_a_machine_without_one() -> None:
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    with pytest.raises(ValueError, match="no CUDA GPU"):
        train_run(_config(device="cuda"))
