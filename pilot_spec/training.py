"""The training settings every run of a pilot shares, and the rules across them.

``rblock.config.TrainConfig`` takes its defaults and checks from :data:`TRAINING`; the API validates a pilot's
``training`` object (and its ``width``) against the same table and :func:`training_problems`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pilot_spec.fields import Field, Problem
from pilot_spec.models import MAX_WIDTH
from pilot_spec.text import show

OPTIMIZERS: tuple[str, ...] = ("sgd", "adamw")
LR_SCHEDULES: tuple[str, ...] = ("cosine", "onecycle", "constant")
MAX_SEED = 2**31 - 1
# scikit-learn's random_state accepts [0, 2**32); the same bound for every dataset keeps data_seed portable.
MAX_DATA_SEED = 2**32 - 1

TRAINING: dict[str, Field] = {
    "data_seed": Field(
        "integer",
        0,
        "fixes the split and generated data",
        minimum=0,
        maximum=MAX_DATA_SEED,
        allowed="an integer from 0 to 2^32-1",
    ),
    "label_noise": Field(
        "number",
        0.0,
        "share of training labels replaced",
        minimum=0,
        exclusive_maximum=1,
        allowed="a fraction in [0, 1)",
    ),
    "augment": Field("boolean", None, "crop/flip augmentation (null: dataset default)", nullable=True),
    "width": Field(
        "integer",
        None,
        "model base width (null: model default)",
        minimum=1,
        maximum=MAX_WIDTH,
        nullable=True,
        allowed=f"null or 1..{MAX_WIDTH}",
    ),
    # Most settings' allowed words are derived from their bounds (Field.describe); an ``allowed`` below says
    # what the bounds cannot (2^31-1, a rule across fields, a path) or labels a new-pilot form input
    # (epochs, batch_size, lr) in words that read better there.
    "epochs": Field("integer", 15, "training epochs", minimum=1, maximum=10_000, allowed="an integer from 1 to 10000"),
    "batch_size": Field(
        "integer", 64, "unique samples per step", minimum=2, maximum=65_536, allowed="an integer from 2 to 65536"
    ),
    "optimizer": Field("string", "sgd", "optimizer", enum=OPTIMIZERS),
    "lr": Field("number", 0.05, "peak learning rate", exclusive_minimum=0, maximum=100, allowed="a number in (0, 100]"),
    "momentum": Field("number", 0.9, "SGD momentum", minimum=0, exclusive_maximum=1),
    "nesterov": Field("boolean", True, "Nesterov momentum (SGD)"),
    "weight_decay": Field("number", 5e-4, "weight decay", minimum=0, maximum=1),
    "lr_schedule": Field("string", "cosine", "learning-rate schedule", enum=LR_SCHEDULES),
    # Its upper bound is epochs: a rule across fields (training_problems), not a bound of its own.
    "warmup_epochs": Field("number", 0.0, "linear warm-up", minimum=0, allowed="a number from 0 to less than epochs"),
    "label_smoothing": Field("number", 0.0, "label smoothing", minimum=0, exclusive_maximum=1),
    "seed": Field("integer", 0, "run seed", minimum=0, maximum=MAX_SEED, allowed="an integer from 0 to 2^31-1"),
    "eval_every": Field(
        "integer", 0, "stability metrics every N epochs", minimum=0, allowed="an integer >= 0 (0: only at the end)"
    ),
    "stability_masks": Field("integer", 8, "sub-model masks K for stability metrics", minimum=1, maximum=64),
    # Where a path may point is the service's rule (inside its data root); the model rules are in pilot_spec.models.
    "weights": Field(
        "string",
        None,
        "starting weights: a state dict or timm checkpoint file under the data root, or hub for timm's "
        "pretrained download (needs the network); null: trained from scratch",
        nullable=True,
        allowed="null, hub, or the path of a weights file under the data root",
    ),
    "bf16": Field("boolean", True, "bfloat16 autocast on CUDA"),
    "channels_last": Field("boolean", True, "channels-last memory format on CUDA"),
}


# Settings of every run's config that a pilot sets elsewhere than in its shared ``training`` object: the API
# refuses them there with these words, and the new-pilot form offers no training field for them.
NOT_IN_PILOT_TRAINING: dict[str, str] = {
    "seed": "set the pilot's seeds instead",
    "width": "set width at the top level of the pilot",
}


# Every field of one run's config (``rblock.config.TrainConfig``): what a run is (its data, model, arm and
# device) and the shared settings above. A setting added to TRAINING is a field of every run's config.
RUN_CONFIG_FIELDS: tuple[str, ...] = ("dataset", "dataset_params", "model", "arm", "arm_params", "device", *TRAINING)


def training_problems(values: Mapping[str, Any]) -> list[Problem]:
    """The rules across training settings that are each valid on their own, by setting name."""
    problems: list[Problem] = []
    epochs, warmup = values["epochs"], values["warmup_epochs"]
    if not warmup < epochs:
        problems.append(
            Problem("warmup_epochs", f"must be a number from 0 to less than epochs ({epochs}) (got {show(warmup)})")
        )
    if values["optimizer"] == "sgd" and values["nesterov"] and values["momentum"] == 0:
        problems.append(Problem("nesterov", "needs momentum > 0 with sgd: set momentum (e.g. 0.9) or nesterov false"))
    return problems
