"""Tests of rblock.models: shapes, drop sites, every arm's loss and gradients, channels_last, bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable

import pytest
import torch
import torchvision
from torch import Tensor, nn

from rblock import ARMS, DropBlock2d, DropLayer, create_regularizer
from rblock.models import MODELS, create_model, describe_models, drop_sites


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize(("channels", "size", "classes"), [(1, 8, 10), (3, 32, 100)])
def test_output_shape(name: str, channels: int, size: int, classes: int) -> None:
    torch.manual_seed(0)
    model = create_model(name, in_channels=channels, num_classes=classes)
    out = model(torch.randn(2, channels, size, size))
    assert out.shape == (2, classes)
    assert out.dtype == torch.float32


@pytest.mark.parametrize(
    ("name", "sides", "channels"),
    # small_cnn (w = 32): stage 2 at 1/2 and stage 3 at 1/4 of 32; resnet18 (w = 64): layer3 at 1/4, layer4 at 1/8.
    [("small_cnn", [16, 8], [64, 128]), ("resnet18", [8, 4], [256, 512])],
)
def test_drop_sites_after_the_last_two_stages(name: str, sides: list[int], channels: list[int]) -> None:
    model = create_model(name, in_channels=3, num_classes=10, drop_layer=create_regularizer("dropblock").drop_layer)
    sites = drop_sites(model)
    assert len(sites) == 2
    assert all(isinstance(site, DropBlock2d) for site in sites)
    seen: list[tuple[int, int, int]] = []

    def record(_module: nn.Module, inputs: tuple[Tensor, ...]) -> None:
        seen.append((inputs[0].shape[1], inputs[0].shape[2], inputs[0].shape[3]))

    for site in sites:
        site.register_forward_pre_hook(record)
    model(torch.randn(2, 3, 32, 32))
    # The hooks fire in forward order, which must also be the order drop_sites() returns.
    assert seen == [(c, s, s) for c, s in zip(channels, sides, strict=True)]


@pytest.mark.parametrize("name", MODELS)
def test_none_arm_has_identity_sites(name: str) -> None:
    model = create_model(name, in_channels=1, num_classes=3, width=4, drop_layer=create_regularizer("none").drop_layer)
    assert drop_sites(model) == []
    default = create_model(name, in_channels=1, num_classes=3, width=4)
    assert drop_sites(default) == []
    assert sum(isinstance(m, nn.Identity) for m in default.modules()) >= 2


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("arm", list(ARMS))
def test_every_arm_trains(name: str, arm: str) -> None:
    torch.manual_seed(0)
    regularizer = create_regularizer(arm)
    # Width 4 (resnet18) and 8 (small_cnn): every site has 16 or 32 channels, which rblock_b's 8 groups divide.
    model = create_model(
        name, in_channels=3, num_classes=5, drop_layer=regularizer.drop_layer, width=4 if name == "resnet18" else 8
    )
    assert len(drop_sites(model)) == (0 if arm == "none" else 2)
    x, y = torch.randn(4, 3, 16, 16), torch.tensor([0, 1, 2, 4])
    loss, logits = regularizer.loss(model, x, y)
    assert logits.shape == (4, 5)
    assert loss.dim() == 0 and torch.isfinite(loss)
    loss.backward()
    for pname, param in model.named_parameters():
        assert param.grad is not None, pname
        assert torch.isfinite(param.grad).all(), pname
        assert param.grad.abs().sum() > 0, pname


_CHANNELS_LAST = """
import sys, torch
from rblock import create_regularizer
from rblock.models import create_model

name = sys.argv[1]
torch.set_num_threads(1)
torch.manual_seed(0)
width = 8
model = create_model(name, in_channels=3, num_classes=7, width=width).eval()
x = torch.randn(2, 3, 16, 16)
expected = model(x)
model = model.to(memory_format=torch.channels_last)
assert torch.allclose(model(x.to(memory_format=torch.channels_last)), expected, atol=1e-5)
for arm in ("dropblock", "rblock_b", "rblock_s", "spatial_dropout"):
    regularizer = create_regularizer(arm)
    model = create_model(name, in_channels=3, num_classes=7, width=width, drop_layer=regularizer.drop_layer)
    model = model.to(memory_format=torch.channels_last)
    loss, _ = regularizer.loss(model, x.to(memory_format=torch.channels_last), torch.tensor([1, 6]))
    loss.backward()
