"""Shared trunk: a two-pass step runs the layers before the first drop site once, not twice.

R-Drop and R-Block pass every sample through two sub-models that differ only in their drop masks, so
the two passes compute the same numbers up to the first drop site (the *trunk*). :func:`two_pass_forward`
calls the model on ``x`` (B rows); inside it the first :class:`~rblock.drop_layer.DropLayer` to run
duplicates its input, ``h -> [h; h]`` (2B rows), and from there on the paired masks and the rest of the
network run on 2B rows exactly as in ``model(cat([x, x]))``. The model returns 2B rows of logits.

The mechanism lives in ``DropLayer.forward``, not in any model's ``forward``, so it works for every model
whose drop sites are DropLayer modules, whether they are submodules (the built-ins) or called from
forward hooks on another library's modules (timm's zoo).

Why the result is the same as the concatenated pass. Write the model as ``R(T(x))``, T the trunk and R
the rest. Every trunk layer maps duplicated rows to duplicated rows, ``T([x; x]) = [T(x); T(x)]``:
convolutions, activations and pooling act on each row alone, and a training-mode BatchNorm over
``[h; h]`` sees the same per-channel mean, ``mean([h; h]) = mean(h)``, and the same *biased* variance,
``mean(([h; h] - μ)²) = mean((h - μ)²)``, so it normalises each row exactly as it would over ``h``.
Hence ``R(T([x; x])) = R(dup(T(x)))`` for every value of the parameters: the two are one function of the
weights, so they have the same forward values, loss and gradient with respect to every parameter. In
autograd terms, the backward of the ``cat`` adds the gradients of the two branches, ``g₁ + g₂``, and the
trunk's backward, being linear in its incoming gradient, turns that sum into the sum of what the
concatenated pass computes for its two halves (for BatchNorm: ``mean_B(g₁ + g₂) = 2·mean_2B([g₁; g₂])``).

The one difference: BatchNorm's *running* variance is updated with the unbiased estimate
``var · n/(n - 1)``, where n is the number of values per channel, ``B·H·W`` here against ``2B·H·W`` in
the concatenated pass. The two updates differ by the factor ``1 + 1/(2(n - 1))``: 1.2e-4 relative for
resnet18's smallest trunk map at batch 64 (8×8, n = 4096), 1.5e-5 for small_cnn's at batch 128, far below
the batch-to-batch noise of the variance estimate itself (relative standard deviation about √(2/n)).
We keep it: correcting it would mean changing each BatchNorm's momentum around every step, for nothing
measurable. Running means, ``num_batches_tracked`` and everything else are identical.

Requirements on a model (true of the built-ins, whose drop sites follow whole stages): the trunk must be
deterministic in training mode (a dropout or drop-path before the first drop site would draw one mask for
both passes instead of two), and the first drop site must lie on the path every later layer depends on
(a residual shortcut around it would still carry B rows). A model that breaks either can use the
concatenated pass, ``Regularizer.shared_trunk = False``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar

import torch
from torch import Tensor, nn

from rblock.pairing import paired_forward


class _Trunk:
    """The state of one shared-trunk forward: whether the batch has been duplicated yet."""

    def __init__(self) -> None:
        self.split = False


_active_trunk: ContextVar[_Trunk | None] = ContextVar("rblock_active_trunk", default=None)


@contextlib.contextmanager
def _shared_trunk() -> Iterator[_Trunk]:
    trunk = _Trunk()
    token = _active_trunk.set(trunk)
    try:
        yield trunk
    finally:
        _active_trunk.reset(token)


def split_trunk(x: Tensor) -> Tensor:
    """``[x; x]`` at the first drop site of a :func:`two_pass_forward`, else ``x`` unchanged.

    Called by every drop layer before anything else, in training and evaluation mode alike, so that the
    model returns 2B rows whatever the drop rate.
    """
    trunk = _active_trunk.get()
    if trunk is None or trunk.split:
        return x
    trunk.split = True
    return torch.cat([x, x])


def two_pass_forward(model: nn.Module, x: Tensor, pairing: str) -> Tensor:
    """Logits of both sub-models, shape (2B, K), with the trunk run once on ``x`` (B rows).

    Equal to ``model(torch.cat([x, x]))`` inside ``paired_forward(pairing)``, at the cost of one trunk
    (see the module docstring).

    Raises:
        ValueError: When the model's output does not have 2B rows (a drop site off the main path).
    """
    b = x.shape[0]
    with paired_forward(pairing), _shared_trunk() as trunk:
        out: Tensor = model(x)
    if not trunk.split:
        # No drop site ran (none in the model): the two sub-models are the same network.
        out = torch.cat([out, out])
    if out.shape[0] != 2 * b:
        raise ValueError(
            f"shared trunk: the model returned {out.shape[0]} rows for a batch of {b}, expected {2 * b}; its first "
            "drop site must lie on the path every later layer depends on (or set Regularizer.shared_trunk = False)"
        )
    return out
