"""The baseline of the training benchmarks: a plain hand-written PyTorch loop with a DataLoader.

It trains the same model on the same tensors with the same batch size, optimizer and plain cross-entropy,
and measures training samples per second, so that ``train_run``'s own overhead (metrics, drop-rate
bookkeeping, checkpoints) shows as a ratio.
"""

from __future__ import annotations

import time

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


def plain_loop_samples_per_second(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    batch_size: int,
    epochs: int,
    device: torch.device,
    bf16: bool = False,
    channels_last: bool = False,
) -> list[float]:
    """Train ``model`` for ``epochs`` epochs with a DataLoader; return samples/s of each epoch."""
    model.to(device).train()
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    loader = DataLoader(
        TensorDataset(x, y), batch_size=batch_size, shuffle=True, drop_last=True, pin_memory=device.type == "cuda"
    )
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True, weight_decay=5e-4)
    rates = []
    for _ in range(epochs):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        seen = 0
        for xb, yb in loader:
            xb = xb.to(device, non_blocking=True)
            yb = yb.to(device, non_blocking=True)
            if channels_last:
                xb = xb.contiguous(memory_format=torch.channels_last)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
                loss = F.cross_entropy(model(xb).float(), yb)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            seen += xb.shape[0]
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        rates.append(seen / (time.perf_counter() - start))
    return rates
