"""The training loop: one run of one arm and seed, measured for accuracy, cost and stability.

``train_run`` is a plain function whose parameters are its inputs, so the Celery worker stays a thin
adapter (fetch the run, call this, write what ``on_epoch`` reports) and a researcher can call it from a
terminal. Data live on the training device as tensors (no DataLoader workers, no per-sample Python);
a run checkpoints every epoch and resumes from its checkpoint with the same final result as an
uninterrupted run (on the CPU, same thread count).
"""

from __future__ import annotations

import math
import os
import platform
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

import rblock
from pilot_spec.data_root import WEIGHTS_HINT
from pilot_spec.metrics import (
    CONSISTENCY_KL,
    DROP_RATE,
    ECE,
    EPOCH_SECONDS,
    FLIP_RATE,
    INCONSISTENCY_KL,
    LR,
    NLL,
    SAMPLES_PER_SECOND,
    TEST_ACC,
    TEST_LOSS,
    TRAIN_ACC,
    TRAIN_LOSS,
)
from pilot_spec.models import HUB_WEIGHTS
from pilot_spec.status import RunStatus
from rblock.config import TrainConfig
from rblock.data import DatasetSplit, StreamingSplit, batches_for, open_dataset, resolve_data_root
from rblock.data.paths import confine
from rblock.device import CostMeter, device_name, resolve_device, synchronize, tune_cpu_allocator
from rblock.metrics import (
    AfterBatch,
    Inputs,
    accuracy,
    expected_calibration_error,
    nll,
    predict,
    sub_model_stability,
)
from rblock.models import create_model, drop_sites
from rblock.regularizer import Regularizer, create_regularizer
from rblock.schedules import build_optimizer, lr_factor
from rblock.step_clock import StepClock, robust_cost

CHECKPOINT_NAME = "checkpoint.pt"
# Reading the loss back from a GPU stalls its queue: check for NaN every this many steps (and each epoch end).
_NONFINITE_CHECK_EVERY = 25
_POWER_SAMPLE_EVERY = 50

OnEpoch = Callable[[int, dict[str, float]], None]
ShouldStop = Callable[[], bool]


class TrainingError(RuntimeError):
    """Training itself failed (a NaN or infinite loss, a checkpoint of another config): not worth a retry."""


@dataclass
class RunResult:
    """What one run returns; ``to_dict`` is JSON-serialisable.

    Attributes:
        status: ``succeeded`` or ``cancelled``.
        epochs_completed: Epochs fully trained.
        final_test_acc, best_test_acc: Test accuracy after the last epoch, and the best seen.
        final_metrics: The last epoch's metrics plus the final stability metrics.
        cost: ``device_hours`` (the robust device time of the training steps, ``rblock.step_clock``: CUDA
            events, or the median epoch × epochs on the CPU, named by ``cost_basis``), ``device_seconds``,
            ``train_seconds`` (the plain sum of the epochs' step times), ``step_seconds_median_epoch``,
            ``cpu_seconds`` (CPU only), ``wall_seconds``/``wall_hours`` (the whole run, evaluation included),
            ``device_kind``, ``device_name``, ``peak_memory_bytes``, ``samples_per_second`` (over the robust
            time) and ``energy_joules`` (None where not reported).
        config: The resolved configuration.
        versions: Library versions.
        predictions: Final test-set predictions (class ids), for seed churn.
        labels: The test set's labels in the same order as ``predictions`` (per-example correctness for the
            test-set part of the analysis's intervals).
        history: Per-epoch metrics, epoch numbers from 1.
    """

    status: RunStatus
    epochs_completed: int
    final_test_acc: float | None
    best_test_acc: float | None
    final_metrics: dict[str, float]
    cost: dict[str, Any]
    config: dict[str, Any]
    versions: dict[str, str]
    predictions: list[int] = field(default_factory=list)
    labels: list[int] = field(default_factory=list)
    history: list[dict[str, float]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def library_versions() -> dict[str, str]:
    import numpy
    import sklearn
    import torchvision

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "numpy": numpy.__version__,
        "scikit-learn": sklearn.__version__,
        "rblock": getattr(rblock, "__version__", "0.1.0"),
    }


