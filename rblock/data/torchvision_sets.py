"""CIFAR-10, CIFAR-100, MNIST, Fashion-MNIST and SVHN from their standard files, as whole tensors.

The files live under the data root (``data_root``, else ``$DATA_ROOT``, else ``./var/data``) in the layout
that ``torchvision.datasets`` downloads, so a folder already filled by torchvision works as it is:

- cifar10: ``<root>/cifar-10-batches-py/{data_batch_1..5, test_batch, batches.meta}``
- cifar100: ``<root>/cifar-100-python/{train, test, meta}``
- mnist: ``<root>/MNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte``
- fashion_mnist: ``<root>/FashionMNIST/raw/`` with the same four names
- svhn: ``<root>/svhn/{train_32x32.mat, test_32x32.mat}`` (the cropped-digits format)

Nothing is downloaded unless ``download=True``; missing files raise ``DatasetNotFoundError`` naming the folder
and the files. A split becomes one uint8 tensor straight from the dataset's arrays (no per-sample
``__getitem__``); ``load_dataset`` converts and normalises it in one pass.

Integrity. torchvision checks CIFAR and SVHN files against the md5 of the full official files, which
refuses any subset or re-packaged copy (and our tests' small files in the same formats). We therefore read
the CIFAR pickle batches ourselves (the format of https://www.cs.toronto.edu/~kriz/cifar.html, as torchvision
does: ``pickle`` with latin-1 strings, ``data`` uint8 (n, 3072), ``labels`` or ``fine_labels``) and open SVHN
through ``torchvision.datasets.SVHN`` with the md5 comparison replaced by an existence check; a corrupt file
still fails, with its name in the message. Downloads do check the md5. Like torchvision, the CIFAR reader
unpickles the files, so only put files from a trusted source under the data root.

Augmentation: pad-4 random crop for the 32×32 sets and pad-2 for the 28×28 ones (MNIST digits sit in a 20×20
box with a 4-pixel margin; 2 pixels keep the strokes inside); horizontal flip for CIFAR and Fashion-MNIST
(garments keep their class mirrored: Zhong et al., "Random Erasing Data Augmentation", AAAI 2020, arXiv
1708.04896, train Fashion-MNIST with crop + flip), never for the digit sets MNIST and SVHN.
"""

from __future__ import annotations

import pickle
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torchvision
from torchvision.datasets.utils import download_and_extract_archive

from rblock.data.seeding import STREAM_SUBSET, numpy_rng
from rblock.data.spec import DatasetSpec
from rblock.data.split import DatasetError, DatasetNotFoundError, RawDataset

_DIGIT_NAMES = tuple(str(d) for d in range(10))


def _require_files(name: str, folder: Path, files: Sequence[str], source: str) -> None:
    """Raise ``DatasetNotFoundError`` naming the folder, the missing and the expected files."""
    missing = [f for f in files if not (folder / f).is_file()]
    if missing:
        raise DatasetNotFoundError(
            f"{name}: files not found in {folder}: missing {', '.join(missing)}. Expected {', '.join(files)} "
            f"({source}). Pass download=True to fetch them, or point data_root (or $DATA_ROOT) at the folder "
            f"that holds {folder.parent.name if folder.name == 'raw' else folder.name}/."
        )


def _subset(x: torch.Tensor, y: torch.Tensor, limit: int, seed: int, tag: int) -> tuple[torch.Tensor, torch.Tensor]:
    """At most ``limit`` samples (0 = all), drawn by the data seed and kept in file order."""
    if limit <= 0 or limit >= y.shape[0]:
        return x, y
    keep = np.sort(numpy_rng(seed, STREAM_SUBSET, tag).choice(y.shape[0], size=limit, replace=False))
    idx = torch.from_numpy(keep)
    return x[idx], y[idx]


