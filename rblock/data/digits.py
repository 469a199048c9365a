"""scikit-learn's handwritten digits: 1797 grey 8×8 images of 10 classes, shipped with sklearn (offline).

The UCI "Optical Recognition of Handwritten Digits" set (Alpaydin & Kaynak, 1998) as ``sklearn.datasets.
load_digits`` returns it: pixel counts 0..16, scaled here to [0, 1]. The split is stratified 80/20 by
``data_seed`` (1437 train / 360 test), so a pilot's arms all see the same split while another data seed
gives another one. It trains in seconds on a CPU, which makes it the smoke test and the reference anchor.

Augmentation is off by default: the anchor trains without it. If turned on (``dataclasses.replace(split,
augment=True)``), a crop padding of 1 pixel suits 8×8 images; flips are never allowed (a mirrored 2 is not
a 2).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.datasets import load_digits as _sk_load_digits
from sklearn.model_selection import train_test_split

from rblock.data.spec import DatasetSpec
from rblock.data.split import RawDataset

TEST_FRACTION = 0.2
CLASS_NAMES = tuple(str(d) for d in range(10))


def load_digits_raw(root: Path, download: bool, data_seed: int, params: Mapping[str, Any]) -> RawDataset:
    """The digits split of ``data_seed``.

    Args:
        root, download, params: unused (the data ship with scikit-learn; the set has no parameters).
        data_seed: ``random_state`` of the stratified split.

    Returns:
        A ``RawDataset`` with float32 train (1437, 1, 8, 8) and test (360, 1, 8, 8) images in [0, 1].
    """
    del root, download, params
    bunch = _sk_load_digits()
    images = np.asarray(bunch.images, dtype=np.float32) / 16.0
    labels = np.asarray(bunch.target, dtype=np.int64)
    train_idx, test_idx = train_test_split(
        np.arange(labels.shape[0]), test_size=TEST_FRACTION, stratify=labels, random_state=data_seed
    )
    x = torch.from_numpy(images).unsqueeze(1)
    y = torch.from_numpy(labels)
    train = torch.from_numpy(np.asarray(train_idx, dtype=np.int64))
    test = torch.from_numpy(np.asarray(test_idx, dtype=np.int64))
    return RawDataset(
        train_x=x[train],
        train_y=y[train],
        test_x=x[test],
        test_y=y[test],
        class_names=CLASS_NAMES,
        augment=False,
        crop_padding=1,
        flip=False,
    )


DIGITS = DatasetSpec("digits", load_digits_raw)
