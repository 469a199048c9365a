"""``image_size`` for the datasets stored at a fixed native size (CIFAR, MNIST, SVHN, shapes, digits).

Their images are square, so resize-and-centre-crop is a plain resize: bilinear with antialiasing (the
filter PIL uses, so a downsized CIFAR image looks like a downsized photo of the image folder path), done
per chunk of images so that the float32 working copy stays small. The augmentation scales with the side:
the random crop's padding grows from its native value in proportion (4 at 32 px becomes 28 at 224 px);
at the native size nothing changes, so existing results stay as they were.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

_CHUNK = 256


def resize_images(x: Tensor, size: int) -> Tensor:
    """Square images (N, C, S0, S0) resized to (N, C, size, size), keeping the dtype (uint8 is rounded).

    Args:
        x: uint8 in [0, 255] or float in [0, 1].
        size: the new side.

    Returns:
        A new tensor, or ``x`` itself when it is already ``size`` a side.
    """
    if tuple(x.shape[2:]) == (size, size):
        return x
    out = torch.empty((x.shape[0], x.shape[1], size, size), dtype=x.dtype)
    for start in range(0, x.shape[0], _CHUNK):
        chunk = x[start : start + _CHUNK].to(torch.float32)
        resized = F.interpolate(chunk, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
        if x.dtype == torch.uint8:
            resized = resized.round_().clamp_(0, 255)
        out[start : start + _CHUNK] = resized.to(x.dtype)
    return out


def scaled_padding(crop_padding: int, native: int, size: int) -> int:
    """The random crop's padding at ``size`` px for one of ``crop_padding`` at ``native`` px (0 stays 0)."""
    if crop_padding == 0 or size == native:
        return crop_padding
    return max(1, round(crop_padding * size / native))