@dataclass
class _State:
    """Everything a checkpoint must carry besides the model and optimizer."""

    epoch: int = 0
    step: int = 0
    best_test_acc: float | None = None
    train_seconds: float = 0.0
    epoch_step_seconds: list[float] = field(default_factory=list)  # per epoch; the cost basis (step_clock)
    epoch_cpu_seconds: list[float] = field(default_factory=list)
    samples_trained: int = 0
    energy_joules: float | None = None
    history: list[dict[str, float]] = field(default_factory=list)


Split = DatasetSplit | StreamingSplit
TestInputs = Callable[[], Inputs]
_EVAL_BATCH = 1024


def _test_inputs(data: Split, device: torch.device, batch_size: int) -> TestInputs:
    """The test images for one evaluation: the tensor of a set in memory, or a fresh pass over the batches of
    a streamed one (its loader processes persist between evaluations; the training batch size is one the
    memory budget holds)."""
    if isinstance(data, DatasetSplit):
        return lambda: data.test_x.to(device)
    batches = batches_for(
        data, batch_size, train=False, shuffle=False, augment=False, seed=0, device=device, drop_last=False
    )
    return lambda: (x for x, _ in batches.epoch(0))


def _evaluate(
    model: nn.Module, data: Split, inputs: TestInputs, device: torch.device, amp: bool, beat: AfterBatch | None = None
) -> tuple[dict[str, float], Tensor]:
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
        logits = predict(model, inputs(), batch_size=_EVAL_BATCH, after_batch=beat)
    y = data.test_y.to(device)
    return {TEST_LOSS: nll(logits, y), TEST_ACC: accuracy(logits, y)}, logits


def _stability(
    model: nn.Module,
    data: Split,
    inputs: TestInputs,
    logits: Tensor,
    device: torch.device,
    masks: int,
    amp: bool,
    beat: AfterBatch | None = None,
) -> dict[str, float]:
    y = data.test_y.to(device)
    out = {ECE: expected_calibration_error(logits.softmax(1), y), NLL: nll(logits, y)}
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
        stability = sub_model_stability(model, inputs(), masks=masks, batch_size=_EVAL_BATCH, after_batch=beat)
    if stability is not None:
        out[INCONSISTENCY_KL] = stability.inconsistency_kl
        out[FLIP_RATE] = stability.flip_rate
    return out


def _save_checkpoint(
    path: Path, config: TrainConfig, model: nn.Module, optimizer: torch.optim.Optimizer, state: _State
) -> None:
    payload = {
        "config": config.to_dict(),
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "state": asdict(state),
        "rng_cpu": torch.get_rng_state(),
        "rng_cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
    }
    tmp = path.with_suffix(".tmp")
    torch.save(payload, tmp)
    os.replace(tmp, path)  # atomic: a worker killed mid-write leaves the previous checkpoint intact


def _load_checkpoint(
    path: Path, config: TrainConfig, model: nn.Module, optimizer: torch.optim.Optimizer, device: torch.device
) -> _State:
    payload = torch.load(path, map_location=device, weights_only=False)
    if payload["config"] != config.to_dict():
        raise TrainingError(
            f"the checkpoint in {path.parent} belongs to another configuration; remove it or use another directory"
        )
    model.load_state_dict(payload["model"])
    optimizer.load_state_dict(payload["optimizer"])
    torch.set_rng_state(payload["rng_cpu"])
    if payload["rng_cuda"] is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(payload["rng_cuda"])
    return _State(**payload["state"])


def _weights(config: TrainConfig, root: Path) -> str | Path | None:
    """The starting weights: ``hub``, or the file inside the data root (never a path outside it)."""
    if config.weights is None or config.weights == HUB_WEIGHTS:
        return config.weights
    return confine(config.weights, root, what="weights", hint=WEIGHTS_HINT)


def _build(config: TrainConfig, device: torch.device) -> tuple[Split, Regularizer, nn.Module]:
    weights = _weights(config, resolve_data_root())
    normalisation = None
    if weights is not None:
        from rblock.zoo import model_normalisation  # deferred, as in rblock.models: timm takes ~0.4 s to import

        # Pretrained weights expect the images normalised as in their training, not by this set's statistics.
        normalisation = model_normalisation(config.model)
    # In memory when the set fits the data memory budget ($DATA_MEMORY_BYTES), else streamed from disk.
    data = open_dataset(
        config.dataset,
        data_seed=config.data_seed,
        label_noise=config.label_noise,
        normalisation=normalisation,
        **config.dataset_params,
    )
    torch.manual_seed(config.seed)
    regularizer = create_regularizer(config.arm, **config.arm_params)
    model = create_model(
        config.model,
        in_channels=data.in_channels,
        num_classes=data.num_classes,
        drop_layer=regularizer.drop_layer,
        width=config.width,
        weights=weights,
    ).to(device)
    if device.type == "cuda" and config.channels_last:
        model = model.to(memory_format=torch.channels_last)
    return data, regularizer, model


