"""What bench/regularizers.py and bench/gpu_check.py share about two-pass arms: twins, goals, FLOP floors.

A two-pass arm runs the layers before its first drop site (the trunk) once and the rest twice
(rblock.shared_trunk), so its step can be no cheaper than (trunk + 2·rest) / (trunk + rest) times its
one-pass twin's: the *floor*, counted here in FLOPs with ``torch.utils.flop_counter``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch.utils.flop_counter import FlopCounterMode

from rblock import create_regularizer
from rblock.models import create_model

# Each two-pass arm and the one-pass arm with the same drop layer.
TWINS = (("rdrop", "dropout"), ("rblock_s", "dropblock"), ("rblock_b", "spatial_dropout"))
# Issue 13's goals for two-pass step / one-pass twin (CPU, same run), against floors of 1.49x and 1.24x.
GOALS = {"small_cnn": 1.65, "resnet18": 1.35}

Step = Callable[[], None]


def train_step(arm: str, model_name: str, width: int, x: torch.Tensor, y: torch.Tensor, shared: bool = True) -> Step:
    """One SGD step of ``arm`` on ``model_name`` (seeded weights); ``shared=False`` runs model(cat([x, x]))."""
    torch.manual_seed(0)
    reg = create_regularizer(arm, schedule="constant")
    reg.shared_trunk = shared
    model = create_model(model_name, in_channels=x.shape[1], num_classes=10, drop_layer=reg.drop_layer, width=width)
    model = model.to(x.device)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

    def step() -> None:
        loss, _ = reg.loss(model, x, y)
        opt.zero_grad()
        loss.backward()
        opt.step()

    return step


def flop_floor(model_name: str, width: int, batch: int = 8, side: int = 32) -> tuple[float, float]:
    """(floor, trunk share of the FLOPs) of a two-pass training step on ``side``² RGB images, on the CPU.

    FlopCounterMode counts a forward and backward step of each: the one-pass twin does trunk + rest, the
    shared-trunk two-pass step trunk + 2·rest (drop masks, BatchNorm and activations are not counted). Both
    scale with the batch, so a small one gives the ratio of any.
    """
    x, y = torch.randn(batch, 3, side, side), torch.randint(0, 10, (batch,))
    flops = {}
    for arm in ("dropblock", "rblock_s"):
        step = train_step(arm, model_name, width, x, y)
        with FlopCounterMode(display=False) as counter:
            step()
        flops[arm] = counter.get_total_flops()
    floor = flops["rblock_s"] / flops["dropblock"]
    return floor, 2.0 - floor
