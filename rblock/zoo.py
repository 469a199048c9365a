"""The timm model zoo: any timm model with two feature stages is a pilot model, named ``timm/<name>``.

The model is built by ``timm.create_model`` and left as timm wrote it. Its drop sites are attached from the
outside (docs/design.md §2: after the last two resolution stages, as for the built-ins): the model's
``feature_info`` names its feature stages with their reduction (input side / map side) and channels; the
last stage of each of the two deepest reductions gets a forward hook that passes the stage's output
through a drop-site module registered on the model as ``drop_site_1`` and ``drop_site_2``. Being
submodules, the sites move with ``.to()``, follow ``.train()``/``.eval()``, and
:func:`rblock.models.drop_sites` finds them in forward order; being called from hooks, they are
:class:`~rblock.drop_layer.DropLayer` calls like any other, so the shared trunk of a two-pass step
(:mod:`rblock.shared_trunk`) duplicates the batch at the first of them, exactly as for the built-ins.

``python -m rblock.zoo --write-names`` writes the names timm lists into ``pilot_spec/timm_models.txt``,
which the torch-free API validates ``model`` against (:mod:`pilot_spec.zoo`).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import timm
from timm.models import get_pretrained_cfg
from torch import Tensor, nn

import pilot_spec
from pilot_spec.zoo import TIMM_NAMES_FILE, TIMM_PREFIX, timm_name, timm_name_problem

# (mean, std) per input channel, as timm's pretrained configurations give them.
Normalisation = tuple[tuple[float, ...], tuple[float, ...]]

SITE_NAMES = ("drop_site_1", "drop_site_2")


@dataclass(frozen=True)
class FeatureStage:
    """One entry of a timm model's ``feature_info``: the module whose output is a feature map."""

    module: str
    reduction: int
    channels: int


class _DropSiteHook:
    """A forward hook that runs a stage's output through its drop site.

    A callable object rather than a closure so that ``copy.deepcopy(model)`` gives the copy's hook the
    copy's site (the site is found through the deepcopy memo, as a submodule of the copied model).
    """

    def __init__(self, site: nn.Module, model: str, stage: FeatureStage) -> None:
        self.site = site
        self.model = model
        self.stage = stage

    def __call__(self, _module: nn.Module, _inputs: tuple[object, ...], out: object) -> Tensor:
        if not isinstance(out, Tensor) or out.ndim != 4 or out.shape[1] != self.stage.channels:
            shape = tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__
            raise ValueError(
                f"{self.model}: feature stage {self.stage.module!r} gives {shape}, not (B, {self.stage.channels}, "
                "H, W) feature maps, so it cannot take a drop site: pick a convolutional model"
            )
        result: Tensor = self.site(out)
        return result


def is_timm_model(name: str) -> bool:
    """True for a name of the ``timm/`` family (whether or not timm has it)."""
    return timm_name(name) is not None


def _timm_name_or_error(name: str) -> str:
    bare = timm_name(name)
    if bare is None:
        raise ValueError(f"{name!r} is not a timm model name: write {TIMM_PREFIX}<name>")
    if not timm.is_model(bare):
        raise ValueError(timm_name_problem(bare) or f"unknown timm model {name!r}")
    return bare


def feature_stages(model: nn.Module, name: str) -> list[FeatureStage]:
    """The stages that get drop sites: the last feature stage of each of the two deepest reductions.

    Raises:
        ValueError: Naming the model, when it reports no ``feature_info`` or fewer than two reductions (a
            ViT's blocks all work at 1/16, so it has one).
    """
    info: Any = getattr(model, "feature_info", None)
    # A list of dicts on a classifier; a FeatureInfo object on timm's features_only wrappers.
    entries = info.get_dicts() if hasattr(info, "get_dicts") else info
    if not isinstance(entries, list):
        raise ValueError(f"{name} reports no feature stages (feature_info), so it cannot take drop sites")
    deepest: dict[int, FeatureStage] = {}
    for entry in entries:
        # Later entries of one reduction replace earlier ones: the site goes after the stage's last module.
        stage = FeatureStage(str(entry["module"]), int(entry["reduction"]), int(entry["num_chs"]))
        deepest.pop(stage.reduction, None)
        deepest[stage.reduction] = stage
    if len(deepest) < 2:
        found = ", ".join(f"1/{r}" for r in sorted(deepest)) or "none"
        raise ValueError(
            f"{name} has feature stages at fewer than two reductions ({found}), so it cannot take drop sites "
            "after its last two stages: pick a convolutional model (e.g. timm/resnet18)"
        )
    return sorted(deepest.values(), key=lambda s: s.reduction)[-2:]


