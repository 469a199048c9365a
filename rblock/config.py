"""TrainConfig: everything that defines one training run, validated, and serialisable to JSON.

The worker stores a run's config as JSON and rebuilds it with :meth:`TrainConfig.from_dict`; every arm of
a pilot shares all fields but ``arm``/``arm_params`` and ``seed``, so the comparison is fair.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from pilot_spec.device import DEVICE_GRAMMAR, is_device
from pilot_spec.models import MODELS, model_problem, model_setting_problems
from pilot_spec.training import LR_SCHEDULES, OPTIMIZERS, TRAINING, training_problems
from rblock.regularizer import resolve_params

__all__ = ["LR_SCHEDULES", "OPTIMIZERS", "ConfigError", "TrainConfig"]

# The defaults of the settings a pilot shares: pilot_spec.training's, so the API and the library agree.
_DEFAULT = {name: setting.default for name, setting in TRAINING.items()}


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
        model: ``small_cnn``, ``resnet18`` or ``timm/<name>``; ``width`` its base width (None: the model's
            default; always None for a timm model).
        weights: Starting weights: a file path (relative to the data root), ``"hub"`` (timm's pretrained
            weights) or None (from scratch).
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
    data_seed: int = _DEFAULT["data_seed"]
    label_noise: float = _DEFAULT["label_noise"]
    augment: bool | None = _DEFAULT["augment"]
    model: str = "small_cnn"
    width: int | None = _DEFAULT["width"]
    arm: str = "none"
    arm_params: dict[str, Any] = field(default_factory=dict)
    epochs: int = _DEFAULT["epochs"]
    batch_size: int = _DEFAULT["batch_size"]
    optimizer: str = _DEFAULT["optimizer"]
    lr: float = _DEFAULT["lr"]
    momentum: float = _DEFAULT["momentum"]
    nesterov: bool = _DEFAULT["nesterov"]
    weight_decay: float = _DEFAULT["weight_decay"]
    lr_schedule: str = _DEFAULT["lr_schedule"]
    warmup_epochs: float = _DEFAULT["warmup_epochs"]
    label_smoothing: float = _DEFAULT["label_smoothing"]
    seed: int = _DEFAULT["seed"]
    eval_every: int = _DEFAULT["eval_every"]
    stability_masks: int = _DEFAULT["stability_masks"]
    device: str = "auto"
    weights: str | None = _DEFAULT["weights"]
    bf16: bool = _DEFAULT["bf16"]
    channels_last: bool = _DEFAULT["channels_last"]

    def __post_init__(self) -> None:
        self._validate()
        # Store the arm's resolved parameters so the JSON form says exactly what ran.
        object.__setattr__(self, "arm_params", resolve_params(self.arm, dict(self.arm_params)))

    def _validate(self) -> None:
        from rblock.data import DATASETS  # deferred: rblock.data imports sklearn and torchvision

        for name, setting in TRAINING.items():
            if (problem := setting.check(getattr(self, name))) is not None:
                raise ConfigError(f"{name} {problem}")
        if self.dataset not in DATASETS:
            raise ConfigError(f"dataset must be one of {', '.join(DATASETS)} (got {self.dataset!r})")
        if not isinstance(self.dataset_params, dict):
            raise ConfigError(
                f"dataset_params must be an object of the dataset's parameters (got {self.dataset_params!r})"
            )
        if not isinstance(self.arm_params, dict):
            raise ConfigError(f"arm_params must be an object of the arm's parameters (got {self.arm_params!r})")
        if (problem := model_problem(self.model)) is not None:
            raise ConfigError(f"model must be one of {', '.join(MODELS)} or timm/<name>: {problem}")
        for name, problem in model_setting_problems(self.model, self.width, self.weights):
            raise ConfigError(f"{name} {problem}")
        if not is_device(self.device):
            raise ConfigError(f"device must be {DEVICE_GRAMMAR} (got {self.device!r})")
        for rule in training_problems(self.to_dict()):
            raise ConfigError(f"{rule.field} {rule.message}")
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
