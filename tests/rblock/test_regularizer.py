"""create_regularizer: the seven arms, their losses, schedules and every ValueError path."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
import torch
from torch import nn

import rblock
from rblock import ARMS, DropLayer, create_regularizer

ARM_NAMES = ("none", "dropout", "spatial_dropout", "dropblock", "rdrop", "rblock_b", "rblock_s")


def _tiny_cnn(reg: rblock.Regularizer) -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1),
        nn.BatchNorm2d(16),
        nn.ReLU(),
        reg.drop_layer(),
        nn.Conv2d(16, 16, 3, padding=1),
        nn.ReLU(),
        reg.drop_layer(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(16, 5),
    )


def test_the_seven_arms_exist() -> None:
    assert tuple(ARMS) == ARM_NAMES
    assert {name: create_regularizer(name).passes for name in ARM_NAMES} == {
        "none": 1,
        "dropout": 1,
        "spatial_dropout": 1,
        "dropblock": 1,
        "rdrop": 2,
        "rblock_b": 2,
        "rblock_s": 2,
    }


@pytest.mark.parametrize("name", ARM_NAMES)
def test_loss_is_finite_and_reaches_every_parameter(name: str) -> None:
    torch.manual_seed(40)
    reg = create_regularizer(name)
    model = _tiny_cnn(reg).train()
    x, y = torch.randn(8, 3, 12, 12), torch.randint(0, 5, (8,))
    loss, logits = reg.loss(model, x, y)
    assert loss.dim() == 0 and math.isfinite(loss.item())
    assert logits.shape == (8, 5)
    loss.backward()
    for pname, param in model.named_parameters():
        assert param.grad is not None and param.grad.abs().sum() > 0, pname
    if reg.passes == 2:
        assert reg.last_consistency_kl is not None and reg.last_consistency_kl.item() > 0


@pytest.mark.parametrize("name", ARM_NAMES)
def test_params_are_json_and_drop_layers_match_the_arm(name: str) -> None:
    reg = create_regularizer(name)
    assert json.loads(json.dumps(reg.params)) == reg.params
    layer = reg.drop_layer()
    assert isinstance(layer, DropLayer) == (name != "none")


def test_two_pass_loss_equals_the_hand_computed_formula() -> None:
    """A fixed linear model, masks captured from the drop layer: the loss is docs/design.md §2's formula."""
    torch.manual_seed(41)
    reg = create_regularizer("rblock_b", drop_prob=0.25, groups=4, alpha=0.6, schedule="constant")
    drop = reg.drop_layer()
    linear = nn.Linear(4 * 2 * 2, 3)
    model = nn.Sequential(drop, nn.Flatten(), linear)
    captured: list[torch.Tensor] = []
    drop.register_forward_hook(lambda _m, _i, out: captured.append(out.detach()))
    x, y = torch.randn(5, 4, 2, 2), torch.tensor([0, 1, 2, 1, 0])
    loss, logits = reg.loss(model, x, y)

    h = captured[0].double()  # (10, 4, 2, 2): both passes' masked inputs
    dropped = (h == 0).all(dim=(2, 3))
    assert not (dropped[:5] & dropped[5:]).any()  # disjoint pairing
    w, b = linear.weight.detach().double(), linear.bias.detach().double()
    z = h.flatten(1) @ w.T + b
    z1, z2 = z[:5], z[5:]
    lp1, lp2 = z1 - z1.exp().sum(1, keepdim=True).log(), z2 - z2.exp().sum(1, keepdim=True).log()
    ce = -0.5 * (lp1.gather(1, y[:, None]) + lp2.gather(1, y[:, None])).squeeze(1)
    p1, p2 = lp1.exp(), lp2.exp()
    skl = 0.5 * ((p1 * (lp1 - lp2)).sum(1) + (p2 * (lp2 - lp1)).sum(1))
    expected = (ce + 0.6 * skl).mean()
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)
    torch.testing.assert_close(logits.double(), z1, rtol=1e-5, atol=1e-6)


