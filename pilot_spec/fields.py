"""One parameter of a pilot: its kind, bounds, choices, default and help, and everything derived from them.

Every setting a pilot can make (an arm's ``drop_prob``, a dataset's ``n_train``, the training ``epochs``) is
one :class:`Field`. From it come the check both layers run (:meth:`Field.check`: the API before a pilot is
queued, the library before a run trains), the words that say what is allowed (:meth:`Field.describe`), the
catalog entry the pages read (:meth:`Field.catalog_entry`) and a JSON Schema (:meth:`Field.json_schema`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pilot_spec.text import clean_text, show

Kind = Literal["integer", "number", "boolean", "string"]

# Integers beyond 64 bits are nonsense for every parameter here, and would overflow the estimate's floats.
MAX_INT = 2**63 - 1

# (catalog key, JSON Schema key, comparison words) of each bound, in the order the words list them.
_BOUNDS: tuple[tuple[str, str, str], ...] = (
    ("minimum", "minimum", ">="),
    ("exclusive_minimum", "exclusiveMinimum", ">"),
    ("maximum", "maximum", "<="),
    ("exclusive_maximum", "exclusiveMaximum", "<"),
)
_KIND_WORDS = {"boolean": "true or false", "integer": "an integer", "number": "a number"}


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a pilot's settings: the field's path (``drop_prob``, ``training.epochs``) and why."""

    field: str
    message: str


@dataclass(frozen=True)
class Field:
    """One parameter.

    Attributes:
        kind: ``integer``, ``number``, ``boolean`` or ``string``; booleans are never numbers.
        default: The value when a pilot does not set it (``None`` with ``required``: no default).
        help: One line for the pages.
        minimum, maximum, exclusive_minimum, exclusive_maximum: Bounds of a number, each optional.
        enum: The only values allowed (compared by type and value, so ``1.0`` is not ``1``).
        nullable: ``None`` is allowed (it means "the default of something else", e.g. the model's width).
        required: A pilot must set it (``imagefolder``'s ``path``).
        allowed: Words shown instead of the derived ones where those read worse in a form label
            (``"1..64"``); the bounds above remain the rule.
    """

    kind: Kind
    default: Any = None
    help: str = ""
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: float | None = None
    exclusive_maximum: float | None = None
    enum: tuple[Any, ...] | None = None
    nullable: bool = False
    required: bool = False
    allowed: str | None = None

    def bounds(self) -> dict[str, float]:
        """The bounds that are set, by their catalog name (``minimum``, ``exclusive_maximum``, ...)."""
        return {key: bound for key, _, _ in _BOUNDS if (bound := getattr(self, key)) is not None}

    def ok(self, value: Any) -> bool:
        """Whether ``value`` is allowed: its kind, choices and bounds, a finite number, a 64-bit integer."""
        if value is None:
            return self.nullable
        if self.enum is not None and not any(type(value) is type(v) and value == v for v in self.enum):
            return False
        if self.kind == "boolean":
            return isinstance(value, bool)
        if self.kind == "string":
            try:
                return isinstance(value, str) and clean_text(value) is value
            except ValueError:
                return False
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        if self.kind == "integer" and not isinstance(value, int):
            return False
        if isinstance(value, float) and not math.isfinite(value):
            return False
        if isinstance(value, int) and abs(value) > MAX_INT:
            return False
        return all(_within(key, value, bound) for key, bound in self.bounds().items())

    def check(self, value: Any) -> str | None:
        """What is wrong with ``value`` (``"must be an integer >= 1 and <= 64 (got 100)"``), or None."""
        if self.ok(value):
            return None
        too_long = isinstance(value, int) and not isinstance(value, bool) and value > MAX_INT
        return f"must be {self.describe()}{' and at most 2^63-1' if too_long else ''} (got {show(value)})"

    def describe(self) -> str:
        """The allowed values in words: ``a number >= 0 and < 1``, ``one of linear, constant``."""
        if self.allowed is not None:
            return self.allowed
        if self.enum is not None:
            text = "one of " + ", ".join(v if isinstance(v, str) else json.dumps(v) for v in self.enum)
        else:
            text = _KIND_WORDS.get(self.kind, f"a {self.kind}")
            words = [f"{op} {_number(bound)}" for key, _, op in _BOUNDS if (bound := getattr(self, key)) is not None]
            if words:
                text += " " + " and ".join(words)
        return text + (" or null" if self.nullable else "")

    def catalog_entry(self) -> dict[str, Any]:
        """The field as ``GET /api/v1/catalog`` lists it: type, default, help, and what is set of the rest."""
        entry: dict[str, Any] = {"type": self.kind, "default": self.default, "help": self.help, **self.bounds()}
        if self.enum is not None:
            entry["enum"] = list(self.enum)
        if self.allowed is not None:
            entry["allowed"] = self.allowed
        if self.nullable:
            entry["nullable"] = True
        if self.required:
            entry["required"] = True
        return entry

    def json_schema(self) -> dict[str, Any]:
        """The field as a JSON Schema (draft 2020-12) for clients that validate on their own."""
        schema: dict[str, Any] = {"type": [self.kind, "null"] if self.nullable else self.kind}
        schema.update({name: bound for key, name, _ in _BOUNDS if (bound := getattr(self, key)) is not None})
        if self.kind == "integer":
            schema.setdefault("maximum", MAX_INT)
            schema.setdefault("minimum", -MAX_INT)
        if self.enum is not None:
            schema["enum"] = [*self.enum, None] if self.nullable else list(self.enum)
        if not self.required:
            schema["default"] = self.default
        if self.help:
            schema["description"] = self.help
        return schema

    @classmethod
    def from_catalog(cls, entry: Mapping[str, Any]) -> Field:
        """The field a catalog entry describes (the inverse of :meth:`catalog_entry`)."""
        enum = entry.get("enum")
        return cls(
            kind=entry.get("type", "string"),
            default=entry.get("default"),
            help=entry.get("help", ""),
            enum=None if enum is None else tuple(enum),
            nullable=bool(entry.get("nullable")),
            required=bool(entry.get("required")),
            allowed=entry.get("allowed"),
            **{key: entry[key] for key, _, _ in _BOUNDS if key in entry},
        )


def _within(key: str, value: float, bound: float) -> bool:
    if key == "minimum":
        return value >= bound
    if key == "maximum":
        return value <= bound
    if key == "exclusive_minimum":
        return value > bound
    return value < bound


def _number(bound: float) -> str:
    return str(int(bound)) if isinstance(bound, float) and bound.is_integer() else str(bound)


def defaults(fields: Mapping[str, Field]) -> dict[str, Any]:
    """Each field's default, by name."""
    return {name: field.default for name, field in fields.items()}
