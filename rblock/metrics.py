"""Evaluation metrics of a pilot (docs/design.md §3): accuracy, NLL, calibration, seed churn and sub-model stability.

* Expected calibration error: Guo, Pleiss, Sun & Weinberger, "On Calibration of Modern Neural Networks",
  ICML 2017, arXiv 1706.04599 (M = 15 equal-width confidence bins).
* Sub-model stability (``inconsistency_kl``, ``flip_rate``): the gap between the deployed model and the
  sub-models its drop layers sample, with BatchNorm in eval mode so that only the drop masks differ
  (reference/regularizers.md §5, items 1 and 5). The idea comes from R-Drop (arXiv 2106.14448) and R-Block
  (arXiv 2307.15150); the definitions are ours.
* ``seed_churn``: the share of test predictions that differ between two seeds' final models, averaged over
  all pairs of seeds (§5, item 8).

All functions take tensors on any device and return Python floats; reductions run in float32 or float64
whatever the input dtype, so that half-precision logits give the same numbers.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rblock.drop_layer import DropLayer
from rblock.pairing import _active_pairing

ECE_BINS = 15


def _check_classification(name: str, scores: Tensor, target: Tensor) -> None:
    """Raise ``ValueError`` unless ``scores`` is (N, K) with N >= 1, K >= 1 and ``target`` is (N,) of class ids."""
    if scores.dim() != 2 or scores.shape[0] == 0 or scores.shape[1] == 0:
        raise ValueError(f"{name} must have shape (N, K) with N, K >= 1, got {tuple(scores.shape)}")
    if target.dim() != 1 or target.shape[0] != scores.shape[0]:
        raise ValueError(
            f"target must have shape (N,) matching {name} {tuple(scores.shape)}, got {tuple(target.shape)}"
        )
    if target.dtype.is_floating_point or target.dtype.is_complex or target.dtype == torch.bool:
        raise ValueError(f"target must hold integer class ids, got dtype {target.dtype}")
    if bool(((target < 0) | (target >= scores.shape[1])).any()):
        raise ValueError(f"target class ids must lie in [0, {scores.shape[1]}), got {target.min()}..{target.max()}")


def accuracy(logits: Tensor, target: Tensor) -> float:
    """Fraction of samples whose arg-max class is the target.

    Args:
        logits: Scores of shape (N, K) (logits or probabilities: only the arg-max counts).
        target: Class ids of shape (N,).
    """
    _check_classification("logits", logits, target)
    return float((logits.argmax(dim=1) == target).float().mean().item())


def nll(logits: Tensor, target: Tensor) -> float:
    """Mean negative log-likelihood (cross-entropy) of the softmax of ``logits``, computed in float32.

    Args:
        logits: Logits of shape (N, K).
        target: Class ids of shape (N,).
    """
    _check_classification("logits", logits, target)
    return float(F.cross_entropy(logits.float(), target.long()).item())


def expected_calibration_error(probs: Tensor, target: Tensor, bins: int = ECE_BINS) -> float:
    """Expected calibration error with equal-width bins on the top-class confidence (Guo et al. 2017).

    ``ECE = Σ_b |B_b| / n · |acc(B_b) − conf(B_b)|`` where ``conf`` is the max probability of a sample and
    ``acc`` whether its arg-max is the target. Bins are closed on the right: ``(0, 1/M], (1/M, 2/M], …,
    ((M−1)/M, 1]``, so a confidence of exactly ``b/M`` falls in bin ``b − 1`` (a confidence of 0, impossible
    for a probability vector, would join the first bin). Confidences are compared with the edges ``b/M`` in
    float64; a float32 confidence that rounds just above an edge lands in the upper bin.

    Args:
        probs: Probabilities of shape (N, K), rows summing to 1 (e.g. ``logits.softmax(1)``).
        target: Class ids of shape (N,).
        bins: Number of bins M (>= 1), 15 as in Guo et al.

    Returns:
        ECE in [0, 1].
    """
    if isinstance(bins, bool) or not isinstance(bins, int) or bins < 1:
        raise ValueError(f"bins must be an integer >= 1, got {bins!r}")
    _check_classification("probs", probs, target)
    p = probs.double()
    if not bool(torch.isfinite(p).all()) or bool((p < 0).any()) or bool((p > 1).any()):
        raise ValueError("probs must be probabilities in [0, 1]: pass logits.softmax(1), not logits")
    # A loose tolerance: it only has to catch unnormalised scores, not half-precision rounding.
    if not bool(torch.allclose(p.sum(1), torch.ones_like(p[:, 0]), atol=1e-2)):
        raise ValueError("probs rows must sum to 1: pass logits.softmax(1), not logits")
    confidence, predicted = p.max(dim=1)
    correct = (predicted == target).double()
    inner_edges = torch.arange(1, bins, dtype=torch.float64, device=p.device) / bins
    # right=False: edges[i-1] < conf <= edges[i] -> bin i, i.e. bins closed on the right.
    index = torch.bucketize(confidence, inner_edges, right=False)
    gap = torch.zeros(bins, dtype=torch.float64, device=p.device).index_add_(0, index, correct - confidence)
    # Σ_b |B_b|/n · |acc_b − conf_b| = Σ_b |Σ_{i∈B_b} (correct_i − conf_i)| / n.
    return float((gap.abs().sum() / p.shape[0]).item())


def seed_churn(predictions: Sequence[Tensor]) -> float | None:
    """Mean over all pairs of runs of the fraction of samples whose predicted class differs.

    Args:
        predictions: One vector of predicted class ids of shape (N,) per run (seed), same N and sample order.

    Returns:
        The mean pairwise disagreement in [0, 1], or ``None`` for fewer than two runs.
    """
    if len(predictions) < 2:
        return None
    first = predictions[0]
    for i, pred in enumerate(predictions):
        if pred.dim() != 1 or pred.shape[0] == 0 or pred.shape != first.shape:
            raise ValueError(
                f"predictions must be non-empty vectors (N,) of one length, got shape {tuple(pred.shape)} at "
                f"index {i} (first: {tuple(first.shape)})"
            )
    vectors = [pred.detach().cpu() for pred in predictions]
    rates = [(a != b).double().mean() for a, b in itertools.combinations(vectors, 2)]
    return float(torch.stack(rates).mean().item())


@dataclass(frozen=True)
class Stability:
    """Sub-model stability of a model on a data set.

    Attributes:
        inconsistency_kl: Mean over samples and masks of KL(p_full ‖ p_sub), in nats.
        flip_rate: Mean over samples and masks of 1[argmax p_sub ≠ argmax p_full].
        masks: Number of masks K drawn per sample.
    """

    inconsistency_kl: float
    flip_rate: float
    masks: int


def _check_batching(x: Tensor, batch_size: int) -> None:
    if x.dim() < 1 or x.shape[0] == 0:
        raise ValueError(f"x must be a non-empty batch (N, ...), got shape {tuple(x.shape)}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be an integer >= 1, got {batch_size!r}")


@contextlib.contextmanager
def _preserved_state(model: nn.Module, layers: Sequence[DropLayer]) -> Iterator[None]:
    """Restore every module's training flag and every drop layer's schedule and realised-rate record."""
    modes = [(m, m.training) for m in model.modules()]
    # The realised rate is the training loop's `drop_rate` metric: an evaluation must not overwrite it.
    saved = [(layer, layer.rate_scale, layer._last_drop_fraction) for layer in layers]
    try:
        yield
    finally:
        for m, training in modes:
            m.training = training
        for layer, rate_scale, fraction in saved:
            layer.rate_scale = rate_scale
            layer._last_drop_fraction = fraction


@contextlib.contextmanager
def _unpaired() -> Iterator[None]:
    # Sub-models must be drawn one by one: inside a caller's paired_forward an even batch would be read as
    # two paired halves. rblock.pairing has no public switch for this, hence the private context variable.
    token = _active_pairing.set(None)
    try:
        yield
    finally:
        _active_pairing.reset(token)


# Called after each forward pass of an evaluation: a long evaluation (a big test set on a CPU) must let the
# caller show it is alive (a worker's heartbeat), as training does between batches.
AfterBatch = Callable[[], object]
# What the evaluations take: the whole input tensor, or its batches (a test set streamed from disk).
Inputs = Tensor | Iterable[Tensor]


def _chunks(x: Inputs, batch_size: int) -> Iterable[Tensor]:
    """``x`` in batches: a tensor split here, or batches already made (a test set streamed from disk)."""
    if isinstance(x, Tensor):
        _check_batching(x, batch_size)
        chunks: tuple[Tensor, ...] = x.split(batch_size)
        return chunks
    return x


def _forward_logits(model: nn.Module, x: Inputs, batch_size: int, after_batch: AfterBatch | None = None) -> Tensor:
    out = []
    for chunk in _chunks(x, batch_size):
        out.append(model(chunk).float())
        if after_batch is not None:
            after_batch()
    return torch.cat(out)


@torch.no_grad()
def predict(model: nn.Module, x: Inputs, *, batch_size: int = 512, after_batch: AfterBatch | None = None) -> Tensor:
    """Eval-mode logits of the full model, batched; every module's training flag is restored afterwards.

    Args:
        model: A classifier on the device of ``x``.
        x: Inputs of shape (N, ...), or an iterable of such batches (then ``batch_size`` is theirs).
        batch_size: Samples per forward pass.
        after_batch: Called after each forward pass (e.g. a heartbeat); its result is ignored.

    Returns:
        Logits of shape (N, K) in float32, on the device of ``x``.
    """
    with _preserved_state(model, []):
        model.eval()
        return _forward_logits(model, x, batch_size, after_batch)


@torch.no_grad()
def sub_model_stability(
    model: nn.Module, x: Inputs, *, masks: int = 8, batch_size: int = 512, after_batch: AfterBatch | None = None
) -> Stability | None:
    """How far the sub-models sampled by the drop layers are from the deployed (eval-mode) model.

    For each of ``masks`` draws, the model runs with BatchNorm and every other module in eval mode and only
    its :class:`~rblock.drop_layer.DropLayer` modules in training mode, at their full target rate
    (``rate_scale = 1``, whatever the schedule has reached) and outside any paired forward. Other stochastic
    modules (``nn.Dropout``) stay off. Every module's training flag, and every drop layer's ``rate_scale``
    and realised-rate record, are restored afterwards, also on error. BatchNorm statistics are not touched.

    Args:
        model: A classifier on the device of ``x`` whose drop sites hold drop layers of this package.
        x: Inputs of shape (N, ...), or an iterable of such batches (a test set streamed from disk).
        masks: Number of sub-models K drawn per sample (>= 1).
        batch_size: Samples per forward pass.
        after_batch: Called after each chunk's passes (e.g. a heartbeat); its result is ignored.

    Returns:
        ``Stability`` with ``inconsistency_kl = mean_{x,k} KL(p_full ‖ p_k)`` (float32, nats) and
        ``flip_rate = mean_{x,k} 1[argmax p_k ≠ argmax p_full]``; ``None`` when the model has no drop layer
        (the arm ``none``) or every drop layer has ``drop_prob`` 0, where sub-models equal the full model.
    """
    if isinstance(masks, bool) or not isinstance(masks, int) or masks < 1:
        raise ValueError(f"masks must be an integer >= 1, got {masks!r}")
    chunks = _chunks(x, batch_size)
    layers = [m for m in model.modules() if isinstance(m, DropLayer)]
    if all(layer.drop_prob == 0.0 for layer in layers):  # also true for no layers at all
        return None
    kl_sum: Tensor | None = None
    flip_sum: Tensor | None = None
    samples = 0
    with _preserved_state(model, layers), _unpaired():
        model.eval()
        for chunk in chunks:
            for layer in layers:
                layer.train(False)
            log_full = F.log_softmax(model(chunk).float(), dim=1)
            full_class = log_full.argmax(dim=1)
            for layer in layers:
                layer.train(True)
                layer.rate_scale = 1.0
            if kl_sum is None or flip_sum is None:
                kl_sum = torch.zeros((), dtype=torch.float64, device=chunk.device)
                flip_sum = torch.zeros((), dtype=torch.float64, device=chunk.device)
            for _ in range(masks):
                log_sub = F.log_softmax(model(chunk).float(), dim=1)
                # KL(p‖q) = Σ_c p_c (log p_c − log q_c); xlogy-style masking is unnecessary as log_softmax is finite.
                kl_sum += (log_full.exp() * (log_full - log_sub)).sum(dim=1).double().sum()
                flip_sum += (log_sub.argmax(dim=1) != full_class).double().sum()
            samples += chunk.shape[0]
            if after_batch is not None:
                after_batch()
    if kl_sum is None or flip_sum is None:
        raise ValueError("x must hold at least one sample")
    # One host sync at the end, not one per batch.
    count = samples * masks
    return Stability(
        inconsistency_kl=float((kl_sum / count).item()),
        flip_rate=float((flip_sum / count).item()),
        masks=masks,
    )
