"""Dataset specifications: each dataset's loader, keyed by its name in ``pilot_spec.datasets.DATASETS``.

The description and the parameters (default, help, kind, bounds) of each dataset are ``pilot_spec``'s, which
the API validates pilots against too; this module adds the loader and the library's parameter check. A
pilot's dataset parameters arrive as JSON from the browser, so validation is strict and the messages name
the allowed values: an unknown key, a wrong type or a value out of range raises ``DatasetError`` before any
file is read or image generated. Integers given as integral floats (``5000.0``, as JSON round trips may
produce) are accepted; booleans are never taken for numbers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pilot_spec.datasets import DATASETS
from pilot_spec.fields import Field
from rblock.data.split import DatasetError, RawDataset

# loader(root, download, data_seed, params) -> RawDataset; params are validated and complete.
Loader = Callable[[Path, bool, int, Mapping[str, Any]], RawDataset]


@dataclass(frozen=True)
class DatasetSpec:
    """A registered dataset: its name (one of ``pilot_spec``'s) and its loader."""

    name: str
    loader: Loader

    @property
    def description(self) -> str:
        return DATASETS[self.name].description

    @property
    def params(self) -> Mapping[str, Field]:
        return DATASETS[self.name].params

    def describe(self) -> dict[str, Any]:
        """JSON-serialisable ``{"description", "params": {key: {"default", "help", "type", ...}}}``."""
        return {
            "description": self.description,
            "params": {key: field.catalog_entry() for key, field in self.params.items()},
        }


def _convert(value: Any, field: Field) -> Any:
    """``value`` as JSON would give it for ``field``: an integral float as an integer, a path as text."""
    if field.kind == "integer" and isinstance(value, float) and value.is_integer():
        return int(value)
    if field.kind == "string" and isinstance(value, Path):
        return str(value)
    return value


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
    for key, field in spec.params.items():
        if key not in params or params[key] is None:
            if field.required:
                raise DatasetError(f"dataset {spec.name!r} needs parameter {key!r}: {field.help}")
            out[key] = field.default
            continue
        value = _convert(params[key], field)
        if (problem := field.check(value)) is not None:
            raise DatasetError(f"parameter {key!r} of dataset {spec.name!r} {problem}")
        out[key] = float(value) if field.kind == "number" else value
    return out
