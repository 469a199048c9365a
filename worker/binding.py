"""Which device a worker process trains on, and which queue that device serves.

docs/design.md §5 asks for one task per GPU at a time, so each worker process is bound to exactly one device. The
binding is made with ``CUDA_VISIBLE_DEVICES``: a process that sees one GPU trains on ``cuda`` (its only
GPU). Every GPU worker therefore writes the same ``device`` into a run's configuration, so a run started on
one GPU resumes from its checkpoint on any other (the checkpoint is refused when its configuration differs).

``WORKER_DEVICE`` chooses the device: ``auto`` (the default: the first visible GPU, else the CPU), ``cpu``,
``cuda`` or ``cuda:N`` (the N-th visible GPU; :func:`bind_process` narrows ``CUDA_VISIBLE_DEVICES`` to it,
which must happen before torch initialises CUDA, so ``worker.celery_app`` calls it first thing).
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import MutableMapping
from dataclasses import dataclass

from pilot_spec.device import parse_device

log = logging.getLogger(__name__)

WORKER_DEVICE_ENV = "WORKER_DEVICE"
GPU_QUEUE = "gpu"
CPU_QUEUE = "cpu"


class BindingError(ValueError):
    """``WORKER_DEVICE`` names a device this process cannot have."""


@dataclass(frozen=True)
class Binding:
    """The device of this worker process.

    Attributes:
        device: What training uses (``TrainConfig.device``): ``cpu`` or ``cuda``.
        label: The device's human name, stored with runs and workers (``cpu``, ``cuda:NVIDIA H100 80GB HBM3``).
        queue: The queue this device serves: ``gpu`` or ``cpu``.
    """

    device: str
    label: str
    queue: str


def bind_process(environ: MutableMapping[str, str] | None = None) -> None:
    """Turn ``WORKER_DEVICE=cuda:N`` into ``CUDA_VISIBLE_DEVICES=<the N-th visible GPU>`` and ``WORKER_DEVICE=cuda``.

    Idempotent; a no-op for ``auto``, ``cpu`` and ``cuda``. Call it before anything touches ``torch.cuda``.
    """
    env = os.environ if environ is None else environ
    requested = env.get(WORKER_DEVICE_ENV, "auto").strip() or "auto"
    try:
        index = parse_device(requested, WORKER_DEVICE_ENV).index
    except ValueError as error:
        raise BindingError(str(error)) from None
    if index is None:
        return
    visible = env.get("CUDA_VISIBLE_DEVICES")
    if visible is None or not visible.strip():
        chosen = str(index)  # every GPU is visible: cuda:N is physical GPU N
    else:
        ids = [part.strip() for part in visible.split(",") if part.strip()]
        if index >= len(ids):
            raise BindingError(
                f"{WORKER_DEVICE_ENV}={requested} but CUDA_VISIBLE_DEVICES={visible!r} shows only {len(ids)} GPU(s)"
            )
        chosen = ids[index]
    env["CUDA_VISIBLE_DEVICES"] = chosen
    env[WORKER_DEVICE_ENV] = "cuda"


@functools.cache
def current_binding() -> Binding:
    """This process's device (resolved once; imports torch)."""
    import torch

    from rblock.device import device_name

    requested = os.environ.get(WORKER_DEVICE_ENV, "auto").strip() or "auto"
    has_cuda = torch.cuda.is_available()
    if requested == "cpu" or (requested == "auto" and not has_cuda):
        return Binding(device="cpu", label="cpu", queue=CPU_QUEUE)
    if requested not in ("auto", "cuda"):
        raise BindingError(f"{WORKER_DEVICE_ENV}={requested!r} was not bound: call bind_process() first")
    if not has_cuda:
        raise BindingError(f"{WORKER_DEVICE_ENV}={requested} but this machine has no CUDA GPU")
    if torch.cuda.device_count() > 1:
        # Several visible GPUs: this process trains on the first only (one run per GPU at a time).
        log.warning(
            "this worker sees %d GPUs and uses only the first: start one worker per GPU (--device cuda:N)",
            torch.cuda.device_count(),
        )
    return Binding(device="cuda", label=device_name(torch.device("cuda", 0)), queue=GPU_QUEUE)