def create_timm_model(
    name: str,
    *,
    in_channels: int,
    num_classes: int,
    make_site: Callable[[], nn.Module],
    pretrained: bool = False,
) -> tuple[nn.Module, list[int]]:
    """Build ``timm/<name>`` with its two drop sites; return it and the sites' channel counts.

    Args:
        name: ``timm/`` and a name of ``timm.list_models()``.
        in_channels: Channels of the input images.
        num_classes: Classes of its (freshly initialised) head.
        make_site: Called once per drop site, in forward order.
        pretrained: Load timm's pretrained weights from the Hugging Face hub (network needed).

    Raises:
        ValueError: For an unknown name, a model that cannot take two drop sites, or (``pretrained``) a hub
            that cannot be reached.
    """
    bare = _timm_name_or_error(name)
    cfg = get_pretrained_cfg(bare)
    if pretrained and (cfg is None or not (cfg.hf_hub_id or cfg.url or cfg.file)):
        # timm would warn and go on with random weights: a pilot asking for pretrained ones must not.
        raise ValueError(f"weights 'hub': timm has no pretrained weights for {name}; give a weights file instead")
    try:
        model = timm.create_model(bare, pretrained=pretrained, num_classes=num_classes, in_chans=in_channels)
    except OSError as error:
        if not pretrained:
            raise
        # huggingface_hub raises OSError subclasses (no network, no cached file, file not on the hub).
        raise ValueError(
            f"weights 'hub' for {name}: timm's pretrained weights could not be fetched from the Hugging Face hub "
            f"({type(error).__name__}); this machine may have no internet access: give a weights file instead"
        ) from None
    stages = feature_stages(model, name)
    for site_name, stage in zip(SITE_NAMES, stages, strict=True):
        try:
            stage_module = model.get_submodule(stage.module)
        except AttributeError:
            raise ValueError(
                f"{name}: its feature_info names a stage {stage.module!r} that is not one of its modules, so it "
                "cannot take drop sites: pick another model"
            ) from None
        site = make_site()
        model.add_module(site_name, site)  # registration order is forward order, for drop_sites()
        stage_module.register_forward_hook(_DropSiteHook(site, name, stage))
    return model, [stage.channels for stage in stages]


def model_normalisation(name: str) -> Normalisation | None:
    """The (mean, std) the pretrained weights of ``name`` expect; None for a built-in model.

    Use it when the model starts from weights (a file of timm's weights or ``"hub"``); a model trained from
    scratch can keep its dataset's own normalisation.
    """
    if not is_timm_model(name):
        return None
    cfg = get_pretrained_cfg(_timm_name_or_error(name))
    if cfg is None:
        return None
    return tuple(float(m) for m in cfg.mean), tuple(float(s) for s in cfg.std)


def first_conv(name: str) -> str | None:
    """The module name of the first convolution of a timm model (for adapting a stem to the input channels)."""
    if not is_timm_model(name):
        return None
    cfg = get_pretrained_cfg(_timm_name_or_error(name))
    conv = None if cfg is None else cfg.first_conv
    return conv if isinstance(conv, str) else None


def write_names(path: Path) -> int:
    """Write ``timm.list_models()`` sorted, one a line, to ``path``; return the count."""
    names = sorted(timm.list_models())
    path.write_text("".join(f"{n}\n" for n in names), encoding="utf-8")
    return len(names)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="The timm model zoo of R-Block Pilot.")
    parser.add_argument(
        "--write-names", action="store_true", help=f"write timm's model names to pilot_spec/{TIMM_NAMES_FILE}"
    )
    args = parser.parse_args(argv)
    if args.write_names:
        path = Path(pilot_spec.__file__).resolve().parent / TIMM_NAMES_FILE
        print(f"{write_names(path)} names of timm {timm.__version__} written to {path} ({TIMM_PREFIX}<name>)")
    else:
        parser.print_help()


if __name__ == "__main__":
    main()
