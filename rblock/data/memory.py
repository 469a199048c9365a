"""The memory budget of a dataset and the estimate, made before loading, that picks in-memory or streaming.

A worker that loads a dataset larger than its RAM dies with ``MemoryError`` after minutes of decoding (40,000
images at 512 px asked for 29.3 GiB). So the size is estimated first, from the image count and the final
image shape only (no pixel is decoded), and compared with a budget: ``DATA_MEMORY_BYTES`` (bytes), else a
quarter of the machine's RAM, leaving the rest to the model, the optimizer and the other workers.

The in-memory path holds the images as uint8 while it reads them, then as normalised float32 (4 bytes a
value) for training; both exist while it normalises, so its peak is 5 bytes per pixel value, and that peak is
what must fit. The streamed path holds only the batches in flight: ``prefetch`` batches per loader process
as uint8 and a process's own pages (``LOADER_PROCESS_BYTES``), plus the working copies of the batch being
trained on as float32 (``BATCH_WORKING_COPIES``: the float conversion, the padded copy, the crop, the flip
and its selection each make one while the previous batch is still referenced; measured on the CPU with
``bench/streaming.py``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from rblock.data.split import DatasetError

DATA_MEMORY_ENV = "DATA_MEMORY_BYTES"
_MEMINFO = Path("/proc/meminfo")
# uint8 read buffer + float32 normalised copy, per pixel value (see the module docstring)
IN_MEMORY_BYTES_PER_VALUE = 1 + 4
LABEL_BYTES = 8  # int64
BATCH_WORKING_COPIES = 8
# What one forked loader process adds (its own pages, decode buffers, the pages of the parent it shares no
# longer): 13-60 MiB measured with bench/streaming.py, with the parent's objects frozen (freeze_before_fork).
LOADER_PROCESS_BYTES = 48 * 2**20
LOADERS = 2  # the train and the test batches' loaders, both persistent


def total_ram_bytes() -> int:
    """The machine's physical memory, from ``os.sysconf`` (else ``/proc/meminfo``'s ``MemTotal``)."""
    try:
        pages, page_size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
        if pages > 0 and page_size > 0:
            return int(pages * page_size)
    except (ValueError, OSError, AttributeError):  # a platform without these names
        pass
    for line in _MEMINFO.read_text(encoding="ascii").splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) * 1024  # the file counts kB
    raise DatasetError(f"cannot tell this machine's memory size; set {DATA_MEMORY_ENV} (bytes)")


def default_memory_budget() -> int:
    """``$DATA_MEMORY_BYTES`` when set, else a quarter of the machine's RAM."""
    raw = os.environ.get(DATA_MEMORY_ENV, "").strip()
    if not raw:
        return total_ram_bytes() // 4
    try:
        value = int(raw.replace("_", ""))
    except ValueError:
        value = 0
    if value <= 0:
        raise DatasetError(f"{DATA_MEMORY_ENV} must be a whole number of bytes > 0, got {raw[:40]!r}")
    return value


def resolve_memory_budget(budget: int | None) -> int:
    """``budget`` when given (> 0), else ``default_memory_budget()``."""
    if budget is None:
        return default_memory_budget()
    if isinstance(budget, bool) or not isinstance(budget, int) or budget <= 0:
        raise DatasetError(f"memory_budget must be a whole number of bytes > 0, got {budget!r}")
    return budget


@dataclass(frozen=True)
class Footprint:
    """A dataset's size before loading: image count (train + test) and the shape the images are stored at."""

    images: int
    channels: int
    height: int
    width: int

    @property
    def values(self) -> int:
        """Pixel values of the whole dataset."""
        return self.images * self.channels * self.height * self.width

    @property
    def uint8_bytes(self) -> int:
        """The dataset as uint8 images plus int64 labels."""
        return self.values + LABEL_BYTES * self.images

    @property
    def in_memory_peak_bytes(self) -> int:
        """The in-memory path's peak: uint8 and float32 copies at once, plus the labels."""
        return IN_MEMORY_BYTES_PER_VALUE * self.values + LABEL_BYTES * self.images

    def fits(self, budget: int) -> bool:
        """Whether the in-memory path stays within ``budget`` bytes."""
        return self.in_memory_peak_bytes <= budget


def streaming_bytes(sample_bytes: int, batch_size: int, workers: int, prefetch: int, *, host_floats: bool) -> int:
    """Bytes the streamed path holds with ``workers`` processes per loader.

    Two loaders live at once in training (the train batches' and the test batches', each with persistent
    processes); each process holds ``prefetch`` uint8 batches and its own pages; the float32 working copies
    of the batch count when they live in host memory (``host_floats``: training on the CPU), not on a GPU.
    """
    per_loader = max(1, workers) * (prefetch * batch_size * sample_bytes + LOADER_PROCESS_BYTES)
    floats = BATCH_WORKING_COPIES * 4 * batch_size * sample_bytes if host_floats else 0
    return LOADERS * per_loader + floats


def gib(n: int) -> str:
    """Bytes in GiB for a message, e.g. ``'29.3 GiB'``."""
    return f"{n / 2**30:.3g} GiB"
