"""Starting weights from a file: a state dict or a checkpoint (timm's, torchvision's or ours), head re-initialised.

A pilot fine-tunes a known network: its weights come from a file (a plain state dict, a training
checkpoint holding it under ``state_dict`` or ``model``, or a ``.safetensors`` file as the hub serves timm's
weights). Files are read with ``torch.load(weights_only=True)``, which unpickles tensors and plain
containers only, never code. When the file's classifier was trained for another class count (1000 for
ImageNet weights), its head tensors are left out and the model keeps the head it was built with, freshly
initialised for the pilot's classes; every other tensor must match the model by name and shape, and a
clear error lists those that do not. A stem trained on RGB is adapted to other input channels as timm
does for its own pretrained weights (``adapt_input_conv``: summed for one channel, repeated and scaled for
more).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import safetensors.torch
import torch
from timm.models import adapt_input_conv
from torch import Tensor, nn

# Keys of a checkpoint that hold the model's state dict, outermost first (timm's train.py writes both).
_CHECKPOINT_KEYS = ("state_dict", "model")
# What DataParallel / DistributedDataParallel put before every key.
_WRAPPER_PREFIX = "module."
_LISTED = 8  # keys named per kind in an error


@dataclass(frozen=True)
class LoadedWeights:
    """What :func:`load_weights` did, for the run's log."""

    path: str
    tensors: int  # tensors copied from the file
    head_reinitialised: bool  # the file's head had another shape: the model kept its own, fresh one
    stem_adapted: bool  # the first convolution was adapted to the model's input channels

    def note(self) -> str:
        head = "head re-initialised (the file's classifier has another class count)" if self.head_reinitialised else ""
        stem = "stem adapted to the input channels" if self.stem_adapted else ""
        extras = "; ".join(part for part in (head, stem) if part)
        return f"weights from {self.path}: {self.tensors} tensors loaded" + (f"; {extras}" if extras else "")


def _fail(path: str | Path, problem: str) -> ValueError:
    return ValueError(f"weights {str(path)!r}: {problem}")


def read_state_dict(path: str | Path) -> dict[str, Tensor]:
    """The state dict a weights file holds (unwrapped from a checkpoint, without a ``module.`` prefix).

    Raises:
        ValueError: Naming the file, when it is missing, unreadable or holds no mapping of names to tensors.
    """
    file = Path(path)
    if not file.is_file():
        raise _fail(path, "no such file: give the path of a state dict or a checkpoint (.pt, .pth, .safetensors)")
    payload: Any
    try:
        if file.suffix == ".safetensors":
            payload = safetensors.torch.load_file(str(file), device="cpu")
        else:
            payload = torch.load(file, map_location="cpu", weights_only=True)
    except Exception as error:  # anything a file's bytes can make a loader raise: unpickling, zip, I/O
        raise _fail(path, f"not a readable PyTorch or safetensors file ({type(error).__name__})") from None
    for key in _CHECKPOINT_KEYS:
        if isinstance(payload, dict) and isinstance(payload.get(key), dict):
            payload = payload[key]
    if not (
        isinstance(payload, dict)
        and payload
        and all(isinstance(k, str) and isinstance(v, Tensor) for k, v in payload.items())
    ):
        raise _fail(
            path,
            "holds no state dict (a mapping of parameter names to tensors, alone or under 'state_dict' or 'model')",
        )
    state: dict[str, Tensor] = payload
    if all(k.startswith(_WRAPPER_PREFIX) for k in state):
        state = {k[len(_WRAPPER_PREFIX) :]: v for k, v in state.items()}
    return state


def head_prefixes(model: nn.Module) -> list[str]:
    """The module names of a model's classifier: timm's ``get_classifier()``, else the built-ins' ``fc``."""
    get_classifier = getattr(model, "get_classifier", None)
    heads = get_classifier() if callable(get_classifier) else model.get_submodule("fc")
    head_modules = list(heads) if isinstance(heads, tuple | list) else [heads]
    return [name for name, module in model.named_modules() if any(module is head for head in head_modules)]


def _listed(kind: str, keys: list[str]) -> str:
    shown = ", ".join(keys[:_LISTED]) + (f" and {len(keys) - _LISTED} more" if len(keys) > _LISTED else "")
    return f"{kind} ({len(keys)}): {shown}"


def load_weights(model: nn.Module, path: str | Path, *, stem: str | None = None) -> LoadedWeights:
    """Copy a weights file into ``model``: every tensor by name, the head only when its shape fits.

    Args:
        model: The model, built with its own head for the pilot's classes.
        path: A state dict or checkpoint file (see the module docstring).
        stem: Module name of the first convolution, adapted when the file has other input channels.

    Raises:
        ValueError: Naming the file, when it cannot be read, or listing the model's tensors the file lacks,
            the file's tensors the model lacks, and those whose shapes differ (outside the head).
    """
    state = read_state_dict(path)
    own = model.state_dict()
    heads = head_prefixes(model)

    def in_head(key: str) -> bool:
        return any(key.startswith(f"{head}.") for head in heads)

    head_differs = any(in_head(k) and k in own and own[k].shape != v.shape for k, v in state.items())
    if head_differs:
        state = {k: v for k, v in state.items() if not in_head(k)}
    stem_key = f"{stem}.weight" if stem else None
    stem_adapted = False
    if stem_key in state and stem_key in own and state[stem_key].shape != own[stem_key].shape:
        wanted, given = own[stem_key].shape, state[stem_key].shape
        if wanted[0] == given[0] and wanted[2:] == given[2:]:
            state[stem_key] = adapt_input_conv(wanted[1], state[stem_key])
            stem_adapted = True

    # BatchNorm's step counters are not weights: an older file without them loads all the same.
    missing = [k for k in own if k not in state and not (head_differs and in_head(k))]
    missing = [k for k in missing if not k.endswith("num_batches_tracked")]
    unexpected = [k for k in state if k not in own]
    mismatched = [
        f"{k} {tuple(v.shape)} vs {tuple(own[k].shape)}"
        for k, v in state.items()
        if k in own and v.shape != own[k].shape
    ]
    if missing or unexpected or mismatched:
        problems = [
            _listed(kind, keys)
            for kind, keys in (
                ("missing from the file", missing),
                ("not in the model", unexpected),
                ("shapes differ, file vs model", mismatched),
            )
            if keys
        ]
        raise _fail(path, "does not fit the model: " + "; ".join(problems))
    model.load_state_dict(state, strict=False)
    return LoadedWeights(str(path), len(state), head_differs, stem_adapted)
