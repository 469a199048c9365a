"""Regularizer arms: one name per arm of a pilot, a factory, and the training objective of each.

The seven arms (docs/design.md §2):

=================  ==============================================================  ======
name               what                                                            passes
=================  ==============================================================  ======
``none``           no regularizer (baseline)                                       1
``dropout``        element-wise dropout at the drop sites                          1
``spatial_dropout`` whole channels (``nn.Dropout2d`` semantics)                    1
``dropblock``      calibrated DropBlock (arXiv 1810.12890)                         1
``rdrop``          R-Drop (arXiv 2106.14448): element dropout, two passes, KL      2
``rblock_b``       R-Block BDropDML (arXiv 2307.15150): channel-group sub-models   2
``rblock_s``       R-Block SDropDML (arXiv 2307.15150): spatial-block sub-models   2
=================  ==============================================================  ======

"passes" counts the sub-models each sample goes through, not the cost. A two-pass step runs the layers
before the first drop site once and duplicates the batch there (:mod:`rblock.shared_trunk`), so only the
rest of the network runs twice: by FLOP count a two-pass step costs 1.49x its one-pass twin on small_cnn
and 1.24x on resnet18 (the trunk is 51% and 76% of their FLOPs), and ``bench/regularizers.py`` measured
1.42-1.47x and 1.14-1.17x on the CPU (against 2.0x when the whole network ran on ``cat([x, x])``).

Each arm's name, passes and parameters are ``pilot_spec.arms.ARMS`` (the API validates pilots against the
same table); this module adds what needs torch: the drop layer of each arm and its loss.

R-Block's pairing defaults to ``disjoint``: the abstract calls the sub-models "difference maximizing",
and disjoint drop regions differ as much as two masks can while each keeps the target rate
(``complementary`` is available at p = 0.5). That choice is ours, not the paper's (whose text we lack).
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from pilot_spec.arms import ARMS, arm_rule_problems
from rblock.channel_drop import ChannelGroupDrop2d, SpatialDropout2d
from rblock.consistency import two_pass_loss
from rblock.drop_block import DropBlock2d
from rblock.drop_layer import DropLayer
from rblock.element_dropout import ElementDropout
from rblock.pairing import paired_forward
from rblock.shared_trunk import two_pass_forward

__all__ = ["ARMS", "DROP_LAYERS", "Regularizer", "create_regularizer", "describe_arms", "resolve_params"]

# The drop layer of each arm of ``pilot_spec.arms.ARMS`` (which holds its name, passes and parameters),
# built from the arm's resolved parameters; None leaves the drop sites as nn.Identity.
DROP_LAYERS: dict[str, Callable[[dict[str, Any]], nn.Module] | None] = {
    "none": None,
    "dropout": lambda p: ElementDropout(p["drop_prob"]),
    "spatial_dropout": lambda p: SpatialDropout2d(p["drop_prob"]),
    "dropblock": lambda p: DropBlock2d(p["drop_prob"], p["block_size"], p["shared_channels"]),
    "rdrop": lambda p: ElementDropout(p["drop_prob"]),
    "rblock_b": lambda p: ChannelGroupDrop2d(p["drop_prob"], p["groups"]),
    "rblock_s": lambda p: DropBlock2d(p["drop_prob"], p["block_size"], p["shared_channels"]),
}


def resolve_params(name: str, params: dict[str, Any]) -> dict[str, Any]:
    """Check an arm's parameters and fill in the defaults; raise ``ValueError`` naming what is allowed."""
    if name not in ARMS:
        raise ValueError(f"unknown regularizer {name!r}: use one of {', '.join(ARMS)}")
    spec = ARMS[name]
    unknown = sorted(set(params) - set(spec.params))
    if unknown:
        allowed = ", ".join(spec.params) or "none"
        raise ValueError(f"unknown parameter(s) {', '.join(unknown)} for {name!r}: allowed are {allowed}")
    resolved: dict[str, Any] = {}
    for key, field in spec.params.items():
        value = params.get(key, field.default)
        if (problem := field.check(value)) is not None:
            raise ValueError(f"{name}.{key} {problem}")
        # The layers compute with floats: an integral rate or weight (0, 1) arrives as a JSON integer.
        resolved[key] = float(value) if field.kind == "number" else value
    for rule in arm_rule_problems(spec, resolved):
        raise ValueError(f"{name}.{rule.field}: {rule.message}")
    return resolved


