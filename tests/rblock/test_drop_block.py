"""DropBlock: calibrated realised rate, contiguous blocks inside the map, mean preservation, eval identity."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from rblock import DropBlock2d, drop_block_2d
from rblock.drop_block import _calibrate, _coverage, _drop_block

RATES = (0.05, 0.1, 0.2, 0.3)
TOLERANCE = 0.015  # absolute, the bound on the realised rate


def _realised(size: int, block: int, p: float, draws: int = 10) -> float:
    x = torch.ones(64, 32, size, size)
    return sum(_drop_block(x, p, block, False, None)[1].item() for _ in range(draws)) / draws


def test_calibration_expectation_is_exact_on_every_map_and_block() -> None:
    """The solved seed rate gives the target expected rate on every square map 7..64 and block 1..7."""
    worst = 0.0
    for size in range(7, 65):
        for block in range(1, 8):
            counts = _coverage(size, size, block)
            for p in (0.05, 0.1, 0.15, 0.2, 0.25, 0.3):
                gamma, _ = _calibrate(size, size, block, p)
                expected = float(np.mean(1.0 - (1.0 - gamma) ** counts))
                worst = max(worst, abs(expected - p))
    assert worst < 1e-9


@pytest.mark.parametrize("size", [7, 8, 11, 16, 23, 32, 64])
def test_realised_rate_within_tolerance(size: int) -> None:
    """Sampled masks (batch 64 × 32 channels, mean of 10 draws) land within ±0.015 of the target."""
    torch.manual_seed(size)
    for block in range(1, 8):
        for p in RATES:
            realised = _realised(size, block, p)
            assert abs(realised - p) <= TOLERANCE, (size, block, p, realised)


def test_naive_gamma_would_miss_where_ours_hits() -> None:
    """The case the product exists for: 8×8 map, block 5, p = 0.1 (seeds anywhere gave 0.245)."""
    torch.manual_seed(0)
    assert abs(_realised(8, 5, 0.1) - 0.1) <= TOLERANCE


def test_module_records_last_drop_fraction() -> None:
    torch.manual_seed(1)
    layer = DropBlock2d(0.2, 3).train()
    assert layer.last_drop_fraction is None
    out = layer(torch.ones(64, 32, 16, 16))
    zero_fraction = (out == 0).float().mean().item()
    assert layer.last_drop_fraction == pytest.approx(zero_fraction, abs=1e-6)
    assert abs(zero_fraction - 0.2) < 0.02


def test_blocks_are_contiguous_squares_inside_the_map() -> None:
    """Every dropped unit belongs to a full block × block square of zeros that lies inside the map."""
    torch.manual_seed(2)
    block = 3
    out = drop_block_2d(torch.ones(16, 8, 12, 12), 0.15, block)
    dropped = (out == 0).float().view(-1, 1, 12, 12)
    # A unit is explained by a block if some block-sized window inside the map containing it is all zeros.
    full_windows = F.avg_pool2d(dropped, block, stride=1) > 1 - 1e-6  # (M, 1, 10, 10) inside-map windows
    covered = F.conv_transpose2d(full_windows.float(), torch.ones(1, 1, block, block)) > 0
    assert torch.equal(covered, dropped > 0)
    assert dropped.sum() > 0


def test_shared_channels_uses_one_mask_per_sample() -> None:
    torch.manual_seed(3)
    out = drop_block_2d(torch.ones(8, 16, 16, 16), 0.2, 3, shared_channels=True)
    zeros = out == 0
    assert torch.equal(zeros, zeros[:, :1].expand_as(zeros))
    per_channel = drop_block_2d(torch.ones(8, 16, 16, 16), 0.2, 3) == 0
    assert not torch.equal(per_channel, per_channel[:, :1].expand_as(per_channel))


@pytest.mark.parametrize(("size", "block"), [(32, 5), (16, 3), (8, 5), (7, 3)])
def test_expected_output_equals_input(size: int, block: int) -> None:
    """Mean over many draws of the output equals the input, unit by unit (within sampling noise)."""
    torch.manual_seed(4)
    x = torch.rand(1, 1, size, size) + 0.5
    draws = 4000
    batch = x.expand(draws, 1, size, size).contiguous()
    acc = drop_block_2d(batch, 0.2, block).mean(0, keepdim=True)
    ratio = acc / x
    # Each unit is kept with probability ≥ 0.5 here, so 4000 draws give a standard error below 0.02.
    assert ratio.mean().item() == pytest.approx(1.0, abs=0.01)
    assert (ratio - 1).abs().max().item() < 0.1


def test_eval_mode_and_zero_rate_return_input_unchanged() -> None:
    x = torch.randn(4, 8, 16, 16)
    layer = DropBlock2d(0.3, 5).eval()
    assert layer(x) is x
    assert DropBlock2d(0.0, 3).train()(x) is x
    assert drop_block_2d(x, 0.0, 3) is x


def test_block_larger_than_map_drops_whole_maps() -> None:
    torch.manual_seed(5)
    rates = []
    for _ in range(10):
        per_map = (drop_block_2d(torch.ones(64, 32, 4, 4), 0.2, 7) == 0).float().mean(dim=(2, 3))
        assert set(per_map.unique().tolist()) <= {0.0, 1.0}
        rates.append(per_map.mean().item())
    assert abs(sum(rates) / len(rates) - 0.2) < TOLERANCE


def test_sparse_and_dense_sampling_agree() -> None:
    """The seed-position sampler used on big batches matches the dense Bernoulli draw's rate."""
    torch.manual_seed(6)
    big = sum(_drop_block(torch.ones(128, 64, 16, 16), 0.1, 3, False, None)[1].item() for _ in range(5)) / 5
    small = sum(_drop_block(torch.ones(2, 4, 16, 16), 0.1, 3, False, None)[1].item() for _ in range(800)) / 800
    assert big == pytest.approx(0.1, abs=0.005)
    assert small == pytest.approx(0.1, abs=0.01)


def test_bfloat16_input_keeps_its_dtype() -> None:
    out = drop_block_2d(torch.ones(4, 4, 8, 8, dtype=torch.bfloat16), 0.1, 3)
    assert out.dtype == torch.bfloat16


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"drop_prob": 1.0, "block_size": 3}, "drop_prob must be a number >= 0 and < 1"),
        ({"drop_prob": -0.1, "block_size": 3}, "drop_prob must be a number >= 0 and < 1"),
        ({"drop_prob": 0.1, "block_size": 0}, "block_size must be a positive integer"),
        ({"drop_prob": 0.1, "block_size": 2.5}, "block_size must be a positive integer"),
    ],
)
def test_bad_arguments_raise(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        DropBlock2d(**kwargs)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=message):
        drop_block_2d(torch.ones(2, 2, 8, 8), **kwargs)  # type: ignore[arg-type]


def test_non_4d_input_raises() -> None:
    with pytest.raises(ValueError, match="4-D input"):
        drop_block_2d(torch.ones(2, 8, 8), 0.1, 3)
