"""Datasets for the training engine: in-memory, normalised train/test splits and a batch iterator.

``load_dataset(name, ...)`` returns a ``DatasetSplit`` for any of ``DATASETS``: scikit-learn's digits and
procedural shapes (offline, generated), CIFAR-10/100, MNIST, Fashion-MNIST and SVHN (files under the data
root), and a user's image folder. ``TensorBatches`` iterates over a split on the training device with
batch-wise random crop and flip, reproducible per (seed, epoch).
"""

from rblock.data.batches import TensorBatches, random_crop, random_flip
from rblock.data.dataset import DATASETS, describe_datasets, load_dataset, resolve_data_root
from rblock.data.label_noise import apply_label_noise
from rblock.data.shapes import SHAPE_CLASSES, generate_shapes, render_shapes
from rblock.data.split import DatasetError, DatasetNotFoundError, DatasetSplit

__all__ = [
    "DATASETS",
    "SHAPE_CLASSES",
    "DatasetError",
    "DatasetNotFoundError",
    "DatasetSplit",
    "TensorBatches",
    "apply_label_noise",
    "describe_datasets",
    "generate_shapes",
    "load_dataset",
    "random_crop",
    "random_flip",
    "render_shapes",
    "resolve_data_root",
]
