"""TensorBatches: coverage, reproducibility per (seed, epoch), and batch-wise crop and flip."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from rblock.data import TensorBatches, random_crop


def indexed(n: int, c: int = 2, size: int = 6) -> tuple[torch.Tensor, torch.Tensor]:
    """x[i] is filled with i, y[i] = i: every batch says which samples it holds."""
    x = torch.arange(n, dtype=torch.float32).view(n, 1, 1, 1).expand(n, c, size, size).contiguous()
    return x, torch.arange(n)


def all_batches(batches: TensorBatches, epoch: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    return list(batches.epoch(epoch))


def test_every_sample_once_per_epoch() -> None:
    x, y = indexed(103)
    batches = TensorBatches(x, y, 10, shuffle=True, seed=1)
    assert len(batches) == 11
    out = all_batches(batches, 0)
    assert [len(b[1]) for b in out] == [10] * 10 + [3]
    seen = torch.cat([b[1] for b in out])
    assert sorted(seen.tolist()) == list(range(103)) and seen.tolist() != list(range(103))
    for xb, yb in out:  # images travel with their labels
        assert torch.equal(xb[:, 0, 0, 0].long(), yb)


def test_drop_last() -> None:
    x, y = indexed(103)
    batches = TensorBatches(x, y, 10, shuffle=True, drop_last=True)
    out = all_batches(batches, 0)
    assert len(batches) == 10 == len(out) and all(len(b[1]) == 10 for b in out)
    assert len(set(torch.cat([b[1] for b in out]).tolist())) == 100


def test_same_seed_and_epoch_same_batches() -> None:
    x, y = indexed(64)
    a = TensorBatches(x, y, 16, shuffle=True, augment=True, crop_padding=2, flip=True, seed=5)
    b = TensorBatches(x, y, 16, shuffle=True, augment=True, crop_padding=2, flip=True, seed=5)
    for epoch in (0, 1):  # only b has run the earlier epochs, as a run that was not resumed
        all_batches(b, epoch)
    for (xa, ya), (xb, yb) in zip(all_batches(a, 2), all_batches(b, 2), strict=True):
        assert torch.equal(xa, xb) and torch.equal(ya, yb)
    orders = [torch.cat([yb for _, yb in all_batches(a, e)]) for e in range(3)]
    assert not torch.equal(orders[0], orders[1]) and not torch.equal(orders[1], orders[2])
    other = TensorBatches(x, y, 16, shuffle=True, seed=6)
    assert not torch.equal(orders[2], torch.cat([yb for _, yb in all_batches(other, 2)]))


def test_iteration_advances_epochs() -> None:
    x, y = indexed(32)
    batches = TensorBatches(x, y, 8, shuffle=True, seed=0)
    first, second = (torch.cat([yb for _, yb in batches]) for _ in range(2))
    assert torch.equal(first, torch.cat([yb for _, yb in batches.epoch(0)]))
    assert torch.equal(second, torch.cat([yb for _, yb in batches.epoch(1)]))
    batches.set_epoch(0)
    assert torch.equal(torch.cat([yb for _, yb in batches]), first)


def test_no_shuffle_keeps_order_and_no_augmentation_when_off() -> None:
    x = torch.randn(20, 3, 8, 8)
    y = torch.arange(20)
    batches = TensorBatches(x, y, 6, shuffle=False, augment=False, crop_padding=4, flip=True, device="cpu")
    out = all_batches(batches, 3)
    assert torch.equal(torch.cat([b[0] for b in out]), x) and torch.equal(torch.cat([b[1] for b in out]), y)


def shifted(img: torch.Tensor, dy: int, dx: int, p: int) -> torch.Tensor:
    """The window of the zero-padded image at offset (dy, dx) in [0, 2p]², by slicing."""
    h, w = img.shape[-2:]
    return F.pad(img, (p, p, p, p))[:, dy : dy + h, dx : dx + w]


def test_crop_shifts_content_within_padding() -> None:
    p, n = 2, 64
    x = torch.randn(n, 3, 8, 8)
    batches = TensorBatches(x, torch.arange(n), n, shuffle=False, augment=True, crop_padding=p, seed=0)
    (xb, yb), *_ = all_batches(batches, 0)
    assert xb.shape == x.shape and xb.dtype == x.dtype
    offsets = []
    for out, i in zip(xb, yb.tolist(), strict=True):
        match = [
            (dy, dx) for dy in range(2 * p + 1) for dx in range(2 * p + 1) if torch.equal(out, shifted(x[i], dy, dx, p))
        ]
        assert len(match) == 1
        offsets.append(match[0])
    assert len(set(offsets)) > 10  # the crops really move, by per-sample offsets
    assert {o for pair in offsets for o in pair} == set(range(2 * p + 1))


def test_random_crop_identity_offset_and_reflect() -> None:
    x = torch.randn(4, 2, 5, 5)
    centre = torch.full((4, 2), 1, dtype=torch.int64)
    assert torch.equal(random_crop(x, 1, centre), x)
    corner = torch.zeros((4, 2), dtype=torch.int64)
    out = random_crop(x, 1, corner, padding_mode="reflect")
    torch.testing.assert_close(out, F.pad(x, (1, 1, 1, 1), mode="reflect")[:, :, :5, :5])
    batches = TensorBatches(x, torch.arange(4), 4, shuffle=True, augment=True, crop_padding=1, padding_mode="reflect")
    assert next(batches.epoch(0))[0].shape == x.shape


def test_flip_mirrors_some_samples() -> None:
    n = 64
    x = torch.randn(n, 3, 4, 7)
    batches = TensorBatches(x, torch.arange(n), 16, shuffle=True, augment=True, flip=True, seed=2)
    flipped = 0
    for xb, yb in batches.epoch(0):
        for out, i in zip(xb, yb.tolist(), strict=True):
            if torch.equal(out, x[i].flip(-1)):
                flipped += 1
            else:
                assert torch.equal(out, x[i])
    assert 16 < flipped < 48


@pytest.mark.parametrize(
    "kwargs",
    [
        {"batch_size": 0},
        {"crop_padding": -1},
        {"padding_mode": "edge"},
        {"seed": -1},
        {"crop_padding": 8, "padding_mode": "reflect"},
    ],
)
def test_bad_arguments(kwargs: dict[str, object]) -> None:
    args: dict[str, object] = {"batch_size": 4, "shuffle": True, **kwargs}
    with pytest.raises(ValueError):
        TensorBatches(torch.zeros(8, 1, 8, 8), torch.zeros(8, dtype=torch.int64), **args)  # type: ignore[arg-type]
