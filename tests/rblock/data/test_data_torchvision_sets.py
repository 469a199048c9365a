"""CIFAR-10/100, MNIST, Fashion-MNIST and SVHN read from small files written in their real on-disk formats."""

from __future__ import annotations

import pickle
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from rblock.data import DatasetError, DatasetNotFoundError, load_dataset
from rblock.data.torchvision_sets import (
    load_cifar10_raw,
    load_cifar100_raw,
    load_fashion_mnist_raw,
    load_mnist_raw,
    load_svhn_raw,
)

ALL = {"max_train": 0, "max_test": 0}
CIFAR10_NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def _images(rng: np.random.Generator, n: int, *shape: int) -> np.ndarray:
    return rng.integers(0, 256, (n, *shape), dtype=np.uint8)


def _dump(path: Path, obj: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as f:
        pickle.dump(obj, f, protocol=2)  # the official files are Python 2 cPickles


def write_cifar10(root: Path, per_batch: int = 6, n_test: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """cifar-10-batches-py/{data_batch_1..5, test_batch, batches.meta}; returns the train images and labels."""
    rng = np.random.default_rng(0)
    folder = root / "cifar-10-batches-py"
    xs, ys = [], []
    for i in range(1, 6):
        x, y = _images(rng, per_batch, 3 * 32 * 32), rng.integers(0, 10, per_batch).tolist()
        _dump(
            folder / f"data_batch_{i}",
            {
                "batch_label": f"training batch {i} of 5",
                "labels": y,
                "data": x,
                "filenames": [f"img_{i}_{j}.png" for j in range(per_batch)],
            },
        )
        xs.append(x)
        ys.extend(y)
    x, y = _images(rng, n_test, 3 * 32 * 32), rng.integers(0, 10, n_test).tolist()
    _dump(folder / "test_batch", {"batch_label": "testing batch 1 of 1", "labels": y, "data": x, "filenames": []})
    _dump(folder / "batches.meta", {"num_cases_per_batch": per_batch, "label_names": CIFAR10_NAMES, "num_vis": 3072})
    return np.concatenate(xs).reshape(-1, 3, 32, 32), np.array(ys)


def write_cifar100(root: Path, n_train: int = 20, n_test: int = 10) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    folder = root / "cifar-100-python"
    x, fine = _images(rng, n_train, 3072), rng.integers(0, 100, n_train).tolist()
    _dump(
        folder / "train",
        {
            "filenames": [],
            "batch_label": "training batch 1 of 1",
            "fine_labels": fine,
            "coarse_labels": [f // 5 for f in fine],
            "data": x,
        },
    )
    xt, finet = _images(rng, n_test, 3072), rng.integers(0, 100, n_test).tolist()
    _dump(
        folder / "test",
        {
            "filenames": [],
            "batch_label": "testing batch 1 of 1",
            "fine_labels": finet,
            "coarse_labels": [f // 5 for f in finet],
            "data": xt,
        },
    )
    _dump(
        folder / "meta",
        {"fine_label_names": [f"fine{i}" for i in range(100)], "coarse_label_names": [f"coarse{i}" for i in range(20)]},
    )
    return x.reshape(-1, 3, 32, 32), np.array(fine)


def write_idx(raw: Path, n_train: int = 12, n_test: int = 7, seed: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """<Name>/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte in the big-endian IDX format of LeCun's site."""
    rng = np.random.default_rng(seed)
    raw.mkdir(parents=True)
    out = {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        x, y = _images(rng, n, 28, 28), rng.integers(0, 10, n, dtype=np.uint8)
        (raw / f"{prefix}-images-idx3-ubyte").write_bytes(struct.pack(">IIII", 0x803, n, 28, 28) + x.tobytes())
        (raw / f"{prefix}-labels-idx1-ubyte").write_bytes(struct.pack(">II", 0x801, n) + y.tobytes())
        out[prefix] = (x, y)
    return out["train"]


def test_cifar10_reads_the_pickle_batches(tmp_path: Path) -> None:
    x, y = write_cifar10(tmp_path)
    raw = load_cifar10_raw(tmp_path, False, 0, ALL)
    assert raw.train_x.dtype == torch.uint8 and raw.train_x.shape == (30, 3, 32, 32)
    assert torch.equal(raw.train_x, torch.from_numpy(x)) and raw.train_y.tolist() == y.tolist()
    assert raw.test_x.shape == (8, 3, 32, 32) and raw.class_names == tuple(CIFAR10_NAMES)
    assert (raw.augment, raw.crop_padding, raw.flip) == (True, 4, True)


def test_cifar10_through_load_dataset(tmp_path: Path) -> None:
    x, _ = write_cifar10(tmp_path)
    ds = load_dataset("cifar10", data_root=tmp_path)
    assert ds.train_x.dtype == torch.float32 and ds.train_x.shape == (30, 3, 32, 32) and ds.num_classes == 10
    # Undoing the normalisation gives back the file's pixels.
    mean, std = torch.tensor(ds.mean).view(1, 3, 1, 1), torch.tensor(ds.std).view(1, 3, 1, 1)
    torch.testing.assert_close(ds.train_x * std + mean, torch.from_numpy(x).float() / 255, atol=1e-5, rtol=0)
    sub = load_dataset("cifar10", data_root=tmp_path, max_train=10, max_test=3, data_seed=4)
    assert sub.train_x.shape[0] == 10 and sub.test_x.shape[0] == 3


def test_data_root_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_cifar10(tmp_path)
    monkeypatch.setenv("DATA_ROOT", str(tmp_path))
    assert load_dataset("cifar10").train_x.shape[0] == 30


def test_cifar100_fine_labels(tmp_path: Path) -> None:
    x, fine = write_cifar100(tmp_path)
    raw = load_cifar100_raw(tmp_path, False, 0, ALL)
    assert torch.equal(raw.train_x, torch.from_numpy(x)) and raw.train_y.tolist() == fine.tolist()
    assert len(raw.class_names) == 100 and raw.class_names[3] == "fine3"
    assert load_dataset("cifar100", data_root=tmp_path).num_classes == 100


def test_mnist_reads_idx_files(tmp_path: Path) -> None:
    x, y = write_idx(tmp_path / "MNIST" / "raw")
    raw = load_mnist_raw(tmp_path, False, 0, ALL)
    assert raw.train_x.shape == (12, 1, 28, 28) and raw.test_x.shape == (7, 1, 28, 28)
    assert torch.equal(raw.train_x[:, 0], torch.from_numpy(x)) and raw.train_y.tolist() == y.tolist()
    assert raw.train_y.dtype == torch.int64
    assert (raw.augment, raw.crop_padding, raw.flip) == (True, 2, False)
    assert load_dataset("mnist", data_root=tmp_path).image_size == (28, 28)


def test_fashion_mnist_reads_idx_files(tmp_path: Path) -> None:
    x, _ = write_idx(tmp_path / "FashionMNIST" / "raw", seed=3)
    raw = load_fashion_mnist_raw(tmp_path, False, 0, ALL)
    assert torch.equal(raw.train_x[:, 0], torch.from_numpy(x))
    assert raw.class_names[0] == "T-shirt/top" and raw.flip is True


def test_svhn_reads_mat_files(tmp_path: Path) -> None:
    sio = pytest.importorskip("scipy.io", reason="scipy writes the .mat test files (torchvision reads them with it)")
    rng = np.random.default_rng(4)
    written = {}
    for split, n in (("train", 9), ("test", 5)):
        x = rng.integers(0, 256, (32, 32, 3, n), dtype=np.uint8)  # SVHN stores (H, W, C, N)
        y = rng.integers(1, 11, (n, 1), dtype=np.uint8)  # and the digit 0 as label 10
        (tmp_path / "svhn").mkdir(exist_ok=True)
        sio.savemat(tmp_path / "svhn" / f"{split}_32x32.mat", {"X": x, "y": y})
        written[split] = (x, y)
    raw = load_svhn_raw(tmp_path, False, 0, ALL)
    x, y = written["train"]
    assert raw.train_x.shape == (9, 3, 32, 32) and raw.test_x.shape == (5, 3, 32, 32)
    assert torch.equal(raw.train_x, torch.from_numpy(x.transpose(3, 2, 0, 1).copy()))
    assert raw.train_y.tolist() == [int(v) % 10 for v in y[:, 0]]
    assert (raw.crop_padding, raw.flip) == (4, False)


@pytest.mark.parametrize(
    ("name", "folder", "files"),
    [
        ("cifar10", "cifar-10-batches-py", ["data_batch_1", "data_batch_5", "test_batch", "batches.meta"]),
        ("cifar100", "cifar-100-python", ["train", "test", "meta"]),
        ("mnist", "MNIST/raw", ["train-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]),
        ("fashion_mnist", "FashionMNIST/raw", ["train-labels-idx1-ubyte", "t10k-images-idx3-ubyte"]),
        ("svhn", "svhn", ["train_32x32.mat", "test_32x32.mat"]),
    ],
)
def test_missing_files_message(tmp_path: Path, name: str, folder: str, files: list[str]) -> None:
    with pytest.raises(DatasetNotFoundError) as info:
        load_dataset(name, data_root=tmp_path)
    message = str(info.value)
    assert str(tmp_path / folder) in message and "download=True" in message
    for file in files:
        assert file in message
    assert isinstance(info.value, FileNotFoundError) and isinstance(info.value, ValueError)


def test_partially_missing_cifar_names_the_missing_file(tmp_path: Path) -> None:
    write_cifar10(tmp_path)
    (tmp_path / "cifar-10-batches-py" / "data_batch_3").unlink()
    with pytest.raises(DatasetNotFoundError, match="missing data_batch_3"):
        load_dataset("cifar10", data_root=tmp_path)


def test_corrupt_files_are_named(tmp_path: Path) -> None:
    write_cifar10(tmp_path)
    bad = tmp_path / "cifar-10-batches-py" / "data_batch_2"
    bad.write_bytes(b"this is not a pickle")
    with pytest.raises(DatasetError, match="data_batch_2"):
        load_dataset("cifar10", data_root=tmp_path)
    write_idx(tmp_path / "MNIST" / "raw")
    (tmp_path / "MNIST" / "raw" / "t10k-images-idx3-ubyte").write_bytes(b"\x00\x00\x08\x03")
    with pytest.raises(DatasetError, match="MNIST"):
        load_dataset("mnist", data_root=tmp_path)
