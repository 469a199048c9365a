"""The models a pilot can train, with their default widths and drop sites.

The networks are the library's (``rblock.models`` builds them by these names). A name is valid when the
table has it or a model family accepts it (:data:`MODEL_FAMILIES`), so a family of models named by
pattern (``timm/<name>``) can be added without listing each member.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pilot_spec.tables import by_name
from pilot_spec.text import show
from pilot_spec.zoo import TIMM_PREFIX, timm_name_problem

# The largest base width any model accepts: beyond it a pilot's memory and time are out of all proportion.
MAX_WIDTH = 1024


@dataclass(frozen=True)
class Model:
    """One model: its description, its default base width and where its drop sites are."""

    name: str
    description: str
    default_width: int
    width_help: str
    drop_sites: str

    def catalog_entry(self) -> dict[str, Any]:
        return {
            "description": self.description,
            "drop_sites": self.drop_sites,
            "params": {"width": {"default": self.default_width, "help": self.width_help}},
        }


MODELS: dict[str, Model] = by_name(
    Model(
        "small_cnn",
        "three conv3x3-BN-ReLU stages (1, 2, 2 convs; widths w, 2w, 4w) with 2×2 max-pool between them, "
        "global average pool, linear; trains on a CPU",
        32,
        "width of the first stage; the stages have w, 2w and 4w channels",
        "after stage 2 (2w channels, 1/2 of the input side) and stage 3 (4w channels, 1/4 of the input side)",
    ),
    Model(
        "resnet18",
        "ResNet-18 (arXiv 1512.03385) with torchvision's BasicBlock and a small-image stem: 3×3 stride-1 "
        "first conv, no max-pool",
        64,
        "base width; the four stages have w, 2w, 4w and 8w channels (64 is torchvision's ResNet-18)",
        "after layer3 (4w channels, 1/4 of the input side) and layer4 (8w channels, 1/8 of the input side)",
    ),
)

# Families of models named by a prefix (``"timm/"``) instead of one table row each: the prefix maps to a
# check of the rest of the name that returns what is wrong with it, or None.
ModelNameCheck = Callable[[str], str | None]
MODEL_FAMILIES: dict[str, ModelNameCheck] = {TIMM_PREFIX: timm_name_problem}


# ``weights`` set to this takes the model family's published pretrained weights instead of a file.
HUB_WEIGHTS = "hub"


def model_problem(name: str) -> str | None:
    """What is wrong with a model name, or None when the table or a model family accepts it."""
    if name in MODELS:
        return None
    for prefix, check in MODEL_FAMILIES.items():
        if name.startswith(prefix):
            return check(name.removeprefix(prefix))
    return f"unknown model {show(name)}; allowed: {', '.join(sorted(MODELS))}"


def model_setting_problems(model: str, width: int | None, weights: str | None) -> list[tuple[str, str]]:
    """The rules between a valid model name and its ``width`` and ``weights``, as (setting, problem) pairs.

    A family model (``timm/...``) has the widths it was published with, so ``width`` must stay null; only a
    family model has pretrained weights to download (``weights: hub``); the built-ins start from a file or
    from scratch.
    """
    problems: list[tuple[str, str]] = []
    family = model not in MODELS
    if family and width is not None:
        problems.append(("width", f"must be null for {show(model)}: its widths are its own (got {show(width)})"))
    if not family and weights == HUB_WEIGHTS:
        problems.append(
            ("weights", f"hub weights exist only for timm/ models; give {show(model)} a weights file or null")
        )
    return problems
