"""scikit-learn digits: split sizes, stratification, determinism by data seed, normalisation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from sklearn.datasets import load_digits

from rblock.data import load_dataset
from rblock.data.digits import load_digits_raw
from rblock.data.split import RawDataset


def _raw(seed: int) -> RawDataset:
    return load_digits_raw(Path("."), False, seed, {})


def test_digits_shapes_and_dtypes() -> None:
    ds = load_dataset("digits")
    assert ds.train_x.shape == (1437, 1, 8, 8) and ds.test_x.shape == (360, 1, 8, 8)
    assert ds.train_x.dtype == torch.float32 and ds.train_y.dtype == torch.int64
    assert ds.num_classes == 10 and ds.class_names == tuple("0123456789")
    assert ds.in_channels == 1 and ds.image_size == (8, 8)
    assert (ds.augment, ds.crop_padding, ds.flip, ds.label_noise) == (False, 1, False, 0.0)


def test_digits_split_is_stratified_and_a_partition() -> None:
    raw = _raw(0)
    total = np.bincount(load_digits().target, minlength=10)
    test_counts = np.bincount(raw.test_y.numpy(), minlength=10)
    assert np.all(np.abs(test_counts - 0.2 * total) <= 1.0)
    assert test_counts.sum() == 360
    # Train and test together are exactly the 1797 images (compared as a multiset of rows).
    rows = torch.cat([raw.train_x, raw.test_x]).reshape(1797, -1).numpy()
    expected = (load_digits().images / 16.0).astype(np.float32).reshape(1797, -1)
    assert sorted(map(bytes, rows)) == sorted(map(bytes, expected))
    assert float(raw.train_x.min()) == 0.0 and float(raw.train_x.max()) == 1.0


def test_digits_deterministic_by_data_seed() -> None:
    a, b, c = load_dataset("digits", data_seed=3), load_dataset("digits", data_seed=3), load_dataset("digits")
    assert torch.equal(a.train_x, b.train_x) and torch.equal(a.test_y, b.test_y)
    assert not torch.equal(a.test_y, c.test_y) or not torch.equal(a.test_x, c.test_x)


def test_digits_normalised_with_train_statistics() -> None:
    raw, ds = _raw(0), load_dataset("digits")
    mean, std = raw.train_x.mean(), raw.train_x.std(unbiased=False)
    assert abs(ds.mean[0] - float(mean)) < 1e-6
    assert abs(ds.std[0] - float(std)) < 1e-5
    assert abs(float(ds.train_x.mean())) < 1e-5 and abs(float(ds.train_x.std(unbiased=False)) - 1.0) < 1e-4
    torch.testing.assert_close(ds.test_x, (raw.test_x - mean) / std, rtol=1e-5, atol=1e-5)
