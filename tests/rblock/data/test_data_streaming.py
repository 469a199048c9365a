"""The memory budget picks the path; streamed and in-memory batches agree for one seed; image_size; normalisation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from rblock.data import (
    DatasetError,
    DatasetSplit,
    DatasetTooLargeError,
    StreamingSplit,
    batches_for,
    default_memory_budget,
    load_dataset,
    memory,
    open_dataset,
)
from rblock.data.memory import DATA_MEMORY_ENV, Footprint, total_ram_bytes
from rblock.data.streaming import streamed_batches
from tests.support.images import noise_folder

SIDE = 16


@pytest.fixture(autouse=True)
def no_process_overhead(monkeypatch: pytest.MonkeyPatch) -> None:
    """These sets are tiny (kB): without the loader process's fixed 24 MiB, a budget of a few kB streams them.
    ``test_data_streaming_memory`` measures a real set against the real estimate."""
    monkeypatch.setattr(memory, "LOADER_PROCESS_BYTES", 0)


def test_footprint_and_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    size = Footprint(images=40_000, channels=3, height=512, width=512)
    assert size.uint8_bytes == 40_000 * 3 * 512 * 512 + 8 * 40_000
    assert size.in_memory_peak_bytes == 5 * 40_000 * 3 * 512 * 512 + 8 * 40_000  # uint8 + float32 at once
    assert not size.fits(2**30) and size.fits(2**40)
    monkeypatch.delenv(DATA_MEMORY_ENV, raising=False)
    assert default_memory_budget() == total_ram_bytes() // 4 > 0
    monkeypatch.setenv(DATA_MEMORY_ENV, "123456")
    assert default_memory_budget() == 123456
    monkeypatch.setenv(DATA_MEMORY_ENV, "lots")
    with pytest.raises(DatasetError, match=DATA_MEMORY_ENV):
        default_memory_budget()


def test_over_the_budget_is_refused_before_loading_and_streamed_by_open_dataset(tmp_path: Path) -> None:
    path = noise_folder(tmp_path / "set")
    in_memory = 36 * 3 * SIDE * SIDE * 5 + 36 * 8
    with pytest.raises(DatasetTooLargeError, match="over the data memory budget"):
        load_dataset("imagefolder", data_root=tmp_path, path=str(path), image_size=SIDE, memory_budget=in_memory - 1)
    assert isinstance(
        open_dataset("imagefolder", data_root=tmp_path, path=str(path), image_size=SIDE, memory_budget=in_memory),
        DatasetSplit,
    )
    streamed = open_dataset(
        "imagefolder", data_root=tmp_path, path=str(path), image_size=SIDE, memory_budget=in_memory - 1
    )
    assert isinstance(streamed, StreamingSplit)
    assert streamed.shape == (3, SIDE, SIDE) and streamed.num_classes == 3 and streamed.crop_padding == SIDE // 8
    # CIFAR-10 at 224 px would need ~45 GiB in memory: refused from the counts alone, no file is opened.
    with pytest.raises(DatasetTooLargeError, match="60,000 images of 3×224×224"):
        load_dataset("cifar10", data_root=tmp_path / "empty", image_size=224, memory_budget=2**30)


@pytest.mark.parametrize("seed", [0, 3])
def test_streamed_and_in_memory_give_the_same_batches(tmp_path: Path, seed: int) -> None:
    path = noise_folder(tmp_path / "set")
    common: dict[str, Any] = {
        "data_root": tmp_path,
        "path": str(path),
        "image_size": SIDE,
        "data_seed": 2,
        "label_noise": 0.2,
    }
    memory = open_dataset("imagefolder", **common)
    streamed = open_dataset("imagefolder", memory_budget=130_000, **common)
    assert isinstance(memory, DatasetSplit) and isinstance(streamed, StreamingSplit)
    assert torch.equal(memory.train_y, streamed.train_y) and torch.equal(memory.test_y, streamed.test_y)
    np.testing.assert_allclose(memory.mean, streamed.mean, rtol=1e-5)
    np.testing.assert_allclose(memory.std, streamed.std, rtol=1e-5)
    kwargs: dict[str, Any] = {"shuffle": True, "augment": True, "seed": seed, "drop_last": True}
    expected = list(batches_for(memory, 4, train=True, **kwargs).epoch(1))
    got = list(streamed_batches(streamed, 4, train=True, workers=1, **kwargs).epoch(1))
    assert len(got) == len(expected) == 7  # 28 train images
    for (xa, ya), (xb, yb) in zip(expected, got, strict=True):
        assert torch.equal(ya, yb)
        torch.testing.assert_close(xa, xb, atol=1e-4, rtol=1e-4)
    test_a = torch.cat([y for _, y in batches_for(memory, 4, train=False, shuffle=False).epoch(0)])
    test_b = torch.cat([y for _, y in batches_for(streamed, 4, train=False, shuffle=False).epoch(0)])
    assert torch.equal(test_a, test_b) and torch.equal(test_a, memory.test_y)


def test_image_size_resizes_the_fixed_sets_and_keeps_the_native_size_as_it_was() -> None:
    native = load_dataset("shapes", n_train=20, n_test=10)
    same = load_dataset("shapes", n_train=20, n_test=10, image_size=32)
    assert torch.equal(native.train_x, same.train_x) and native.crop_padding == same.crop_padding == 4
    big = load_dataset("shapes", n_train=20, n_test=10, image_size=48)
    assert big.train_x.shape == (20, 3, 48, 48) and big.test_x.shape == (10, 3, 48, 48)
    assert big.crop_padding == 6  # 4 at 32 px, in proportion
    with pytest.raises(DatasetError, match=r"image_size' of dataset 'digits' must be null or an integer in \[4, 512\]"):
        load_dataset("digits", image_size=2)


def test_a_fixed_set_streams_when_resized_past_the_budget() -> None:
    streamed = open_dataset("shapes", n_train=40, n_test=10, image_size=64, memory_budget=2_500_000)
    assert isinstance(streamed, StreamingSplit) and streamed.shape == (3, 64, 64) and streamed.crop_padding == 8
    x, y = next(iter(streamed_batches(streamed, 4, train=True, shuffle=True, augment=True, workers=1)))
    assert x.shape == (4, 3, 64, 64) and x.dtype == torch.float32 and y.shape == (4,)


def test_given_normalisation_is_used(tmp_path: Path) -> None:
    path = noise_folder(tmp_path / "set")
    stats = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))  # ImageNet's, as pretrained weights give them
    data = load_dataset("imagefolder", data_root=tmp_path, path=str(path), image_size=SIDE, normalisation=stats)
    assert data.mean == pytest.approx(stats[0]) and data.std == pytest.approx(stats[1])
    raw = load_dataset("imagefolder", data_root=tmp_path, path=str(path), image_size=SIDE)
    unit = raw.train_x * torch.tensor(raw.std).view(1, 3, 1, 1) + torch.tensor(raw.mean).view(1, 3, 1, 1)
    expected = (unit - torch.tensor(stats[0]).view(1, 3, 1, 1)) / torch.tensor(stats[1]).view(1, 3, 1, 1)
    torch.testing.assert_close(data.train_x, expected, atol=1e-4, rtol=1e-4)
    streamed = open_dataset(
        "imagefolder", data_root=tmp_path, path=str(path), image_size=SIDE, normalisation=stats, memory_budget=60_000
    )
    assert isinstance(streamed, StreamingSplit) and streamed.mean == pytest.approx(stats[0])
    with pytest.raises(DatasetError, match="normalisation must be"):
        load_dataset("imagefolder", data_root=tmp_path, path=str(path), normalisation=((0.5,), (0.5,)))