print("ok")
"""


@pytest.mark.parametrize("name", MODELS)
def test_channels_last(name: str) -> None:
    # Width 8, in a fresh interpreter. At width 4 (stem and stages of 4-32 channels) resnet18's channels_last
    # backward on the CPU corrupts the heap inside torch 2.14.1 ("free(): invalid next size", SIGABRT) in 3
    # of 4 fresh runs, with any arm including "none"; widths 8 and 16 ran clean 4 of 4, and torchvision's
    # resnet18 too. In the suite it aborted a whole xdist worker (and the run then hung), so a crash here
    # now fails this test alone. rblock uses channels_last only on CUDA (training setting channels_last).
    done = subprocess.run(
        [sys.executable, "-c", _CHANNELS_LAST, name], capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0 and done.stdout.strip() == "ok", (done.returncode, done.stderr[-2000:])


def test_width() -> None:
    small = create_model("small_cnn", in_channels=1, num_classes=10, width=8)
    assert isinstance(small.get_submodule("fc"), nn.Linear)
    assert small.get_submodule("fc").in_features == 32
    assert create_model("small_cnn", in_channels=1, num_classes=10).get_submodule("fc").in_features == 128
    assert create_model("resnet18", in_channels=1, num_classes=10, width=16).get_submodule("fc").in_features == 128


def test_resnet18_matches_torchvision_at_width_64() -> None:
    torch.manual_seed(0)
    reference = torchvision.models.resnet18(weights=None, num_classes=10)
    reference.conv1 = nn.Conv2d(3, 64, kernel_size=3, stride=1, padding=1, bias=False)
    reference.maxpool = nn.Identity()
    model = create_model("resnet18", in_channels=3, num_classes=10)
    assert {k: v.shape for k, v in model.state_dict().items()} == {
        k: v.shape for k, v in reference.state_dict().items()
    }
    model.load_state_dict(reference.state_dict())
    x = torch.randn(2, 3, 32, 32)
    assert torch.allclose(model.eval()(x), reference.eval()(x), atol=1e-5)


def test_describe_models() -> None:
    described = describe_models()
    assert list(described) == list(MODELS)
    json.dumps(described)
    assert described["small_cnn"]["params"]["width"]["default"] == 32
    assert described["resnet18"]["params"]["width"]["default"] == 64
    assert all(spec["description"] and spec["params"]["width"]["help"] for spec in described.values())


def _not_a_module() -> nn.Module:
    return "identity"  # type: ignore[return-value]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "vgg16"}, "small_cnn, resnet18"),
        ({"in_channels": 0}, "in_channels"),
        ({"in_channels": 1.5}, "in_channels"),
        ({"in_channels": True}, "in_channels"),
        ({"num_classes": 1}, "num_classes"),
        ({"num_classes": "10"}, "num_classes"),
        ({"width": 0}, "width"),
        ({"width": 4096}, "width"),
        ({"width": 8.0}, "width"),
        ({"drop_layer": _not_a_module}, "nn.Module"),
        ({"drop_layer": 3}, "callable"),
    ],
)
def test_bad_arguments(kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {"name": "small_cnn", "in_channels": 3, "num_classes": 10, "width": 4} | kwargs
    name = args.pop("name")
    with pytest.raises(ValueError, match=message):
        create_model(name, **args)  # type: ignore[arg-type]


@pytest.mark.parametrize(("name", "width"), [("small_cnn", 3), ("resnet18", 1)])
def test_groups_must_divide_site_channels(name: str, width: int) -> None:
    factory: Callable[[], nn.Module] = create_regularizer("rblock_b", groups=8).drop_layer
    with pytest.raises(ValueError, match="groups=8"):
        create_model(name, in_channels=3, num_classes=10, width=width, drop_layer=factory)


def test_drop_sites_generic() -> None:
    layer = create_regularizer("dropout").drop_layer()
    assert isinstance(layer, DropLayer)
    assert drop_sites(nn.Sequential(nn.Linear(2, 2), layer, nn.ReLU())) == [layer]
