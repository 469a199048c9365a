"""ROI of adopting an arm instead of the baseline, with the bounds its calibrated interval gives (docs/design.md §4).

Per year, from the manager's inputs stored with the pilot:

* benefit = Δaccuracy × predictions per year × cost of one wrong prediction
  + Δchurn × predictions per year × cost of one changed prediction (churn: the share of answers that change
  between two retrains; Δ = baseline minus arm, so fewer changes is a benefit);
* extra cost = Δ(device-hours per training) × price per device-hour × retrains per year;
* net = benefit − extra cost; ROI = net / extra cost; break-even volume = the predictions per year at which
  net is 0; payback = days of benefit that pay for one training's extra cost.

The benefit is linear in Δaccuracy and Δchurn, so its interval comes from one model of both uncertainties
(``backend.analysis.variance``): the seed part jackknifed over seeds jointly (paired seeds left out of both
arms at once, which carries the correlation between accuracy and churn), the test-set part from the
per-example combined score. The extra cost is taken as measured.

**The rule**: **adopt** when the whole net-benefit interval is above 0, **reject** when it is below 0, else
**inconclusive**, with the seeds per arm that would settle it (the planner of the same model), or the
statement that more seeds cannot, when the finite test set alone leaves the interval too wide. When changed
predictions are not priced and the arm costs at least as much to train, adopt implies that the accuracy
difference is significant at the same level (p < 1 − confidence): the net interval is then the accuracy
interval scaled and shifted.
"""

from __future__ import annotations

import math
from typing import Any

from backend.analysis import stats
from backend.analysis.variance import Contrast
from pilot_spec.analysis import Bounded, Roi, Verdict

ROI_DEFAULTS: dict[str, float] = {
    "predictions_per_year": 0.0,
    "cost_per_error": 0.0,
    "cost_per_changed_prediction": 0.0,
    "retrains_per_year": 0.0,
}


def _weights(values: dict[str, float]) -> tuple[float, float]:
    """Money per year of one unit of Δaccuracy and of Δchurn."""
    volume = values["predictions_per_year"]
    return volume * values["cost_per_error"], volume * values["cost_per_changed_prediction"]


def compute_roi(
    *,
    arm: str,
    delta_acc: float | None,
    delta_churn: float | None,
    contrast: Contrast | None,
    extra_device_hours_per_training: float,
    price_per_device_hour: float,
    inputs: dict[str, Any],
    seeds_now: int,
    confidence: float = stats.CONFIDENCE,
) -> Roi:
    """ROI of one arm against the baseline; see the module docstring for the formulas and the rule."""
    values = {**ROI_DEFAULTS, **{k: float(v) for k, v in inputs.items() if k in ROI_DEFAULTS and v is not None}}
    churn = delta_churn or 0.0
    w_acc, w_churn = _weights(values)
    extra_per_training = extra_device_hours_per_training * price_per_device_hour
    extra = extra_per_training * values["retrains_per_year"]
    benefit = None if delta_acc is None else w_acc * delta_acc + w_churn * churn
    parts = None if contrast is None or (w_acc == 0 and w_churn == 0) else contrast.parts(w_acc, w_churn)
    benefit_low, benefit_high = (None, None) if parts is None else parts.interval(confidence)
    net_parts = None if parts is None else parts.shifted(-extra)
    plan = stats.SeedPlan(None)
    if net_parts is not None:
        plan = stats.seeds_needed(net_parts, seeds_now, confidence=confidence)

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

    more = None
    verdict: Verdict
    if delta_acc is None:
        verdict, reason = "inconclusive", "no finished runs to compare"
    elif values["predictions_per_year"] == 0 or (
        values["cost_per_error"] == 0 and values["cost_per_changed_prediction"] == 0
    ):
        verdict = "inconclusive"
        reason = "set the ROI inputs (predictions per year and the cost of an error) to get a verdict"
    elif net_low is None or net_high is None:
        verdict = "inconclusive"
        reason = (
            "pricing changed predictions needs an interval of the churn difference: run at least 3 seeds per arm"
            if w_churn and contrast is not None and contrast.parts(1.0, 0.0) is not None
            else "one seed per arm gives no confidence interval: run at least 3 seeds per arm"
        )
    elif net_low > 0:
        verdict, reason = "adopt", "even the lower bound of the yearly net benefit is positive"
    elif net_high < 0:
        verdict, reason = "reject", "even the upper bound of the yearly net benefit is negative"
    else:
        verdict = "inconclusive"
        more = None if plan.seeds is None else max(1, plan.seeds - seeds_now)
        if plan.test_set_limited:
            examples = net_parts.test_examples if net_parts is not None else 0
            reason = f"more seeds cannot settle this: the test set ({examples} examples) is too small"
        elif more:
            reason = f"the net benefit's interval spans zero: run {more} more seeds per arm"
        else:
            reason = "the net benefit's interval spans zero and the observed difference is too small to plan for"
    return Roi(
        arm=arm,
        benefit_per_year=Bounded(value=benefit, low=benefit_low, high=benefit_high),
        extra_cost_per_year=extra,
        net_per_year=Bounded(value=net_value, low=net_low, high=net_high),
        roi=Bounded(value=ratio(benefit), low=ratio(benefit_low), high=ratio(benefit_high)),
        break_even_predictions_per_year=break_even,
        payback_days=payback if payback is None or math.isfinite(payback) else None,
        cost_per_accuracy_point=per_point,
        verdict=verdict,
        reason=reason,
        seeds_needed=plan.seeds,
        more_seeds=more,
        test_set_limited=plan.test_set_limited and verdict == "inconclusive",
        net_seed_half=None if parts is None else parts.seed_half_width(confidence),
        net_test_half=None if parts is None else parts.test_half_width(confidence),
        test_examples=None if parts is None or not parts.test_examples else parts.test_examples,
        delta_churn=delta_churn,
    )
