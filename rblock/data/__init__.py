"""Datasets for the training engine: in-memory, normalised train/test splits and a batch iterator.

``load_dataset(name, ...)`` returns a ``DatasetSplit`` for any of ``DATASETS``: scikit-learn's digits and
procedural shapes (offline, generated), CIFAR-10/100, MNIST, Fashion-MNIST and SVHN (files under the data
root), and a user's image folder. ``TensorBatches`` iterates over a split on the training device with
batch-wise random crop and flip, reproducible per (seed, epoch).

A dataset over the memory budget (``DATA_MEMORY_BYTES``, default a quarter of the RAM) is refused by
``load_dataset`` before it is read; ``open_dataset`` streams it instead (a ``StreamingSplit``), and
``batches_for`` gives the batches of either kind, in the same order for one seed.
"""

from rblock.data.batches import TensorBatches, random_crop, random_flip
from rblock.data.dataset import (
    DATASETS,
    batches_for,
    describe_datasets,
    load_dataset,
    open_dataset,
    resolve_data_root,
)
from rblock.data.label_noise import apply_label_noise
from rblock.data.memory import DATA_MEMORY_ENV, default_memory_budget
from rblock.data.shapes import SHAPE_CLASSES, generate_shapes, render_shapes
from rblock.data.split import DatasetError, DatasetNotFoundError, DatasetSplit, DatasetTooLargeError
from rblock.data.streaming import StreamedBatches, StreamingSplit

__all__ = [
    "DATASETS",
    "DATA_MEMORY_ENV",
    "SHAPE_CLASSES",
    "DatasetError",
    "DatasetNotFoundError",
    "DatasetSplit",
    "DatasetTooLargeError",
    "StreamedBatches",
    "StreamingSplit",
    "TensorBatches",
    "apply_label_noise",
    "batches_for",
    "default_memory_budget",
    "describe_datasets",
    "generate_shapes",
    "load_dataset",
    "open_dataset",
    "random_crop",
    "random_flip",
    "render_shapes",
    "resolve_data_root",
]