class Regularizer:
    """One arm: makes the drop layers of a model and computes the training loss.

    Use :func:`create_regularizer` to build one.
    """

    def __init__(self, name: str, params: dict[str, Any]) -> None:
        self.params: dict[str, Any] = resolve_params(name, params)
        self.name = name
        self.spec = ARMS[name]
        self.passes = self.spec.passes
        self.progress = 1.0
        self._layers: weakref.WeakSet[DropLayer] = weakref.WeakSet()
        # The mean symmetric KL of the last two-pass loss (a detached 0-dim tensor), for `consistency_kl`.
        self.last_consistency_kl: Tensor | None = None
        # Two-pass arms run the layers before the first drop site once (rblock.shared_trunk): same values,
        # loss and gradients as model(cat([x, x])). False runs the concatenated pass, the reference kept for
        # the equivalence tests, the benchmark and models whose trunk is not shareable.
        self.shared_trunk = True

    @property
    def schedule(self) -> str:
        return str(self.params.get("schedule", "constant"))

    def drop_layer(self) -> nn.Module:
        """A fresh module for one drop site (``nn.Identity`` for ``none``)."""
        make = DROP_LAYERS[self.name]
        layer = nn.Identity() if make is None else make(self.params)
        if isinstance(layer, DropLayer):
            layer.constant_schedule = self.schedule == "constant"
            layer.rate_scale = self._rate_scale()
            self._layers.add(layer)
        return layer

    def _rate_scale(self) -> float:
        if self.schedule != "linear":
            return 1.0
        # An arm with ``ramp_fraction`` reaches its full rate after that fraction of training (DropBlock,
        # arXiv 1810.12890, ramps over all of it: the default 1); the others ramp over all of training.
        return min(1.0, self.progress / float(self.params.get("ramp_fraction", 1.0)))

    def set_progress(self, fraction: float) -> None:
        """Set training progress in [0, 1]: a linear schedule drops ``drop_prob * fraction / ramp_fraction``,
        at most ``drop_prob`` (``ramp_fraction`` 1 where the arm has none)."""
        if not (isinstance(fraction, int | float) and math.isfinite(fraction) and 0.0 <= fraction <= 1.0):
            raise ValueError(f"progress must be a fraction in [0, 1], got {fraction!r}")
        self.progress = float(fraction)
        for layer in self._layers:
            layer.rate_scale = self._rate_scale()

    @property
    def current_drop_prob(self) -> float:
        """The rate the drop layers use now (0 for ``none``)."""
        return float(self.params.get("drop_prob", 0.0)) * self._rate_scale()

    def loss(self, model: nn.Module, x: Tensor, y: Tensor, label_smoothing: float = 0.0) -> tuple[Tensor, Tensor]:
        """Training loss of one batch and the logits of the first pass.

        Args:
            model: A model whose drop sites were filled by :meth:`drop_layer`.
            x: Inputs of shape (B, ...).
            y: Class ids of shape (B,).
            label_smoothing: Passed to the cross-entropy.

        Returns:
            (loss as a 0-dim float32 tensor, logits of shape (B, K)).

        A two-pass arm calls ``model(x)`` once: the first drop site duplicates the batch
        (:mod:`rblock.shared_trunk`) and the model returns both passes' logits, (2B, K), equal to
        ``model(cat([x, x]))`` with the same masks.
        """
        if self.passes == 1:
            logits = model(x)
            return F.cross_entropy(logits.float(), y, label_smoothing=label_smoothing), logits
        b = x.shape[0]
        if self.shared_trunk:
            both = two_pass_forward(model, x, self.params["pairing"])
        else:
            with paired_forward(self.params["pairing"]):
                both = model(torch.cat([x, x]))
        loss, kl = two_pass_loss(both[:b], both[b:], y, self.params["alpha"], label_smoothing)
        self.last_consistency_kl = kl
        return loss, both[:b]

    def __repr__(self) -> str:
        return f"Regularizer({self.name!r}, {self.params})"


def create_regularizer(name: str, **params: Any) -> Regularizer:
    """Build the regularizer of one arm.

    Args:
        name: One of ``none, dropout, spatial_dropout, dropblock, rdrop, rblock_b, rblock_s``.
        **params: Any of the arm's parameters (``drop_prob``, ``block_size``, ``groups``, ``alpha``,
            ``pairing``, ``schedule``, ``ramp_fraction``, ``shared_channels``); the rest take the arm's defaults.

    Raises:
        ValueError: For an unknown name or parameter, or a value out of range, naming what is allowed.
    """
    return Regularizer(name, params)


def describe_arms() -> dict[str, dict[str, Any]]:
    """Every arm with its passes and parameters (default and help), JSON-serialisable, for UIs and APIs."""
    return {name: arm.catalog_entry() for name, arm in ARMS.items()}
