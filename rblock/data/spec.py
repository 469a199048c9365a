"""Dataset specifications: each dataset's description, its parameters (default, help, check) and its loader.

A pilot's dataset parameters arrive as JSON from the browser, so validation is strict and the messages name
the allowed values: an unknown key, a wrong type or a value out of range raises ``DatasetError`` before any
file is read or image generated. Integers given as integral floats (``5000.0``, as JSON round trips may
produce) are accepted; booleans are never taken for numbers.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rblock.data.split import DatasetError, RawDataset

# loader(root, download, data_seed, params) -> RawDataset; params are validated and complete.
Loader = Callable[[Path, bool, int, Mapping[str, Any]], RawDataset]


@dataclass(frozen=True)
class Param:
    """One dataset parameter.

    Attributes:
        default: the value used when the parameter is not given; ``None`` with ``required`` means no default.
        help: one line for the UI.
        kind: ``int``, ``float``, ``bool`` or ``str``.
        check: returns True for an allowed value (after type conversion).
        allowed: the allowed values in words, shown in error messages, e.g. ``"an integer >= 10"``.
        required: the caller must give it (``imagefolder``'s ``path``).
    """

    default: Any
    help: str
    kind: type
    check: Callable[[Any], bool] | None = None
    allowed: str = ""
    required: bool = False
    # Machine-readable bounds for clients that validate without rblock (the API's catalog); None: unbounded.
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[Any, ...] | None = None


@dataclass(frozen=True)
class DatasetSpec:
    """A registered dataset: its name, a one-line description, its parameters and its loader."""

    name: str
    description: str
    loader: Loader
    params: Mapping[str, Param] = field(default_factory=dict)

    def describe(self) -> dict[str, Any]:
        """JSON-serialisable ``{"description", "params": {key: {"default", "help"}}}``."""
        return {
            "description": self.description,
            "params": {key: _describe_param(p) for key, p in self.params.items()},
        }


_KIND_NAMES = {int: "integer", float: "number", bool: "boolean", str: "string"}


def _describe_param(param: Param) -> dict[str, Any]:
    out: dict[str, Any] = {"default": param.default, "help": param.help, "type": _KIND_NAMES[param.kind]}
    if param.allowed:
        out["allowed"] = param.allowed
    if param.required:
        out["required"] = True
    for key in ("minimum", "maximum"):
        if getattr(param, key) is not None:
            out[key] = getattr(param, key)
    if param.choices is not None:
        out["enum"] = list(param.choices)
    return out


def _convert(key: str, value: Any, param: Param) -> Any:
    """``value`` as ``param.kind``, or a DatasetError that names the key and the expected type."""
    expected = param.allowed or f"a {param.kind.__name__}"
    if param.kind is bool:
        if isinstance(value, bool):
            return value
    elif param.kind is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
    elif param.kind is float:
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
            return float(value)
    elif param.kind is str and isinstance(value, str | Path):
        return str(value)
    raise DatasetError(f"parameter {key!r} must be {expected}, got {value!r}")


def validate_params(spec: DatasetSpec, params: Mapping[str, Any]) -> dict[str, Any]:
    """Complete and check the parameters of one dataset.

    Args:
        spec: the dataset's specification.
        params: the caller's parameters (a subset of ``spec.params``).

    Returns:
        Every parameter of ``spec``, converted to its kind, defaults filled in.
    """
    unknown = sorted(set(params) - set(spec.params))
    if unknown:
        allowed = ", ".join(sorted(spec.params)) or "none"
        raise DatasetError(f"unknown parameter(s) {unknown} for dataset {spec.name!r}; allowed: {allowed}")
    out: dict[str, Any] = {}
    for key, param in spec.params.items():
        if key not in params or params[key] is None:
            if param.required:
                raise DatasetError(f"dataset {spec.name!r} needs parameter {key!r}: {param.help}")
            out[key] = param.default
            continue
        value = _convert(key, params[key], param)
        if param.check is not None and not param.check(value):
            raise DatasetError(f"parameter {key!r} of dataset {spec.name!r} must be {param.allowed}, got {value!r}")
        out[key] = value
    return out