def train_run(
    config: TrainConfig,
    on_epoch: OnEpoch | None = None,
    should_stop: ShouldStop | None = None,
    checkpoint_dir: str | os.PathLike[str] | None = None,
) -> RunResult:
    """Train one run and measure it.

    Args:
        config: What to train.
        on_epoch: Called after every epoch as ``on_epoch(epoch, metrics)`` with the metric names of docs/design.md §3
            (``train_loss, train_acc, test_loss, test_acc, lr, drop_rate, consistency_kl, epoch_seconds,
            samples_per_second``; the stability metrics ``inconsistency_kl, flip_rate, ece, nll`` on
            evaluation epochs). Epochs count from 1.
        should_stop: Polled between batches; when it returns True the run stops within one batch and the
            result is marked ``cancelled``.
        checkpoint_dir: Where to write a checkpoint each epoch; a checkpoint found there is resumed.

    Raises:
        TrainingError: On a NaN or infinite loss, or a checkpoint of another configuration.
    """
    wall_start = time.perf_counter()
    # Evaluations poll should_stop too, only so that its caller's heartbeat goes on through a long
    # evaluation; a stop request is acted on at the next training batch.
    beat: AfterBatch | None = should_stop
    device = resolve_device(config.device)
    if device.type == "cpu":
        tune_cpu_allocator()
    amp = device.type == "cuda" and config.bf16
    data, regularizer, model = _build(config, device)
    optimizer = build_optimizer(config, model)
    augment = data.augment if config.augment is None else config.augment
    batches = batches_for(
        data,
        config.batch_size,
        train=True,
        shuffle=True,
        augment=augment,
        seed=config.seed,
        device=device,
        drop_last=len(data.train_y) > config.batch_size,
    )
    test_inputs = _test_inputs(data, device, config.batch_size)
    steps_per_epoch = len(batches)
    total_steps = steps_per_epoch * config.epochs
    warmup_steps = round(config.warmup_epochs * steps_per_epoch)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: lr_factor(config.lr_schedule, step, total_steps, warmup_steps)
    )
    meter = CostMeter(device)
    clock = StepClock(device)
    state = _State()
    checkpoint = Path(checkpoint_dir) / CHECKPOINT_NAME if checkpoint_dir is not None else None
    if checkpoint is not None:
        checkpoint.parent.mkdir(parents=True, exist_ok=True)
        if checkpoint.exists():
            state = _load_checkpoint(checkpoint, config, model, optimizer, device)
            scheduler.last_epoch = state.step
            for group in optimizer.param_groups:
                group["lr"] = group["initial_lr"] * lr_factor(config.lr_schedule, state.step, total_steps, warmup_steps)
    meter.train_seconds, meter.energy_joules = state.train_seconds, state.energy_joules
    layers = drop_sites(model)
    cancelled = False
    partial_seconds = 0.0
    logits: Tensor | None = None

    while state.epoch < config.epochs and not cancelled:
        epoch = state.epoch + 1
        model.train()
        synchronize(device)
        meter.sample_power()
        clock.start_epoch()
        loss_sum = torch.zeros((), device=device)
        correct = torch.zeros((), device=device)
        drop_sum = torch.zeros((), device=device)
        kl_sum = torch.zeros((), device=device)
        seen = 0
        steps = 0
        for x, y in batches.epoch(epoch - 1):
            clock.pause()  # the poll may write a heartbeat: waiting, not training
            if should_stop is not None and should_stop():
                cancelled = True
                break
            clock.resume()
            regularizer.set_progress(min(1.0, state.step / max(1, total_steps - 1)))
            if device.type == "cuda" and config.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
                loss, logits_train = regularizer.loss(model, x, y, label_smoothing=config.label_smoothing)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            state.step += 1
            steps += 1
            seen += x.shape[0]
            detached = loss.detach()
            loss_sum += detached
            correct += (logits_train.detach().argmax(1) == y).sum()
            if layers:
                drop_sum += torch.stack([layer.last_drop_fraction_tensor().to(device) for layer in layers]).mean()
            if regularizer.last_consistency_kl is not None:
                kl_sum += regularizer.last_consistency_kl
            if steps % _NONFINITE_CHECK_EVERY == 0:
                _check_finite(loss_sum, epoch, steps)
            if steps % _POWER_SAMPLE_EVERY == 0:
                meter.sample_power()
        epoch_seconds, epoch_cpu_seconds = clock.stop_epoch()
        synchronize(device)
        meter.sample_power()
        meter.pause_power()
        if cancelled:
            partial_seconds = epoch_seconds  # spent, though the epoch never finished: the cost counts it
            break
        _check_finite(loss_sum, epoch, steps)
        meter.train_seconds += epoch_seconds
        state.train_seconds = meter.train_seconds
        state.epoch_step_seconds.append(epoch_seconds)
        if epoch_cpu_seconds is not None:
            state.epoch_cpu_seconds.append(epoch_cpu_seconds)
        state.energy_joules = meter.energy_joules
        state.samples_trained += seen

        evaluation, logits = _evaluate(model, data, test_inputs, device, amp, beat)
        metrics: dict[str, float] = {
            TRAIN_LOSS: float(loss_sum.item()) / max(1, steps),
            TRAIN_ACC: float(correct.item()) / max(1, seen),
            **evaluation,
            LR: float(optimizer.param_groups[0]["lr"]),
            DROP_RATE: float(drop_sum.item()) / max(1, steps),
            EPOCH_SECONDS: epoch_seconds,
            SAMPLES_PER_SECOND: seen / epoch_seconds if epoch_seconds > 0 else math.nan,
        }
        if regularizer.passes == 2:
            metrics[CONSISTENCY_KL] = float(kl_sum.item()) / max(1, steps)
        if epoch == config.epochs or (config.eval_every and epoch % config.eval_every == 0):
            metrics.update(_stability(model, data, test_inputs, logits, device, config.stability_masks, amp, beat))
        state.epoch = epoch
        state.history.append({"epoch": float(epoch), **metrics})
        if state.best_test_acc is None or metrics[TEST_ACC] > state.best_test_acc:
            state.best_test_acc = metrics[TEST_ACC]
        if checkpoint is not None:
            _save_checkpoint(checkpoint, config, model, optimizer, state)
        if on_epoch is not None:
            on_epoch(epoch, metrics)

    final_metrics = {k: v for k, v in state.history[-1].items() if k != "epoch"} if state.history else {}
    if not cancelled and state.history and ECE not in final_metrics:
        # Resumed after the last epoch's checkpoint: the stability metrics of the final model were saved
        # with it, so this branch only runs for a run that ended before writing them.
        _, logits = _evaluate(model, data, test_inputs, device, amp, beat)
        final_metrics.update(_stability(model, data, test_inputs, logits, device, config.stability_masks, amp, beat))
    predictions: list[int] = []
    labels: list[int] = []
    if not cancelled and state.history:
        if logits is None:
            _, logits = _evaluate(model, data, test_inputs, device, amp, beat)
        predictions = logits.argmax(1).cpu().tolist()
        labels = data.test_y.tolist()  # the order predict() used: the test set's own
    cost = {
        "device_kind": device.type,
        "device_name": device_name(device),
        **robust_cost(
            state.epoch_step_seconds,
            state.epoch_cpu_seconds,
            cuda=device.type == "cuda",
            epochs=state.epoch,
            samples=state.samples_trained,
            wall_seconds=time.perf_counter() - wall_start,
            partial_seconds=partial_seconds,
        ),
        "peak_memory_bytes": meter.peak_memory_bytes(),
        "energy_joules": meter.energy_joules,
    }
    return RunResult(
        status=RunStatus.CANCELLED if cancelled else RunStatus.SUCCEEDED,
        epochs_completed=state.epoch,
        final_test_acc=final_metrics.get(TEST_ACC),
        best_test_acc=state.best_test_acc,
        final_metrics=final_metrics,
        cost=cost,
        config=config.to_dict(),
        versions=library_versions(),
        predictions=predictions,
        labels=labels,
        history=state.history,
    )


def _check_finite(loss_sum: Tensor, epoch: int, steps: int) -> None:
    if not math.isfinite(float(loss_sum.item())):
        raise TrainingError(
            f"the training loss became NaN or infinite in epoch {epoch} (by step {steps}): lower the learning "
            f"rate, add warm-up, or check the data"
        )
