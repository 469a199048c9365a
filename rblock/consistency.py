"""Consistency losses between two sub-models' outputs (R-Drop, arXiv 2106.14448; R-Block, arXiv 2307.15150).

The loss convention of the whole project lives here (docs/design.md §2). Per sample::

    L = ½ (CE(z₁, y) + CE(z₂, y)) + α · ½ (KL(p₁‖p₂) + KL(p₂‖p₁))

averaged over the batch. R-Drop's paper writes ``CE(z₁, y) + CE(z₂, y) + α_R · ½ (KL(p₁‖p₂) + KL(p₂‖p₁))``;
ours is that divided by two with α = α_R / 2. Relative to the cross-entropy, α here therefore weighs the KL
twice as much as the same number does in R-Drop: to reproduce a paper's α_R, set α = α_R / 2. (The mean CE
keeps the learning rate calibrated for the single-pass arms.) Both terms are computed in float32.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor


def symmetric_kl(logits_a: Tensor, logits_b: Tensor) -> Tensor:
    """Per-sample symmetric KL divergence ½ (KL(p_a‖p_b) + KL(p_b‖p_a)) between two softmax outputs.

    Args:
        logits_a: Logits of shape (B, K).
        logits_b: Logits of shape (B, K).

    Returns:
        Tensor of shape (B,) in float32.
    """
    if logits_a.shape != logits_b.shape or logits_a.dim() != 2:
        raise ValueError(
            f"symmetric_kl needs two (B, K) logit tensors of one shape, got {tuple(logits_a.shape)} "
            f"and {tuple(logits_b.shape)}"
        )
    log_a = F.log_softmax(logits_a.float(), dim=-1)
    log_b = F.log_softmax(logits_b.float(), dim=-1)
    # ½ Σ_k (p_a - p_b)(log p_a - log p_b) is the same sum written once.
    return 0.5 * ((log_a.exp() - log_b.exp()) * (log_a - log_b)).sum(dim=-1)


def two_pass_loss(
    logits_a: Tensor, logits_b: Tensor, target: Tensor, alpha: float, label_smoothing: float = 0.0
) -> tuple[Tensor, Tensor]:
    """The two-pass objective of docs/design.md §2, batch mean.

    Args:
        logits_a: First sub-model's logits, shape (B, K).
        logits_b: Second sub-model's logits, shape (B, K).
        target: Class ids, shape (B,).
        alpha: Weight of the symmetric KL.
        label_smoothing: Passed to the cross-entropy.

    Returns:
        (loss as a 0-dim float32 tensor, mean symmetric KL as a 0-dim detached tensor).
    """
    ce_a = F.cross_entropy(logits_a.float(), target, reduction="none", label_smoothing=label_smoothing)
    ce_b = F.cross_entropy(logits_b.float(), target, reduction="none", label_smoothing=label_smoothing)
    kl = symmetric_kl(logits_a, logits_b)
    loss = (0.5 * (ce_a + ce_b) + alpha * kl).mean()
    return loss, kl.detach().mean()
