"""Optimizers and learning-rate schedules of the training loop (per-step factors of the peak rate)."""

from __future__ import annotations

import math

import torch
from torch import nn

from rblock.config import TrainConfig


def build_optimizer(config: TrainConfig, model: nn.Module) -> torch.optim.Optimizer:
    """SGD with momentum (Nesterov by default) or AdamW, at the config's peak learning rate."""
    params = [p for p in model.parameters() if p.requires_grad]
    if config.optimizer == "sgd":
        return torch.optim.SGD(
            params,
            lr=config.lr,
            momentum=config.momentum,
            nesterov=config.nesterov and config.momentum > 0,
            weight_decay=config.weight_decay,
        )
    return torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)


def lr_factor(schedule: str, step: int, total_steps: int, warmup_steps: int) -> float:
    """Multiplier of the peak learning rate before optimizer step ``step`` (0-based).

    ``cosine``: linear warm-up over ``warmup_steps``, then a half cosine to 0 at ``total_steps``.
    ``onecycle``: linear warm-up (a quarter of training when ``warmup_steps`` is 0), then linear decay to 0,
    the triangular schedule of fast CIFAR recipes. ``constant``: 1 after the warm-up.
    """
    if schedule == "onecycle" and warmup_steps == 0:
        warmup_steps = max(1, total_steps // 4)
    if warmup_steps > 0 and step < warmup_steps:
        return (step + 1) / warmup_steps
    if schedule == "constant":
        return 1.0
    remaining = max(1, total_steps - warmup_steps)
    progress = min(1.0, (step - warmup_steps) / remaining)
    if schedule == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * progress))
    return max(0.0, 1.0 - progress)
