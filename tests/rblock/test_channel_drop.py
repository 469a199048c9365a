"""Channel-group dropping, SpatialDropout and element dropout: whole groups, rates, scaling, errors."""

from __future__ import annotations

import pytest
import torch

from rblock import (
    ChannelGroupDrop2d,
    ElementDropout,
    SpatialDropout2d,
    channel_group_drop_2d,
    element_dropout,
    spatial_dropout_2d,
)


def test_groups_are_dropped_whole() -> None:
    torch.manual_seed(20)
    out = channel_group_drop_2d(torch.ones(256, 32, 4, 4), 0.25, groups=8)
    zero_channels = (out == 0).all(dim=(2, 3)).view(256, 8, 4)  # (B, G, C/G)
    assert torch.equal(zero_channels, zero_channels[:, :, :1].expand_as(zero_channels))
    assert zero_channels.float().mean().item() == pytest.approx(0.25, abs=0.02)
    kept = out[out != 0]
    torch.testing.assert_close(kept, torch.full_like(kept, 1 / 0.75))


def test_groups_equal_to_channels_is_spatial_dropout() -> None:
    torch.manual_seed(21)
    a = channel_group_drop_2d(torch.ones(64, 16, 4, 4), 0.3, groups=16)
    torch.manual_seed(21)
    b = spatial_dropout_2d(torch.ones(64, 16, 4, 4), 0.3)
    assert torch.equal(a, b)
    whole = (b == 0).float().mean(dim=(2, 3))
    assert set(whole.unique().tolist()) <= {0.0, 1.0}


def test_indivisible_groups_raise() -> None:
    with pytest.raises(ValueError, match="groups must divide"):
        channel_group_drop_2d(torch.ones(2, 10, 4, 4), 0.2, groups=4)
    with pytest.raises(ValueError, match="groups must divide"):
        ChannelGroupDrop2d(0.2, groups=3).train()(torch.ones(2, 10, 4, 4))
    with pytest.raises(ValueError, match="positive integer"):
        ChannelGroupDrop2d(0.2, groups=0)


@pytest.mark.parametrize("layer", [ElementDropout(0.2), SpatialDropout2d(0.2), ChannelGroupDrop2d(0.2, 4)])
def test_mean_preserved_and_rate_recorded(layer: torch.nn.Module) -> None:
    torch.manual_seed(22)
    out = layer.train()(torch.ones(512, 16, 8, 8))
    assert out.mean().item() == pytest.approx(1.0, abs=0.02)
    assert layer.last_drop_fraction == pytest.approx((out == 0).float().mean().item(), abs=1e-6)  # type: ignore[operator]
    assert layer.last_drop_fraction == pytest.approx(0.2, abs=0.02)  # type: ignore[operator]


@pytest.mark.parametrize("layer", [ElementDropout(0.2), SpatialDropout2d(0.2), ChannelGroupDrop2d(0.2, 4)])
def test_eval_mode_is_identity(layer: torch.nn.Module) -> None:
    x = torch.randn(4, 8, 4, 4)
    assert layer.eval()(x) is x


def test_element_dropout_functional() -> None:
    torch.manual_seed(23)
    out = element_dropout(torch.ones(1000, 100), 0.1)
    assert (out == 0).float().mean().item() == pytest.approx(0.1, abs=0.005)
    with pytest.raises(ValueError, match="drop_prob must be a number >= 0 and < 1"):
        element_dropout(torch.ones(3), 1.5)
