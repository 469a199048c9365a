"""Seeds derived from several integers, for reproducible streams that do not collide.

Every random stream of ``rblock.data`` (the shapes of a split, the label noise, the batch order of one epoch)
is seeded from a tuple such as ``(data_seed, stream_tag)`` or ``(seed, epoch)``. Adding or multiplying the
integers would make ``(seed=1, epoch=0)`` and ``(seed=0, epoch=1)`` collide; NumPy's ``SeedSequence`` hashes
the whole tuple instead (O'Neill, "PCG", and the NumPy seeding guide), so neighbouring tuples give unrelated
streams.
"""

from __future__ import annotations

import numpy as np

# Stream tags keep the streams of one data_seed apart (the values are arbitrary but fixed forever: changing
# one changes every generated dataset).
STREAM_SHAPES_TRAIN = 0x5348_5452
STREAM_SHAPES_TEST = 0x5348_5445
STREAM_LABEL_NOISE = 0x4E4F_4953
STREAM_SUBSET = 0x5355_4253


def derive_seed(*values: int) -> int:
    """A 63-bit seed that depends on every value of the tuple.

    Args:
        values: non-negative integers, e.g. ``(data_seed, STREAM_LABEL_NOISE)`` or ``(seed, epoch)``.

    Returns:
        An int in ``[0, 2**63)``, valid for ``torch.Generator.manual_seed`` and ``numpy.random.default_rng``.
    """
    if any(v < 0 for v in values):
        raise ValueError(f"seeds must be non-negative, got {values}")
    words = np.random.SeedSequence(list(values)).generate_state(2, dtype=np.uint32)
    return (int(words[0]) << 31) ^ int(words[1])


def numpy_rng(*values: int) -> np.random.Generator:
    """A NumPy generator (PCG64) seeded from the tuple; never the global RNG."""
    return np.random.default_rng(np.random.SeedSequence(list(values)))
