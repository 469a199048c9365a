"""Label noise: the exact fraction changes, always to another class, deterministically."""

from __future__ import annotations

import pytest
import torch

from rblock.data import DatasetError, apply_label_noise, load_dataset


@pytest.mark.parametrize(("n", "fraction"), [(1000, 0.2), (1437, 0.1), (7, 0.5), (50, 0.0), (10, 0.99)])
def test_exact_fraction_changed_to_other_classes(n: int, fraction: float) -> None:
    labels = torch.arange(n) % 10
    noisy = apply_label_noise(labels, fraction, 10, seed=3)
    changed = noisy != labels
    assert int(changed.sum()) == round(fraction * n)
    assert noisy.dtype == torch.int64 and int(noisy.min()) >= 0 and int(noisy.max()) < 10
    assert torch.equal(labels, torch.arange(n) % 10)  # the input is left alone


def test_label_noise_deterministic_and_seeded() -> None:
    labels = torch.randint(0, 5, (500,), generator=torch.Generator().manual_seed(0))
    a, b = apply_label_noise(labels, 0.3, 5, seed=1), apply_label_noise(labels, 0.3, 5, seed=1)
    c = apply_label_noise(labels, 0.3, 5, seed=2)
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_replacement_class_uniform_over_the_others() -> None:
    # 20000 labels of class 0, all replaced: each of the 3 other classes gets a third (tolerance 5 sigma).
    labels = torch.zeros(20000, dtype=torch.int64)
    noisy = apply_label_noise(labels, 0.999, 4, seed=0)
    counts = torch.bincount(noisy, minlength=4)
    assert int(counts[0]) == 20
    sigma = (19980 * (1 / 3) * (2 / 3)) ** 0.5
    assert all(abs(int(c) - 19980 / 3) < 5 * sigma for c in counts[1:])


@pytest.mark.parametrize("fraction", [-0.1, 1.0, 1.5])
def test_label_noise_fraction_range(fraction: float) -> None:
    with pytest.raises(DatasetError, match=r"\[0, 1\)"):
        apply_label_noise(torch.zeros(10, dtype=torch.int64), fraction, 10, seed=0)


def test_load_dataset_noises_train_labels_only() -> None:
    clean = load_dataset("digits", data_seed=2)
    noisy = load_dataset("digits", data_seed=2, label_noise=0.1)
    again = load_dataset("digits", data_seed=2, label_noise=0.1)
    assert int((noisy.train_y != clean.train_y).sum()) == round(0.1 * 1437)
    assert torch.equal(noisy.test_y, clean.test_y) and torch.equal(noisy.train_x, clean.train_x)
    assert torch.equal(noisy.train_y, again.train_y) and noisy.label_noise == 0.1
    with pytest.raises(DatasetError, match="label_noise"):
        load_dataset("digits", label_noise=1.0)
