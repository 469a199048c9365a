"""ROI of adopting an arm instead of the baseline, with the bounds its accuracy CI gives (DESIGN §4).

Per year, from the manager's inputs stored with the pilot:

* benefit = Δaccuracy × predictions per year × cost of one wrong prediction
  + Δchurn × predictions per year × cost of one changed prediction (churn: the share of answers that change
  between two retrains; Δ = baseline minus arm, so fewer changes is a benefit);
* extra cost = Δ(device-hours per training) × price per device-hour × retrains per year;
* net = benefit − extra cost; ROI = net / extra cost; break-even volume = the predictions per year at which
  net is 0; payback = days of benefit that pay for one training's extra cost.

The verdict: **adopt** when the lower bound of net is positive, **reject** when its upper bound is negative,
else **inconclusive**, with the seeds per arm that would settle it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

ROI_DEFAULTS: dict[str, float] = {
    "predictions_per_year": 0.0,
    "cost_per_error": 0.0,
    "cost_per_changed_prediction": 0.0,
    "retrains_per_year": 0.0,
}


@dataclass(frozen=True)
class Bounded:
    """A value with the bounds the accuracy CI gives (None where undefined)."""

    value: float | None
    low: float | None
    high: float | None


@dataclass(frozen=True)
class Roi:
    arm: str
    benefit_per_year: Bounded
    extra_cost_per_year: float
    net_per_year: Bounded
    roi: Bounded
    break_even_predictions_per_year: float | None
    payback_days: float | None
    cost_per_accuracy_point: float | None
    verdict: str  # adopt | reject | inconclusive
    reason: str
    seeds_needed: int | None


def _benefit(delta_acc: float | None, delta_churn: float, inputs: dict[str, float]) -> float | None:
    if delta_acc is None:
        return None
    volume = inputs["predictions_per_year"]
    return delta_acc * volume * inputs["cost_per_error"] + delta_churn * volume * inputs["cost_per_changed_prediction"]


def compute_roi(
    *,
    arm: str,
    delta_acc: float | None,
    delta_acc_ci: tuple[float, float] | None,
    delta_churn: float | None,
    extra_device_hours_per_training: float,
    price_per_device_hour: float,
    inputs: dict[str, Any],
    seeds_needed: int | None,
    seeds_now: int,
) -> Roi:
    """ROI of one arm against the baseline; see the module docstring for the formulas."""
    values = {**ROI_DEFAULTS, **{k: float(v) for k, v in inputs.items() if k in ROI_DEFAULTS and v is not None}}
    churn = delta_churn or 0.0
    extra_per_training = extra_device_hours_per_training * price_per_device_hour
    extra = extra_per_training * values["retrains_per_year"]
    benefit = _benefit(delta_acc, churn, values)
    low_acc, high_acc = delta_acc_ci if delta_acc_ci is not None else (None, None)
    benefit_low, benefit_high = _benefit(low_acc, churn, values), _benefit(high_acc, churn, values)

    def net(b: float | None) -> float | None:
        return None if b is None else b - extra

    def ratio(b: float | None) -> float | None:
        return None if b is None or extra <= 0 else (b - extra) / extra

    per_prediction = (
        None
        if delta_acc is None
        else delta_acc * values["cost_per_error"] + churn * values["cost_per_changed_prediction"]
    )
    break_even = extra / per_prediction if per_prediction and per_prediction > 0 and extra > 0 else None
    payback = extra_per_training / (benefit / 365.0) if benefit and benefit > 0 and extra_per_training > 0 else None
    per_point = extra_per_training / (delta_acc * 100) if delta_acc and delta_acc > 0 else None
    net_value, net_low, net_high = net(benefit), net(benefit_low), net(benefit_high)

    if delta_acc is None:
        verdict, reason = "inconclusive", "no finished runs to compare"
    elif values["predictions_per_year"] == 0 or (
        values["cost_per_error"] == 0 and values["cost_per_changed_prediction"] == 0
    ):
        verdict = "inconclusive"
        reason = "set the ROI inputs (predictions per year and the cost of an error) to get a verdict"
    elif net_low is None or net_high is None:
        verdict = "inconclusive"
        reason = "one seed per arm gives no confidence interval: run at least 3 seeds per arm"
    elif net_low > 0:
        verdict, reason = "adopt", "even the lower bound of the yearly net benefit is positive"
    elif net_high < 0:
        verdict, reason = "reject", "even the upper bound of the yearly net benefit is negative"
    else:
        verdict = "inconclusive"
        more = None if seeds_needed is None else max(0, seeds_needed - seeds_now)
        reason = (
            f"the net benefit's interval spans zero: run {more} more seeds per arm"
            if more
            else "the net benefit's interval spans zero and the observed difference is too small to plan for"
        )
    return Roi(
        arm=arm,
        benefit_per_year=Bounded(benefit, benefit_low, benefit_high),
        extra_cost_per_year=extra,
        net_per_year=Bounded(net_value, net_low, net_high),
        roi=Bounded(ratio(benefit), ratio(benefit_low), ratio(benefit_high)),
        break_even_predictions_per_year=break_even,
        payback_days=payback if payback is None or math.isfinite(payback) else None,
        cost_per_accuracy_point=per_point,
        verdict=verdict,
        reason=reason,
        seeds_needed=seeds_needed,
    )
