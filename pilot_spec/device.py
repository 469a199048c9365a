"""The device grammar: what a run or a worker may be asked to train on, and the kind of a device label.

A request is ``auto`` (the first GPU when there is one, else the CPU), ``cpu``, ``cuda`` (the one visible
GPU) or ``cuda:N`` (the N-th visible GPU). A device *label*, stored with runs and workers, is the kind and
the hardware's name, e.g. ``cuda:NVIDIA H100 80GB HBM3`` or ``cpu``; prices and cost history group by its
kind. Pure Python: the worker checks ``WORKER_DEVICE`` before torch loads, and the API checks a run's
configuration without torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

DEVICE_GRAMMAR = "auto, cpu, cuda or cuda:N"
DeviceKind = Literal["auto", "cpu", "cuda"]
_KINDS: tuple[DeviceKind, ...] = ("auto", "cpu", "cuda")


@dataclass(frozen=True)
class DeviceRequest:
    """A parsed request: its kind and, for ``cuda:N``, the index N among the visible GPUs."""

    kind: DeviceKind
    index: int | None = None


def parse_device(value: object, name: str = "device") -> DeviceRequest:
    """Parse a device request; ``ValueError`` naming ``name`` and the grammar when it is not one."""
    if isinstance(value, str):
        for kind in _KINDS:
            if value == kind:
                return DeviceRequest(kind)
        prefix, _, index = value.partition(":")
        # ASCII digits only: str.isdigit() also takes "²", which int() refuses.
        if prefix == "cuda" and index.isascii() and index.isdigit():
            return DeviceRequest("cuda", int(index))
    raise ValueError(f"{name} must be {DEVICE_GRAMMAR} (got {value!r})")


def is_device(value: object) -> bool:
    """Whether ``value`` is a device request (:func:`parse_device` accepts it)."""
    try:
        parse_device(value)
    except ValueError:
        return False
    return True


def device_kind(label: str) -> str:
    """The kind of a device label: ``cuda`` for ``cuda:NVIDIA H100 80GB HBM3``, ``cpu`` for ``cpu``."""
    return label.partition(":")[0]
