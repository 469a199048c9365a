"""Models of a pilot: a small CNN for CPU runs and a ResNet-18 for small images, with regularizer drop sites.

* ``small_cnn``: three conv3x3-BN-ReLU stages of widths ``w, 2w, 4w`` with 2×2 max-pooling between them, then
  global average pooling and a linear classifier. Light enough to train on a CPU.
* ``resnet18``: ResNet-18 (He, Zhang, Ren & Sun, "Deep Residual Learning for Image Recognition", CVPR 2016,
  arXiv 1512.03385) built from torchvision's ``BasicBlock`` with the usual small-image stem (CIFAR practice):
  a 3×3 stride-1 first convolution and no max-pool, so a 32×32 input reaches ``layer4`` at 4×4. Stage widths
  are ``w, 2w, 4w, 8w``; at ``w = 64`` the parameter names and shapes are exactly those of torchvision's
  ``resnet18(weights=None)`` with that stem, so its state dicts load either way.
* ``timm/<name>``: any timm model with feature maps at two reductions, built by :mod:`rblock.zoo` with its drop
  sites hooked on from outside; ``weights`` starts any model from a file (:mod:`rblock.zoo_weights`).

Drop sites. Every model has a drop site after each of its last two resolution stages (DropBlock practice,
arXiv 1810.12890; docs/design.md §2), each filled by one call of the ``drop_layer`` factory (by default
``nn.Identity``). Every arm of a pilot therefore has the same sites; :func:`drop_sites` lists the
:class:`~rblock.drop_layer.DropLayer` modules a model holds, in forward order.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from torch import Tensor, nn
from torchvision.models.resnet import BasicBlock, conv1x1

from pilot_spec.models import HUB_WEIGHTS, MAX_WIDTH
from pilot_spec.models import MODELS as MODEL_TABLE
from pilot_spec.zoo import TIMM_PREFIX, timm_name
from rblock.channel_drop import ChannelGroupDrop2d
from rblock.drop_layer import DropLayer

DropFactory = Callable[[], nn.Module]

_log = logging.getLogger(__name__)

# Each model's description, default width and drop sites are pilot_spec's table (the API lists them too).
MODELS: tuple[str, ...] = tuple(MODEL_TABLE)


def _init_weights(model: nn.Module) -> None:
    # The initialisation of torchvision's ResNet (He et al. 2015, fan-out), used for both models so that
    # every arm and every model starts from the same recipe.
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


def _conv_bn_relu(in_channels: int, out_channels: int) -> list[nn.Module]:
    return [
        nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    ]


class SmallCNN(nn.Module):
    """Three conv3x3-BN-ReLU stages with drop sites after stages 2 and 3.

    Stage 1 has one convolution (it runs at full resolution, where convolutions cost most) and stages 2 and 3
    have two each. An 8×8 input is seen at 8, 4 and 2 pixels a side; a 32×32 input at 32, 16 and 8.

    Args:
        in_channels: Channels of the input images.
        num_classes: Number of classes (output logits).
        drop_layer: Factory called once per drop site; ``None`` gives ``nn.Identity``.
        width: Channels of the first stage (the others have 2w and 4w).
    """

    def __init__(self, in_channels: int, num_classes: int, drop_layer: DropFactory, width: int = 32) -> None:
        super().__init__()
        # Registration order is forward order: drop_sites() relies on it.
        self.stage1 = nn.Sequential(*_conv_bn_relu(in_channels, width))
        self.pool1 = nn.MaxPool2d(2)
        self.stage2 = nn.Sequential(*_conv_bn_relu(width, 2 * width), *_conv_bn_relu(2 * width, 2 * width))
        self.drop2 = drop_layer()
        self.pool2 = nn.MaxPool2d(2)
        self.stage3 = nn.Sequential(*_conv_bn_relu(2 * width, 4 * width), *_conv_bn_relu(4 * width, 4 * width))
        self.drop3 = drop_layer()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(4 * width, num_classes)
        _init_weights(self)

    def forward(self, x: Tensor) -> Tensor:
        """Logits of shape (B, num_classes) for images of shape (B, in_channels, H, W), H and W at least 4."""
        x = self.pool1(self.stage1(x))
        x = self.pool2(self.drop2(self.stage2(x)))
        x = self.drop3(self.stage3(x))
        out: Tensor = self.fc(self.avgpool(x).flatten(1))
        return out


class ResNet18(nn.Module):
    """ResNet-18 for small images with drop sites after ``layer3`` and ``layer4``.

    The structure, module names and initialisation follow torchvision's ``ResNet(BasicBlock, [2, 2, 2, 2])``
    except for the stem (3×3 stride-1 ``conv1``, no max-pool) and the stage widths ``w, 2w, 4w, 8w``:
    torchvision fixes them at 64..512 for ``BasicBlock``, so the model is assembled here. The drop sites have
    no parameters, so at ``w = 64`` the state dict matches torchvision's with the same stem.

    Args:
        in_channels: Channels of the input images.
        num_classes: Number of classes (output logits).
        drop_layer: Factory called once per drop site.
        width: Channels of ``layer1`` (the others have 2w, 4w and 8w).
    """

    def __init__(self, in_channels: int, num_classes: int, drop_layer: DropFactory, width: int = 64) -> None:
        super().__init__()
        self.inplanes = width
        self.conv1 = nn.Conv2d(in_channels, width, kernel_size=3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.layer1 = self._make_layer(width, stride=1)
        self.layer2 = self._make_layer(2 * width, stride=2)
        self.layer3 = self._make_layer(4 * width, stride=2)
        self.drop3 = drop_layer()
        self.layer4 = self._make_layer(8 * width, stride=2)
        self.drop4 = drop_layer()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(8 * width, num_classes)
        _init_weights(self)

    def _make_layer(self, planes: int, stride: int) -> nn.Sequential:
        # As torchvision's ResNet._make_layer for BasicBlock (expansion 1) with two blocks per stage.
        downsample = None
        if stride != 1 or self.inplanes != planes:
            downsample = nn.Sequential(conv1x1(self.inplanes, planes, stride), nn.BatchNorm2d(planes))
        first = BasicBlock(self.inplanes, planes, stride, downsample)
        self.inplanes = planes
        return nn.Sequential(first, BasicBlock(planes, planes))

    def forward(self, x: Tensor) -> Tensor:
        """Logits of shape (B, num_classes) for images of shape (B, in_channels, H, W), H and W at least 8."""
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer2(self.layer1(x))
        x = self.drop3(self.layer3(x))
        x = self.drop4(self.layer4(x))
        out: Tensor = self.fc(self.avgpool(x).flatten(1))
        return out


def _check_int(name: str, value: Any, lower: int, upper: int | None = None) -> int:
    bad = isinstance(value, bool) or not isinstance(value, int) or value < lower
    if bad or (upper is not None and value > upper):
        allowed = f"an integer >= {lower}" if upper is None else f"an integer from {lower} to {upper}"
        raise ValueError(f"{name} must be {allowed}, got {value!r}")
    return int(value)


def _site_channels(name: str, width: int) -> list[int]:
    return [2 * width, 4 * width] if name == "small_cnn" else [4 * width, 8 * width]


def _build_builtin(
    name: str, in_channels: int, num_classes: int, make_site: DropFactory, width: int | None
) -> tuple[nn.Module, list[int], str]:
    if name not in MODEL_TABLE:
        raise ValueError(
            f"unknown model {name!r}: use one of {', '.join(MODELS)}, or {TIMM_PREFIX}<name> for a timm model"
        )
    width = _check_int("width", MODEL_TABLE[name].default_width if width is None else width, 1, MAX_WIDTH)
    cls = SmallCNN if name == "small_cnn" else ResNet18
    return cls(in_channels, num_classes, make_site, width), _site_channels(name, width), f"{name} with width {width}"


def create_model(
    name: str,
    *,
    in_channels: int,
    num_classes: int,
    drop_layer: Callable[[], nn.Module] | None = None,
    width: int | None = None,
    weights: str | Path | None = None,
) -> nn.Module:
    """Build a model of :data:`MODELS` or the timm zoo with its two drop sites filled by ``drop_layer()``.

    Args:
        name: ``small_cnn``, ``resnet18``, or ``timm/<name>`` for a timm model (:mod:`rblock.zoo`).
        in_channels: Channels of the input images (any number >= 1).
        num_classes: Number of classes (>= 2).
        drop_layer: Factory of one drop-site module, e.g. ``create_regularizer(arm).drop_layer``; called once
            per site. ``None`` leaves the sites as ``nn.Identity``.
        width: Base width (``small_cnn``: 32, ``resnet18``: 64 when ``None``), from 1 to 1024; must be
            ``None`` for a timm model (its widths are its own).
        weights: Starting weights: a state dict or checkpoint file (:mod:`rblock.zoo_weights`; the head is
            re-initialised when its class count differs), ``"hub"`` for timm's pretrained weights (network
            needed), or ``None`` for a fresh initialisation.

    Returns:
        An ``nn.Module`` mapping (B, in_channels, H, W) to logits (B, num_classes), in training mode.

    Raises:
        ValueError: For an unknown name or a bad argument, naming what is allowed; when a channel-group
            drop layer's ``groups`` does not divide a drop site's channels; when the weights cannot be had or
            do not fit the model.
    """
    in_channels = _check_int("in_channels", in_channels, 1)
    num_classes = _check_int("num_classes", num_classes, 2)
    if drop_layer is not None and not callable(drop_layer):
        raise ValueError(f"drop_layer must be a callable returning an nn.Module (or None), got {drop_layer!r}")
    if weights is not None and not isinstance(weights, str | Path):
        raise ValueError(f"weights must be a file path, 'hub' or None, got {weights!r}")
    factory: DropFactory = nn.Identity if drop_layer is None else drop_layer
    sites: list[nn.Module] = []

    def make_site() -> nn.Module:
        layer = factory()
        if not isinstance(layer, nn.Module):
            raise ValueError(f"drop_layer() must return an nn.Module, got {type(layer).__name__}")
        sites.append(layer)
        return layer

    hub = weights == HUB_WEIGHTS
    if timm_name(name) is not None:
        # Imported here: timm takes seconds to import, and a pilot of the built-ins never needs it.
        from rblock.zoo import create_timm_model

        if width is not None:
            raise ValueError(f"width is for the built-in models; {name} has its own widths: leave width unset")
        model, channels = create_timm_model(
            name, in_channels=in_channels, num_classes=num_classes, make_site=make_site, pretrained=hub
        )
        what = name
    else:
        if hub:
            raise ValueError(f"weights {HUB_WEIGHTS!r} is for timm/ models; {name} can start from a weights file")
        model, channels, what = _build_builtin(name, in_channels, num_classes, make_site, width)

    # Catch a channel-group layer whose groups do not fit a site now rather than at the first training step.
    for site, site_channels in zip(sites, channels, strict=True):
        if isinstance(site, ChannelGroupDrop2d) and site_channels % site.groups != 0:
            raise ValueError(
                f"{what} has {site_channels} channels at a drop site, which groups={site.groups} does not divide: "
                f"pick {'groups' if timm_name(name) else 'a width or groups'} that fit"
            )
    if weights is not None and not hub:
        from rblock.zoo import first_conv
        from rblock.zoo_weights import load_weights

        loaded = load_weights(model, weights, stem=first_conv(name))
        _log.info("%s: %s", name, loaded.note())
    return model


def describe_models() -> dict[str, dict[str, Any]]:
    """Every model with its description, drop sites and parameters (default and help), JSON-serialisable."""
    return {name: model.catalog_entry() for name, model in MODEL_TABLE.items()}


def drop_sites(model: nn.Module) -> list[DropLayer]:
    """The :class:`~rblock.drop_layer.DropLayer` modules of ``model`` in registration order.

    For the models of this module registration order is forward order. A model built with the arm ``none``
    (``nn.Identity`` sites) has none.
    """
    return [m for m in model.modules() if isinstance(m, DropLayer)]
