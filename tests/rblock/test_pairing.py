"""Paired masks: each rule's property on every drop layer family, and the single-pass fallbacks."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from rblock import ChannelGroupDrop2d, DropBlock2d, ElementDropout, SpatialDropout2d, paired_forward
from rblock.drop_layer import DropLayer
from rblock.pairing import active_pairing

HALF = 64


def _layers(p: float) -> dict[str, DropLayer]:
    return {
        "element": ElementDropout(p),
        "spatial": SpatialDropout2d(p),
        "groups": ChannelGroupDrop2d(p, groups=8),
        "block": DropBlock2d(p, 3),
        "block_shared": DropBlock2d(p, 3, shared_channels=True),
    }


def _halves(layer: nn.Module, pairing: str, size: int = 16) -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.ones(2 * HALF, 32, size, size)
    with paired_forward(pairing):
        out = layer.train()(x)
    zeros = out == 0
    return zeros[:HALF], zeros[HALF:]


@pytest.mark.parametrize("kind", ["element", "spatial", "groups", "block", "block_shared"])
def test_disjoint_never_drops_a_unit_twice_and_keeps_the_rate(kind: str) -> None:
    torch.manual_seed(10)
    p = 0.3 if kind.startswith("block") else 0.4
    rates1, rates2 = [], []
    for _ in range(5):
        z1, z2 = _halves(_layers(p)[kind], "disjoint")
        assert not (z1 & z2).any()
        rates1.append(z1.float().mean().item())
        rates2.append(z2.float().mean().item())
    assert sum(rates1) / 5 == pytest.approx(p, abs=0.02)
    assert sum(rates2) / 5 == pytest.approx(p, abs=0.02)


@pytest.mark.parametrize("size", [8, 16, 32])
def test_disjoint_blocks_reach_the_rate_on_small_maps(size: int) -> None:
    torch.manual_seed(11)
    for p in (0.1, 0.2, 0.3):
        z1, z2 = _halves(DropBlock2d(p, 3), "disjoint", size)
        assert not (z1 & z2).any()
        assert z2.float().mean().item() == pytest.approx(p, abs=0.02), (size, p)


@pytest.mark.parametrize("kind", ["element", "spatial", "groups", "block", "block_shared"])
def test_complementary_covers_every_unit_exactly_once(kind: str) -> None:
    torch.manual_seed(12)
    z1, z2 = _halves(_layers(0.5)[kind], "complementary")
    assert torch.equal(z1, ~z2)
    assert z1.float().mean().item() == pytest.approx(0.5, abs=0.02)


@pytest.mark.parametrize("kind", ["element", "spatial", "groups", "block"])
def test_complementary_halves_average_to_the_input(kind: str) -> None:
    x = torch.randn(HALF, 32, 8, 8)
    with paired_forward("complementary"):
        out = _layers(0.5)[kind].train()(torch.cat([x, x]))
    torch.testing.assert_close(0.5 * (out[:HALF] + out[HALF:]), x)


@pytest.mark.parametrize("kind", ["element", "spatial", "groups", "block"])
def test_independent_halves_overlap_by_chance(kind: str) -> None:
    torch.manual_seed(13)
    z1, z2 = _halves(_layers(0.3)[kind], "independent")
    overlap = (z1 & z2).float().mean().item()
    assert overlap == pytest.approx(0.09, abs=0.03)


@pytest.mark.parametrize("kind", ["element", "spatial", "groups", "block"])
@pytest.mark.parametrize("pairing", ["disjoint", "independent"])
def test_paired_masks_preserve_the_expected_output(kind: str, pairing: str) -> None:
    torch.manual_seed(14)
    layer = _layers(0.2)[kind].train()
    x = torch.ones(2 * 512, 16, 8, 8)
    with paired_forward(pairing):
        out = layer(x)
    assert out[:512].mean().item() == pytest.approx(1.0, abs=0.03)
    assert out[512:].mean().item() == pytest.approx(1.0, abs=0.03)


def test_outside_the_context_or_with_an_odd_batch_layers_are_single_pass() -> None:
    torch.manual_seed(15)
    layer = ElementDropout(0.5).train()
    z1, z2 = (layer(torch.ones(2 * HALF, 8, 8, 8)) == 0).chunk(2)
    assert (z1 & z2).any()  # no pairing outside the context
    with paired_forward("complementary"):
        odd = layer(torch.ones(2 * HALF + 1, 8, 8, 8))
    assert odd.shape[0] == 2 * HALF + 1
    assert active_pairing() is None


def test_bad_combinations_raise_with_a_reason() -> None:
    x = torch.ones(4, 8, 8, 8)
    with pytest.raises(ValueError, match=r"drop_prob must be 0\.5"), paired_forward("complementary"):
        DropBlock2d(0.2, 3).train()(x)
    with pytest.raises(ValueError, match=r"drop_prob <= 0\.3"), paired_forward("disjoint"):
        DropBlock2d(0.4, 3).train()(x)
    with pytest.raises(ValueError, match=r"drop_prob <= 0\.5"), paired_forward("disjoint"):
        ChannelGroupDrop2d(0.6, 4).train()(x)
    ramped = SpatialDropout2d(0.5).train()
    ramped.constant_schedule = False
    with pytest.raises(ValueError, match="needs schedule 'constant'"), paired_forward("complementary"):
        ramped(x)
    with pytest.raises(ValueError, match="unknown pairing"), paired_forward("overlapping"):
        pass
