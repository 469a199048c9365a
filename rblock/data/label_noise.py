"""Symmetric label noise: a fixed fraction of train labels replaced by a different, uniformly drawn class.

Regularizers are often compared under label noise, where memorising the wrong labels is what hurts
(Zhang et al., "Understanding deep learning requires rethinking generalization", ICLR 2017, arXiv
1611.03530; Arpit et al., "A closer look at memorization in deep networks", ICML 2017). Two choices make
runs comparable across arms and seeds:

- *exactly* ``round(fraction × N)`` labels change (chosen without replacement), not a Bernoulli(fraction)
  draw per label, so every run of a pilot sees the same amount of noise;
- every chosen label changes to a *different* class (drawn uniformly among the other K - 1), so the realised
  noise equals the asked fraction; drawing among all K classes would leave 1/K of them unchanged.

The draw depends only on the seed: ``load_dataset`` derives it from ``data_seed``, so the noisy labels are
the same for every arm and every training seed of a pilot.
"""

from __future__ import annotations

import torch
from torch import Tensor

from rblock.data.split import DatasetError


def apply_label_noise(labels: Tensor, fraction: float, num_classes: int, seed: int) -> Tensor:
    """Replace exactly ``round(fraction × N)`` labels by a different random class.

    Args:
        labels: int64 (N,), values in [0, num_classes).
        fraction: the share of labels to replace, in [0, 1).
        num_classes: K >= 2.
        seed: non-negative; the same seed gives the same replaced labels.

    Returns:
        int64 (N,), a new tensor on ``labels``' device; ``labels`` is not modified.
    """
    if not 0.0 <= fraction < 1.0:
        raise DatasetError(f"label noise must be a fraction in [0, 1), got {fraction}")
    if num_classes < 2:
        raise DatasetError(f"label noise needs at least 2 classes, got {num_classes}")
    if labels.dim() != 1:
        raise DatasetError(f"labels must be 1-D, got shape {tuple(labels.shape)}")
    noisy = labels.clone()
    n_changed = round(fraction * labels.shape[0])
    if n_changed == 0:
        return noisy
    if int(labels.min()) < 0 or int(labels.max()) >= num_classes:
        raise DatasetError(f"labels must lie in [0, {num_classes}), got [{int(labels.min())}, {int(labels.max())}]")
    gen = torch.Generator().manual_seed(seed)
    chosen = torch.randperm(labels.shape[0], generator=gen)[:n_changed]
    # An offset in [1, K) modulo K reaches each of the other K - 1 classes with equal probability.
    offset = torch.randint(1, num_classes, (n_changed,), generator=gen)
    chosen = chosen.to(labels.device)
    noisy[chosen] = (labels[chosen] + offset.to(labels.device)) % num_classes
    return noisy