def _finish(
    name: str,
    train: tuple[torch.Tensor, torch.Tensor],
    test: tuple[torch.Tensor, torch.Tensor],
    class_names: tuple[str, ...],
    data_seed: int,
    params: Mapping[str, Any],
    *,
    crop_padding: int,
    flip: bool,
) -> RawDataset:
    for split, y in (("train", train[1]), ("test", test[1])):
        if y.numel() and (int(y.min()) < 0 or int(y.max()) >= len(class_names)):
            raise DatasetError(f"{name}: {split} labels outside [0, {len(class_names)}): the files are corrupt")
    train_x, train_y = _subset(*train, params["max_train"], data_seed, 0)
    test_x, test_y = _subset(*test, params["max_test"], data_seed, 1)
    return RawDataset(
        train_x=train_x.contiguous(),
        train_y=train_y,
        test_x=test_x.contiguous(),
        test_y=test_y,
        class_names=class_names,
        augment=True,
        crop_padding=crop_padding,
        flip=flip,
    )


# --- CIFAR -------------------------------------------------------------------------------------------------


def _read_pickle(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            entry = pickle.load(f, encoding="latin1")
    except Exception as e:  # a truncated or foreign file can fail in many ways inside pickle
        raise DatasetError(f"cannot read {path}: {e}; replace the file (or pass download=True)") from e
    if not isinstance(entry, dict):
        raise DatasetError(f"cannot read {path}: expected a pickled dict, got {type(entry).__name__}")
    return entry


def _read_cifar_batches(paths: Sequence[Path], label_key: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Concatenate CIFAR batches: uint8 (n, 3, 32, 32) images and int64 (n,) labels."""
    images, labels = [], []
    for path in paths:
        entry = _read_pickle(path)
        try:
            data = np.asarray(entry["data"], dtype=np.uint8).reshape(-1, 3, 32, 32)
            target = np.asarray(entry[label_key], dtype=np.int64).reshape(-1)
        except (KeyError, ValueError) as e:
            raise DatasetError(f"cannot read {path}: not a CIFAR batch ({e})") from e
        if data.shape[0] != target.shape[0]:
            raise DatasetError(f"cannot read {path}: {data.shape[0]} images but {target.shape[0]} labels")
        images.append(data)
        labels.append(target)
    return torch.from_numpy(np.concatenate(images)), torch.from_numpy(np.concatenate(labels))


def _load_cifar(name: str, root: Path, download: bool, data_seed: int, params: Mapping[str, Any]) -> RawDataset:
    tv_class = torchvision.datasets.CIFAR10 if name == "cifar10" else torchvision.datasets.CIFAR100
    folder = root / tv_class.base_folder
    train_files = [f for f, _ in tv_class.train_list]
    test_files = [f for f, _ in tv_class.test_list]
    meta_file = tv_class.meta["filename"]
    files = [*train_files, *test_files, meta_file]
    if download and not all((folder / f).is_file() for f in files):
        download_and_extract_archive(tv_class.url, str(root), filename=tv_class.filename, md5=tv_class.tgz_md5)
    _require_files(name, folder, files, f"the python version of {tv_class.url}, extracted in {root}")
    label_key = "labels" if name == "cifar10" else "fine_labels"
    names = _read_pickle(folder / meta_file).get(tv_class.meta["key"])
    if not isinstance(names, list | tuple) or not names:
        raise DatasetError(f"cannot read {folder / meta_file}: no {tv_class.meta['key']!r} list")
    train = _read_cifar_batches([folder / f for f in train_files], label_key)
    test = _read_cifar_batches([folder / f for f in test_files], label_key)
    class_names = tuple(str(n) for n in names)
    return _finish(name, train, test, class_names, data_seed, params, crop_padding=4, flip=True)


def load_cifar10_raw(root: Path, download: bool, data_seed: int, params: Mapping[str, Any]) -> RawDataset:
    """CIFAR-10: uint8 train (50000, 3, 32, 32), test (10000, 3, 32, 32), 10 classes."""
    return _load_cifar("cifar10", root, download, data_seed, params)


def load_cifar100_raw(root: Path, download: bool, data_seed: int, params: Mapping[str, Any]) -> RawDataset:
    """CIFAR-100 with its 100 fine labels: uint8 train (50000, 3, 32, 32), test (10000, 3, 32, 32)."""
    return _load_cifar("cifar100", root, download, data_seed, params)


# --- MNIST and Fashion-MNIST -------------------------------------------------------------------------------


def _load_mnist_like(
    name: str, tv_class: Any, root: Path, download: bool, data_seed: int, params: Mapping[str, Any]
) -> RawDataset:
    folder = root / tv_class.__name__ / "raw"
    files = [f"{split}-{kind}-ubyte" for split in ("train", "t10k") for kind in ("images-idx3", "labels-idx1")]
    if download:
        tv_class(str(root), train=True, download=True)  # fetches and md5-checks all four archives
    # torchvision still reads the processed/*.pt files that versions before 0.9 wrote.
    legacy = root / tv_class.__name__ / "processed"
    if not all((legacy / f).is_file() for f in ("training.pt", "test.pt")):
        _require_files(name, folder, files, "the uncompressed IDX files of the official archives")
    splits = []
    for train in (True, False):
        try:
            ds = tv_class(str(root), train=train, download=False)
        except Exception as e:  # torchvision's IDX reader fails with asserts, KeyError or RuntimeError
            raise DatasetError(f"{name}: cannot read the IDX files in {folder}: {e!r}; replace them") from e
        splits.append((ds.data.unsqueeze(1), ds.targets.to(torch.int64)))
    names = tuple(str(c) for c in tv_class.classes) if name == "fashion_mnist" else _DIGIT_NAMES
    return _finish(name, splits[0], splits[1], names, data_seed, params, crop_padding=2, flip=name == "fashion_mnist")


def load_mnist_raw(root: Path, download: bool, data_seed: int, params: Mapping[str, Any]) -> RawDataset:
    """MNIST: uint8 train (60000, 1, 28, 28), test (10000, 1, 28, 28), 10 digit classes."""
    return _load_mnist_like("mnist", torchvision.datasets.MNIST, root, download, data_seed, params)


def load_fashion_mnist_raw(root: Path, download: bool, data_seed: int, params: Mapping[str, Any]) -> RawDataset:
    """Fashion-MNIST: uint8 train (60000, 1, 28, 28), test (10000, 1, 28, 28), 10 garment classes."""
    return _load_mnist_like("fashion_mnist", torchvision.datasets.FashionMNIST, root, download, data_seed, params)


# --- SVHN --------------------------------------------------------------------------------------------------


class _SVHNFiles(torchvision.datasets.SVHN):  # type: ignore[misc]  # torchvision ships no type hints
    """torchvision's SVHN reader with the md5 comparison replaced by an existence check (see the module doc)."""

    def _check_integrity(self) -> bool:
        return bool((Path(self.root) / self.filename).is_file())


def load_svhn_raw(root: Path, download: bool, data_seed: int, params: Mapping[str, Any]) -> RawDataset:
    """SVHN cropped digits (train and test, not extra): uint8 (73257, 3, 32, 32) and (26032, 3, 32, 32)."""
    folder = root / "svhn"
    files = {split: str(torchvision.datasets.SVHN.split_list[split][1]) for split in ("train", "test")}
    if download:
        for split, file in files.items():
            if not (folder / file).is_file():
                torchvision.datasets.SVHN(str(folder), split=split, download=True)
    _require_files(
        "svhn", folder, list(files.values()), "the cropped-digits format 2 of http://ufldl.stanford.edu/housenumbers/"
    )
    splits = []
    for split, file in files.items():
        try:
            ds = _SVHNFiles(str(folder), split=split)
        except Exception as e:  # scipy.io fails in assorted ways on a truncated or foreign .mat file
            raise DatasetError(f"svhn: cannot read {folder / file}: {e!r}; replace the file") from e
        splits.append((torch.from_numpy(np.ascontiguousarray(ds.data)), torch.from_numpy(ds.labels)))
    return _finish("svhn", splits[0], splits[1], _DIGIT_NAMES, data_seed, params, crop_padding=4, flip=False)


# --- registry entries --------------------------------------------------------------------------------------

CIFAR10 = DatasetSpec("cifar10", load_cifar10_raw)
CIFAR100 = DatasetSpec("cifar100", load_cifar100_raw)
MNIST = DatasetSpec("mnist", load_mnist_raw)
FASHION_MNIST = DatasetSpec("fashion_mnist", load_fashion_mnist_raw)
SVHN = DatasetSpec("svhn", load_svhn_raw)