def test_set_progress_ramps_every_layer_including_earlier_ones() -> None:
    reg = create_regularizer("dropblock", drop_prob=0.2)
    early = reg.drop_layer()
    reg.set_progress(0.25)
    late = reg.drop_layer()
    assert isinstance(early, DropLayer) and isinstance(late, DropLayer)
    assert early.current_drop_prob == pytest.approx(0.05)
    assert late.current_drop_prob == pytest.approx(0.05)
    reg.set_progress(1.0)
    assert early.current_drop_prob == pytest.approx(0.2)
    constant = create_regularizer("dropblock", drop_prob=0.2, schedule="constant")
    layer = constant.drop_layer()
    constant.set_progress(0.0)
    assert isinstance(layer, DropLayer) and layer.current_drop_prob == pytest.approx(0.2)


def test_ramp_at_zero_drops_nothing_and_records_zero() -> None:
    reg = create_regularizer("spatial_dropout", drop_prob=0.3)
    layer = reg.drop_layer().train()
    reg.set_progress(0.0)
    x = torch.ones(4, 8, 4, 4)
    assert torch.equal(layer(x), x)
    assert isinstance(layer, DropLayer) and layer.last_drop_fraction == 0.0


@pytest.mark.parametrize(
    ("name", "params", "message"),
    [
        ("dropconnect", {}, "unknown regularizer 'dropconnect': use one of none, dropout"),
        ("dropout", {"block_size": 3}, "unknown parameter\\(s\\) block_size for 'dropout': allowed are drop_prob"),
        ("none", {"drop_prob": 0.1}, "allowed are none"),
        ("dropout", {"drop_prob": 1.2}, "dropout.drop_prob must be a number >= 0 and < 1 \\(got 1.2\\)"),
        ("dropout", {"drop_prob": "high"}, "dropout.drop_prob must be a number"),
        ("dropblock", {"block_size": 0}, "dropblock.block_size must be an integer >= 1 and <= 64"),
        ("rblock_b", {"groups": 2.5}, "rblock_b.groups must be an integer"),
        ("rdrop", {"alpha": -1}, "rdrop.alpha must be a number >= 0 and <= 100"),
        ("rdrop", {"alpha": math.inf}, "rdrop.alpha must be a number >= 0 and <= 100"),
        ("rblock_s", {"pairing": "same"}, "rblock_s.pairing must be one of independent, disjoint, complementary"),
        ("rblock_s", {"schedule": "cosine"}, "rblock_s.schedule must be one of linear, constant"),
        ("rblock_s", {"shared_channels": "yes"}, "rblock_s.shared_channels must be true or false"),
        ("rblock_s", {"drop_prob": 0.4}, "pairing 'disjoint' on spatial blocks needs drop_prob <= 0.3"),
        ("rblock_b", {"drop_prob": 0.6}, "pairing 'disjoint' on channels and elements needs drop_prob <= 0.5"),
        ("rblock_b", {"pairing": "complementary", "drop_prob": 0.3}, "drop_prob must be 0.5"),
        ("rblock_b", {"pairing": "complementary", "drop_prob": 0.5}, "needs schedule 'constant'"),
    ],
)
def test_bad_arguments_raise_and_say_what_is_allowed(name: str, params: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        create_regularizer(name, **params)


def test_complementary_with_constant_schedule_is_accepted() -> None:
    reg = create_regularizer("rblock_b", pairing="complementary", drop_prob=0.5, schedule="constant")
    assert reg.params["pairing"] == "complementary"


def test_bad_progress_raises() -> None:
    with pytest.raises(ValueError, match="progress must be a fraction"):
        create_regularizer("dropout").set_progress(1.5)


def test_describe_arms_is_json() -> None:
    described = rblock.describe_arms()
    assert json.loads(json.dumps(described)) == described
    assert described["rblock_s"]["params"]["pairing"]["default"] == "disjoint"
