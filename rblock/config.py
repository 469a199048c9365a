"""TrainConfig: everything that defines one training run, validated, and serialisable to JSON.

The worker stores a run's config as JSON and rebuilds it with :meth:`TrainConfig.from_dict`; every arm of
a pilot shares all fields but ``arm``/``arm_params`` and ``seed``, so the comparison is fair.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from pilot_spec.device import DEVICE_GRAMMAR, is_device
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
        device: ``auto`` (CUDA when present), ``cpu``, ``cuda`` or ``cuda:N`` (``pilot_spec.device``).
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

        for name, spec in training_fields().items():
            value = getattr(self, name)
            if not _field_ok(spec, value):
                raise ConfigError(f"{name} must be {spec['allowed']} (got {value!r})")
        if self.dataset not in DATASETS:
            raise ConfigError(f"dataset must be one of {', '.join(DATASETS)} (got {self.dataset!r})")
        if not isinstance(self.dataset_params, dict):
            raise ConfigError(
                f"dataset_params must be an object of the dataset's parameters (got {self.dataset_params!r})"
            )
        if not isinstance(self.arm_params, dict):
            raise ConfigError(f"arm_params must be an object of the arm's parameters (got {self.arm_params!r})")
        if self.model not in MODELS:
            raise ConfigError(f"model must be one of {', '.join(MODELS)} (got {self.model!r})")
        if not is_device(self.device):
            raise ConfigError(f"device must be {DEVICE_GRAMMAR} (got {self.device!r})")
        if not self.warmup_epochs < self.epochs:
            raise ConfigError(f"warmup_epochs must be a number from 0 to less than epochs (got {self.warmup_epochs!r})")
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


def _field(kind: str, allowed: str, help: str, **bounds: Any) -> dict[str, Any]:
    return {"type": kind, "allowed": allowed, "help": help, **bounds}


# The settings a pilot shares across its runs, with machine-readable bounds: TrainConfig checks them here,
# and the service's catalog (which cannot import torch) validates pilots against the same table.
_TRAINING_FIELDS: dict[str, dict[str, Any]] = {
    "data_seed": _field("integer", "an integer >= 0", "fixes the split and generated data", minimum=0),
    "label_noise": _field(
        "number", "a fraction in [0, 1)", "share of training labels replaced", minimum=0, exclusive_maximum=1
    ),
    "augment": _field(
        "boolean", "true, false or null", "crop/flip augmentation (null: dataset default)", nullable=True
    ),
    "width": _field(
        "integer", "null or 1..1024", "model base width (null: model default)", minimum=1, maximum=1024, nullable=True
    ),
    "epochs": _field("integer", "an integer from 1 to 10000", "training epochs", minimum=1, maximum=10_000),
    "batch_size": _field("integer", "an integer from 2 to 65536", "unique samples per step", minimum=2, maximum=65_536),
    "optimizer": _field("string", f"one of {', '.join(OPTIMIZERS)}", "optimizer", enum=list(OPTIMIZERS)),
    "lr": _field("number", "a number in (0, 100]", "peak learning rate", exclusive_minimum=0, maximum=100),
    "momentum": _field("number", "a number in [0, 1)", "SGD momentum", minimum=0, exclusive_maximum=1),
    "nesterov": _field("boolean", "true or false", "Nesterov momentum (SGD)"),
    "weight_decay": _field("number", "a number in [0, 1]", "weight decay", minimum=0, maximum=1),
    "lr_schedule": _field(
        "string", f"one of {', '.join(LR_SCHEDULES)}", "learning-rate schedule", enum=list(LR_SCHEDULES)
    ),
    "warmup_epochs": _field("number", "a number from 0 to less than epochs", "linear warm-up", minimum=0),
    "label_smoothing": _field("number", "in [0, 1)", "label smoothing", minimum=0, exclusive_maximum=1),
    "seed": _field("integer", "an integer from 0 to 2^31-1", "run seed", minimum=0, maximum=2**31 - 1),
    "eval_every": _field(
        "integer", "an integer >= 0 (0: only at the end)", "stability metrics every N epochs", minimum=0
    ),
    "stability_masks": _field("integer", "1..64", "sub-model masks K for stability metrics", minimum=1, maximum=64),
    "bf16": _field("boolean", "true or false", "bfloat16 autocast on CUDA"),
    "channels_last": _field("boolean", "true or false", "channels-last memory format on CUDA"),
}


def training_fields() -> dict[str, dict[str, Any]]:
    """The shared training settings with their type, bounds, default and help (JSON-serialisable)."""
    defaults = {f.name: f.default for f in fields(TrainConfig)}
    return {name: {**spec, "default": defaults[name]} for name, spec in _TRAINING_FIELDS.items()}


def _field_ok(spec: dict[str, Any], value: Any) -> bool:
    if value is None:
        return bool(spec.get("nullable"))
    kind = spec["type"]
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "string":
        return isinstance(value, str) and value in spec.get("enum", [value])
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    if kind == "integer" and not isinstance(value, int):
        return False
    if not math.isfinite(value):
        return False
    checks = (
        ("minimum", lambda b: value >= b),
        ("maximum", lambda b: value <= b),
        ("exclusive_minimum", lambda b: value > b),
        ("exclusive_maximum", lambda b: value < b),
    )
    return all(check(spec[key]) for key, check in checks if key in spec)
