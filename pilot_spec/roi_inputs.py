"""A pilot's ROI inputs as a reader sees them: the words for each and whether it is money or a count.

The form's labels and the reports' ROI table name the same five inputs (docs/design.md §4); the words live
here so that both say "Cost of one wrong prediction" for ``cost_per_error`` (issue 16).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RoiInput:
    """One ROI input: its ``key`` in the pilot's ``roi`` object, its ``label``, and whether it is ``money``."""

    key: str
    label: str
    money: bool


ROI_INPUTS: tuple[RoiInput, ...] = (
    RoiInput("predictions_per_year", "Predictions per year", money=False),
    RoiInput("cost_per_error", "Cost of one wrong prediction", money=True),
    RoiInput("cost_per_changed_prediction", "Cost of one changed prediction", money=True),
    RoiInput("retrains_per_year", "Retrains per year", money=False),
    RoiInput("price_per_device_hour", "Price per device-hour", money=True),
)
