"""The model names a pilot may use: the built-ins, every timm model as ``timm/<name>``, and a curated zoo.

The API validates a pilot's ``model`` without importing torch or timm, so the names timm 1.0.31 lists are
shipped beside this module in ``timm_models.txt`` (sorted, one a line), written by
``python -m rblock.zoo --write-names``; a test fails when the file and the installed timm disagree.
:func:`timm_name_problem` is the ``timm/`` family's check in :data:`pilot_spec.models.MODEL_FAMILIES`, so
``model_problem`` (the API's and TrainConfig's check of ``model``) accepts every listed name.

A listed name is not yet a guarantee that the model can carry drop sites (it needs two feature stages
of different reductions with (B, C, H, W) outputs): the research library checks that when it builds the
model and names the model in its error. :data:`CURATED` holds families known to work, with their sizes,
for the catalog and the new-pilot form.
"""

from __future__ import annotations

import difflib
import functools
from importlib import resources

from pydantic import BaseModel, ConfigDict

TIMM_PREFIX = "timm/"
TIMM_NAMES_FILE = "timm_models.txt"
# The pinned timm (pyproject's `train` extra); the names file and the curated sizes are this version's.
TIMM_VERSION = "1.0.31"


class ZooModel(BaseModel):
    """One curated timm model: what the catalog shows about it."""

    model_config = ConfigDict(frozen=True)

    name: str  # the pilot's model name, ``timm/<timm name>``
    description: str
    params_m: float  # millions of parameters with timm's 1000-class (ImageNet) head, rounded to 0.01
    image_size: int  # the side of the images its pretrained weights were trained at


def _zoo(name: str, description: str, params_m: float, image_size: int = 224) -> ZooModel:
    return ZooModel(name=TIMM_PREFIX + name, description=description, params_m=params_m, image_size=image_size)


# About a dozen families, small to large, all with drop sites after their 1/16 and 1/32 stages. The
# sizes and image sides are timm's (a test checks them against the installed timm).
# (name, description, millions of parameters[, native image side]) rows.
_CURATED_ROWS: tuple[tuple[str, str, float] | tuple[str, str, float, int], ...] = (
    ("resnet10t", "ResNet-10-T: a light ResNet with a deep stem", 5.44, 176),
    ("resnet18", "ResNet-18 (arXiv 1512.03385), ImageNet stem", 11.69),
    ("resnet34", "ResNet-34, basic blocks", 21.8),
    ("resnet50", "ResNet-50, bottleneck blocks", 25.56),
    ("resnext50_32x4d", "ResNeXt-50 32x4d: grouped bottlenecks (arXiv 1611.05431)", 25.03),
    ("efficientnet_b0", "EfficientNet-B0 (arXiv 1905.11946)", 5.29),
    ("efficientnet_b2", "EfficientNet-B2", 9.11, 256),
    ("mobilenetv3_small_100", "MobileNetV3-Small 1.0 (arXiv 1905.02244): for small devices", 2.54),
    ("mobilenetv3_large_100", "MobileNetV3-Large 1.0", 5.48),
    ("convnext_atto", "ConvNeXt-Atto (arXiv 2201.03545), the smallest ConvNeXt", 3.7),
    ("convnext_tiny", "ConvNeXt-Tiny", 28.59),
    ("regnetx_002", "RegNetX-200MF (arXiv 2003.13678)", 2.68),
    ("regnety_016", "RegNetY-1.6GF: RegNet with squeeze-and-excitation", 11.2),
)
CURATED: tuple[ZooModel, ...] = tuple(_zoo(*row) for row in _CURATED_ROWS)


@functools.cache
def timm_names() -> frozenset[str]:
    """Every model name of the pinned timm (without the ``timm/`` prefix)."""
    text = resources.files("pilot_spec").joinpath(TIMM_NAMES_FILE).read_text(encoding="utf-8")
    return frozenset(line.strip() for line in text.splitlines() if line.strip())


def timm_name(model: str) -> str | None:
    """``resnet50`` for ``timm/resnet50``; None for a name without the prefix."""
    return model[len(TIMM_PREFIX) :] if model.startswith(TIMM_PREFIX) else None


def timm_name_problem(name: str) -> str | None:
    """What is wrong with ``timm/<name>`` (``name`` without the prefix), or None when timm has that model.

    The check of the ``timm/`` family in :data:`pilot_spec.models.MODEL_FAMILIES`.
    """
    if name in timm_names():
        return None
    close = difflib.get_close_matches(name, sorted(timm_names()), n=3, cutoff=0.6)
    hint = f"; did you mean {', '.join(TIMM_PREFIX + c for c in close)}?" if close else ""
    return f"unknown timm model {TIMM_PREFIX + name!r}: not a model of timm {TIMM_VERSION}{hint}"


def describe_curated() -> dict[str, dict[str, object]]:
    """The curated zoo as the catalog lists it (JSON-serialisable), in :data:`CURATED` order."""
    return {
        m.name: {
            "description": m.description,
            "params_m": m.params_m,
            "image_size": m.image_size,
            "drop_sites": "after the last feature stage at 1/16 and the one at 1/32 of the input side",
            "weights": "a weights file (head re-initialised for the pilot's classes), or 'hub' where it is reachable",
            "params": {},  # no width: a timm model's widths are its own
        }
        for m in CURATED
    }
