"""TrainConfig: everything that defines one training run, validated, and serialisable to JSON.

The worker stores a run's config as JSON and rebuilds it with :meth:`TrainConfig.from_dict`; every arm of
a pilot shares all fields but ``arm``/``arm_params`` and ``seed``, so the comparison is fair.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from rblock.models import MODELS
from rblock.regularizer import resolve_params

OPTIMIZERS = ("sgd", "adamw")
LR_SCHEDULES = ("cosine", "onecycle", "constant")


class ConfigError(ValueError):
    """A training configuration that cannot run; the message names the field and what is allowed."""


@dataclass(frozen=True)
class TrainConfig:
    """One training run.

    Attributes:
        dataset: A name from ``rblock.data.DATASETS``; ``dataset_params`` are its parameters.
        data_seed: Fixes the train/test split and generated data (the same for every run of a pilot).
        label_noise: Fraction of training labels replaced by a different class, in [0, 1).
        augment: Random crop and flip where the dataset allows them; None takes the dataset's default.
        model: ``small_cnn`` or ``resnet18``; ``width`` its base width (None: the model's default).
        arm: A regularizer arm (``rblock.ARMS``) and ``arm_params`` its parameters.
        epochs, batch_size: Length of training and the (unique) samples per step.
        optimizer: ``sgd`` (momentum, Nesterov) or ``adamw``; ``lr`` its peak learning rate.
        lr_schedule: ``cosine`` (after a linear warm-up of ``warmup_epochs``), ``onecycle`` (linear warm-up
            then linear decay to 0) or ``constant``.
        seed: Model initialisation, data order, augmentation and masks.
        eval_every: Stability metrics every this many epochs (0: only at the end).
        stability_masks: Sub-model masks K for ``inconsistency_kl`` and ``flip_rate``.
        device: ``auto`` (CUDA when present), ``cpu``, ``cuda`` or ``cuda:N``.
        bf16: bfloat16 autocast on CUDA (ignored on the CPU); ``channels_last`` likewise.
    """

    dataset: str = "digits"
    dataset_params: dict[str, Any] = field(default_factory=dict)
    data_seed: int = 0
    label_noise: float = 0.0
    augment: bool | None = None
    model: str = "small_cnn"
    width: int | None = None
    arm: str = "none"
    arm_params: dict[str, Any] = field(default_factory=dict)
    epochs: int = 15
    batch_size: int = 64
    optimizer: str = "sgd"
    lr: float = 0.05
    momentum: float = 0.9
    nesterov: bool = True
    weight_decay: float = 5e-4
    lr_schedule: str = "cosine"
    warmup_epochs: float = 0.0
    label_smoothing: float = 0.0
    seed: int = 0
    eval_every: int = 0
    stability_masks: int = 8
    device: str = "auto"
    bf16: bool = True
    channels_last: bool = True

    def __post_init__(self) -> None:
        self._validate()
        # Store the arm's resolved parameters so the JSON form says exactly what ran.
        object.__setattr__(self, "arm_params", resolve_params(self.arm, dict(self.arm_params)))

    def _validate(self) -> None:
        from rblock.data import DATASETS  # deferred: rblock.data imports sklearn and torchvision

        def need(ok: bool, name: str, allowed: str) -> None:
            if not ok:
                raise ConfigError(f"{name} must be {allowed} (got {getattr(self, name)!r})")

        def is_int(value: Any) -> bool:
            return isinstance(value, int) and not isinstance(value, bool)

        def is_num(value: Any) -> bool:
            return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)

        need(self.dataset in DATASETS, "dataset", f"one of {', '.join(DATASETS)}")
        need(isinstance(self.dataset_params, dict), "dataset_params", "an object of the dataset's parameters")
        need(is_int(self.data_seed) and self.data_seed >= 0, "data_seed", "an integer >= 0")
        need(is_num(self.label_noise) and 0 <= self.label_noise < 1, "label_noise", "a fraction in [0, 1)")
        need(self.augment is None or isinstance(self.augment, bool), "augment", "true, false or null")
        need(self.model in MODELS, "model", f"one of {', '.join(MODELS)}")
        need(self.width is None or (is_int(self.width) and 1 <= self.width <= 1024), "width", "null or 1..1024")
        need(isinstance(self.arm_params, dict), "arm_params", "an object of the arm's parameters")
        need(is_int(self.epochs) and 1 <= self.epochs <= 10_000, "epochs", "an integer from 1 to 10000")
        need(is_int(self.batch_size) and 2 <= self.batch_size <= 65_536, "batch_size", "an integer from 2 to 65536")
        need(self.optimizer in OPTIMIZERS, "optimizer", f"one of {', '.join(OPTIMIZERS)}")
        need(is_num(self.lr) and 0 < self.lr <= 100, "lr", "a number in (0, 100]")
        need(is_num(self.momentum) and 0 <= self.momentum < 1, "momentum", "a number in [0, 1)")
        need(isinstance(self.nesterov, bool), "nesterov", "true or false")
        need(is_num(self.weight_decay) and 0 <= self.weight_decay <= 1, "weight_decay", "a number in [0, 1]")
        need(self.lr_schedule in LR_SCHEDULES, "lr_schedule", f"one of {', '.join(LR_SCHEDULES)}")
        need(
            is_num(self.warmup_epochs) and 0 <= self.warmup_epochs < self.epochs,
            "warmup_epochs",
            "a number from 0 to less than epochs",
        )
        need(is_num(self.label_smoothing) and 0 <= self.label_smoothing < 1, "label_smoothing", "in [0, 1)")
        need(is_int(self.seed) and 0 <= self.seed < 2**31, "seed", "an integer from 0 to 2^31-1")
        need(is_int(self.eval_every) and self.eval_every >= 0, "eval_every", "an integer >= 0 (0: only at the end)")
        need(is_int(self.stability_masks) and 1 <= self.stability_masks <= 64, "stability_masks", "1..64")
        need(_valid_device(self.device), "device", "auto, cpu, cuda or cuda:N")
        need(isinstance(self.bf16, bool), "bf16", "true or false")
        need(isinstance(self.channels_last, bool), "channels_last", "true or false")
        if self.optimizer == "sgd" and self.nesterov and self.momentum == 0:
            raise ConfigError("nesterov needs momentum > 0: set momentum (e.g. 0.9) or nesterov=false")
        try:
            resolve_params(self.arm, dict(self.arm_params))
        except ValueError as error:
            raise ConfigError(f"arm: {error}") from None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """Build from a dict such as :meth:`to_dict` gives; unknown keys raise :class:`ConfigError`."""
        if not isinstance(data, dict):
            raise ConfigError(f"a training config must be a JSON object, got {type(data).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown config field(s) {', '.join(unknown)}; allowed: {', '.join(sorted(known))}")
        return cls(**data)

    @classmethod
    def from_json(cls, text: str) -> TrainConfig:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise ConfigError(f"the training config is not valid JSON: {error}") from None
        return cls.from_dict(data)


def _valid_device(device: Any) -> bool:
    if not isinstance(device, str):
        return False
    if device in ("auto", "cpu", "cuda"):
        return True
    prefix, _, index = device.partition(":")
    return prefix == "cuda" and index.isdigit()
