"""The datasets a pilot can train on: description, parameters and the sizes the cost estimate needs.

The loaders are the library's (``rblock.data`` registers one per name of :data:`DATASETS`); the names, the
parameters and what they allow are here, for the API to validate a pilot and the library to check a run.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pilot_spec.fields import Field
from pilot_spec.tables import by_name


@dataclass(frozen=True)
class Dataset:
    """One dataset.

    Attributes:
        name: What a pilot's ``dataset`` says.
        description: One paragraph for the pages.
        params: Its parameters (``dataset_params``).
        sizes: Training- and test-set size and image side, for cost estimates before anything runs:
            ``train_size``/``test_size``/``image_size`` when fixed (None where only the files know), else
            ``*_param``: the parameter that holds it; ``limit_param``/``test_limit_param`` cap them.
    """

    name: str
    description: str
    params: Mapping[str, Field] = field(default_factory=dict)
    sizes: Mapping[str, Any] = field(default_factory=dict)

    def catalog_entry(self) -> dict[str, Any]:
        return {
            "description": self.description,
            "params": {key: param.catalog_entry() for key, param in self.params.items()},
            **self.sizes,
        }


def _subset(split: str) -> Field:
    return Field(
        "integer",
        0,
        f"use at most this many {split} images (a seeded random subset); 0 = all",
        minimum=0,
    )


_SUBSET = {"max_train": _subset("training"), "max_test": _subset("test")}
# A fixed set's images resized (and centre-cropped) to another side, e.g. the side pretrained weights expect.
_IMAGE_SIZE = {
    "image_size": Field(
        "integer",
        None,
        "resize the images to image_size × image_size (null: their native side)",
        minimum=4,
        maximum=512,
        nullable=True,
        allowed="null or an integer in [4, 512]",
    )
}
_CAPS = {"limit_param": "max_train", "test_limit_param": "max_test"}


def _stock(name: str, description: str, train: int, test: int, side: int) -> Dataset:
    """A fixed dataset read from files under the data root, optionally subsampled."""
    sizes = {"train_size": train, "test_size": test, "image_size": side, "image_size_param": "image_size", **_CAPS}
    return Dataset(name, description, {**_SUBSET, **_IMAGE_SIZE}, sizes)


DATASETS: dict[str, Dataset] = by_name(
    Dataset(
        "digits",
        "scikit-learn handwritten digits: 1797 grey 8×8 images, 10 classes, stratified 80/20 split "
        "(1437/360) by data seed; offline, trains in seconds on a CPU.",
        _IMAGE_SIZE,
        {"train_size": 1437, "test_size": 360, "image_size": 8, "image_size_param": "image_size"},
    ),
    Dataset(
        "shapes",
        "Procedural 32×32 RGB shapes, 10 classes (circle, ring, square, triangle, cross, star, half disc, "
        "L-shape, horizontal and vertical bar) with random colour, size, position, rotation, clutter and noise; "
        "generated offline from the data seed, balanced classes.",
        {
            "n_train": Field("integer", 5000, "number of training images", minimum=10),
            "n_test": Field("integer", 1000, "number of test images", minimum=10),
            "difficulty": Field(
                "number",
                0.5,
                "0 = large clean shapes, 1 = small shapes, heavy clutter and noise",
                minimum=0.0,
                maximum=1.0,
                allowed="a number in [0, 1]",
            ),
            **_IMAGE_SIZE,
        },
        {
            "train_size_param": "n_train",
            "test_size_param": "n_test",
            "image_size": 32,
            "image_size_param": "image_size",
        },
    ),
    _stock(
        "cifar10",
        "CIFAR-10: 50000/10000 colour 32×32 images, 10 classes; files in <data_root>/cifar-10-batches-py.",
        50_000,
        10_000,
        32,
    ),
    _stock(
        "cifar100",
        "CIFAR-100 (fine labels): 50000/10000 colour 32×32 images, 100 classes; files in <data_root>/cifar-100-python.",
        50_000,
        10_000,
        32,
    ),
    _stock(
        "mnist",
        "MNIST handwritten digits: 60000/10000 grey 28×28 images, 10 classes; files in <data_root>/MNIST/raw.",
        60_000,
        10_000,
        28,
    ),
    _stock(
        "fashion_mnist",
        "Fashion-MNIST: 60000/10000 grey 28×28 images of garments, 10 classes; files in <data_root>/FashionMNIST/raw.",
        60_000,
        10_000,
        28,
    ),
    _stock(
        "svhn",
        "SVHN house-number digits: 73257/26032 colour 32×32 images (train/test, no extra), 10 classes; "
        "files in <data_root>/svhn.",
        73_257,
        26_032,
        32,
    ),
    Dataset(
        "imagefolder",
        "Your own images: a folder with one subfolder per class; resized to image_size², stratified "
        "train/test split by data seed.",
        {
            "path": Field("string", None, "folder that holds one subfolder of images per class", required=True),
            "image_size": Field(
                "integer",
                32,
                "images are resized to image_size × image_size",
                minimum=4,
                maximum=512,
            ),
            "test_fraction": Field(
                "number",
                0.2,
                "share of each class held out for testing",
                minimum=0.01,
                maximum=0.99,
            ),
            "channels": Field("integer", 3, "3 = RGB, 1 = greyscale", enum=(1, 3)),
            "flip": Field("boolean", True, "allow horizontal-flip augmentation (false for text, digits, arrows)"),
        },
        {"train_size": None, "test_size": None, "image_size_param": "image_size"},
    ),
)
