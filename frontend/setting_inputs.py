"""The new-pilot form's training settings, generated from the catalog the API serves (itself built from
``pilot_spec.training.TRAINING``): one input per setting the API accepts, its widget from the setting's
kind and choices, its label, its default and its help in words.

Nothing here is written per setting but the short labels of a few abbreviated names (``lr``, ``bf16``) and
which settings are common enough to show unfolded (issue 16: the common ones first, the rest in a
"More training settings" <details>). A setting added to the table appears in the folded group by itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from pilot_spec.fields import Field
from pilot_spec.training import NOT_IN_PILOT_TRAINING, TRAINING

# Shown unfolded in the Training fieldset, in this order; the model, its width and seeds sit beside them.
COMMON_TRAINING: tuple[str, ...] = ("epochs", "batch_size", "lr")
# Shown next to the model (where to start from belongs with what is trained), not in the Training fieldset.
MODEL_TRAINING: tuple[str, ...] = ("weights",)
# Labels where the setting's name is an abbreviation; every other label is its name in words.
_LABELS = {
    "lr": "Learning rate",
    "lr_schedule": "Learning-rate schedule",
    "weights": "Starting weights",
    "bf16": "bfloat16 autocast",
    "eval_every": "Stability metrics every N epochs",
    "stability_masks": "Stability masks (K)",
}


def plain_number(value: Any) -> str:
    """A value as the form writes it, never in scientific notation (``5e-4`` → ``0.0005``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return format(Decimal(repr(value)), "f")  # repr: the shortest text that reads back as the same float
    return "" if value is None else str(value)


@dataclass(frozen=True)
class SettingInput:
    """One generated input: its form name (``training.lr``), label, widget and the words beside it.

    ``options`` is set for a select: (value, shown) pairs, the first the blank "default" choice, so that a
    blank field means the default as everywhere in the form.
    """

    key: str
    label: str
    input_type: str  # "number", "text" or "select"
    options: tuple[tuple[str, str], ...]
    default_text: str
    help: str
    attrs: tuple[tuple[str, str], ...]

    def selected(self, value: str) -> str:
        """The option to select for a posted or cloned ``value``: the blank one when it is the default."""
        return "" if value == self.default_text or value not in {v for v, _ in self.options} else value


def _label(name: str) -> str:
    return _LABELS.get(name, name.replace("_", " ").capitalize())


def _help(field: Field, default_text: str) -> str:
    allowed = field.describe()
    default = f"Default: {default_text}." if default_text else "Default: blank."
    return f"{field.help}. Allowed: {allowed}. {default}"


def setting_input(prefix: str, name: str, field: Field) -> SettingInput:
    """The input of ``field`` named ``prefix.name``: a select for choices and booleans, else a number or text."""
    default_text = plain_number(field.default)
    attrs: list[tuple[str, str]] = []
    options: tuple[tuple[str, str], ...] = ()
    if field.enum is not None or field.kind == "boolean":
        choices = [plain_number(v) for v in (field.enum or (True, False))]
        first = f"{default_text} (default)" if default_text else "not set (default)"
        options = (("", first), *((choice, choice) for choice in choices if choice != default_text))
        input_type = "select"
    elif field.kind in ("integer", "number"):
        input_type = "number"
        attrs.append(("step", "1" if field.kind == "integer" else "any"))
        for bound in ("minimum", "maximum"):
            if (value := getattr(field, bound)) is not None:
                attrs.append((bound[:3], plain_number(value)))
        if default_text:
            attrs.append(("placeholder", default_text))
    else:
        input_type = "text"
        attrs.append(("autocomplete", "off"))
    return SettingInput(
        key=f"{prefix}.{name}",
        label=_label(name),
        input_type=input_type,
        options=options,
        default_text=default_text,
        help=_help(field, default_text),
        attrs=tuple(attrs),
    )


@dataclass(frozen=True)
class TrainingInputs:
    """The training settings' inputs in their three places on the form."""

    model: tuple[SettingInput, ...]
    common: tuple[SettingInput, ...]
    more: tuple[SettingInput, ...]

    def all(self) -> tuple[SettingInput, ...]:
        return (*self.model, *self.common, *self.more)


def training_inputs(catalog_training: Mapping[str, Mapping[str, Any]]) -> TrainingInputs:
    """Every training setting of ``GET /api/v1/catalog`` (its ``training`` part) that a pilot's ``training``
    takes, as an input, grouped (the seed and width are set elsewhere: ``NOT_IN_PILOT_TRAINING``)."""
    # In the table's order (the catalog may come sorted by name); a setting the table lacks goes last.
    order = {name: index for index, name in enumerate(TRAINING)}
    accepted = [name for name in catalog_training if name not in NOT_IN_PILOT_TRAINING]
    names = sorted(accepted, key=lambda name: order.get(name, len(order)))
    inputs = {name: setting_input("training", name, Field.from_catalog(catalog_training[name])) for name in names}
    placed = (*MODEL_TRAINING, *COMMON_TRAINING)
    return TrainingInputs(
        model=tuple(inputs[name] for name in MODEL_TRAINING if name in inputs),
        common=tuple(inputs[name] for name in COMMON_TRAINING if name in inputs),
        more=tuple(item for name, item in inputs.items() if name not in placed),
    )
