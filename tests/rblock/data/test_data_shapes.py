"""Procedural shapes: determinism, balance, value ranges, generation speed and learnability."""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from rblock.data import SHAPE_CLASSES, TensorBatches, generate_shapes, load_dataset


def test_shapes_same_parameters_give_identical_tensors() -> None:
    a = load_dataset("shapes", n_train=200, n_test=100, data_seed=7)
    b = load_dataset("shapes", n_train=200, n_test=100, data_seed=7)
    for name in ("train_x", "train_y", "test_x", "test_y"):
        assert torch.equal(getattr(a, name), getattr(b, name)), name
    assert a.train_x.shape == (200, 3, 32, 32) and a.test_x.shape == (100, 3, 32, 32)
    assert a.class_names == SHAPE_CLASSES and a.num_classes == 10
    assert (a.augment, a.crop_padding, a.flip) == (True, 4, True)


def test_shapes_different_seed_differs_and_test_size_leaves_train_alone() -> None:
    a = load_dataset("shapes", n_train=100, n_test=50, data_seed=0)
    b = load_dataset("shapes", n_train=100, n_test=50, data_seed=1)
    c = load_dataset("shapes", n_train=100, n_test=80, data_seed=0)
    assert not torch.equal(a.train_x, b.train_x)
    assert torch.equal(a.train_y, c.train_y)
    # Normalisation uses the train statistics only, so the train tensors are identical too.
    assert torch.equal(a.train_x, c.train_x)


def test_shapes_balanced() -> None:
    _, y = generate_shapes(200, difficulty=0.5, seed=0, stream=1)
    assert np.bincount(y, minlength=10).tolist() == [20] * 10
    _, y = generate_shapes(205, difficulty=0.5, seed=0, stream=1)
    assert set(np.bincount(y, minlength=10).tolist()) == {20, 21}


@pytest.mark.parametrize("difficulty", [0.0, 0.5, 1.0])
def test_shapes_value_range(difficulty: float) -> None:
    x, y = generate_shapes(100, difficulty=difficulty, seed=0, stream=1)
    assert x.dtype == np.float32 and x.shape == (100, 3, 32, 32) and y.dtype == np.int64
    assert x.min() >= 0.0 and x.max() <= 1.0
    # Every image shows something: a shape on a background, not a flat colour.
    assert np.all(x.reshape(100, -1).std(axis=1) > 0.05)


def test_shapes_difficulty_adds_noise() -> None:
    # Flat background corners: their pixel-to-pixel variation grows with the noise (and clutter).
    easy, _ = generate_shapes(200, difficulty=0.0, seed=0, stream=1)
    hard, _ = generate_shapes(200, difficulty=1.0, seed=0, stream=1)
    rough = [float(np.abs(np.diff(x[:, :, :3, :3], axis=3)).mean()) for x in (easy, hard)]
    assert rough[1] > 2 * rough[0]


def test_shapes_generation_speed() -> None:
    start = time.perf_counter()
    generate_shapes(6000, difficulty=0.5, seed=0, stream=1)
    assert time.perf_counter() - start < 5.0


@pytest.mark.slow
def test_shapes_learnable_by_a_tiny_cnn() -> None:
    ds = load_dataset("shapes", n_train=2000, n_test=1000, data_seed=0)
    torch.manual_seed(0)
    w = 8

    def block(i: int, o: int) -> list[nn.Module]:
        return [nn.Conv2d(i, o, 3, padding=1, bias=False), nn.BatchNorm2d(o), nn.ReLU()]

    net = nn.Sequential(
        *block(3, w),
        nn.MaxPool2d(2),
        *block(w, 2 * w),
        *block(2 * w, 2 * w),
        nn.MaxPool2d(2),
        *block(2 * w, 4 * w),
        *block(4 * w, 4 * w),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(4 * w, 10),
    )
    batches = TensorBatches(ds.train_x, ds.train_y, 32, shuffle=True, seed=0)
    epochs = 3
    opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9, nesterov=True, weight_decay=5e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.05, total_steps=epochs * len(batches), pct_start=0.25)
    for epoch in range(epochs):
        net.train()
        for xb, yb in batches.epoch(epoch):
            opt.zero_grad()
            F.cross_entropy(net(xb), yb).backward()
            opt.step()
            sched.step()
    net.eval()
    with torch.no_grad():
        acc = float((net(ds.test_x).argmax(1) == ds.test_y).float().mean())
    assert acc > 0.6, acc
