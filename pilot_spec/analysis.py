"""A pilot's analysis as typed models: what the summary endpoint answers and the figures, pages and reports read.

``backend.analysis`` builds a :class:`PilotAnalysis` (``analyse_pilot``); the API sends it as JSON, the pages
parse that JSON back into it. Field names are the JSON keys, in the order the JSON holds them. Numbers that
can be undefined (one seed: no interval; no labels: no test-set part) are ``None``, never NaN or infinity:
JSON has neither, so a non-finite float becomes ``None`` when a model is made (``Number``).

Pure pydantic, no numpy: the pages import these models too.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict

from pilot_spec.money import Currency


def _finite_or_none(value: Any) -> Any:
    """NaN and infinities to None: an undefined statistic, as JSON can say it."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


Number = Annotated[float | None, BeforeValidator(_finite_or_none)]
Interval = tuple[Number, Number]
Verdict = Literal["adopt", "reject", "inconclusive"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class Describe(_Frozen):
    """n, mean, std (n − 1), standard error and the t-interval of a sample (None where undefined)."""

    n: int
    mean: Number
    std: Number
    sem: Number
    ci_low: Number
    ci_high: Number


class ArmResult(_Frozen):
    """One arm over its finished seeds: accuracy, cost, output stability."""

    arm: str
    regularizer: str
    seeds: list[int]
    test_acc: Describe
    error: Number
    device_hours: Describe
    cost: Number  # mean money per training run
    samples_per_second: Number
    stability: dict[str, Number]  # the final metrics of backend.analysis.results.STABILITY_KEYS, mean over seeds
    seed_churn: Number
    acc_std: Number
    device_kinds: list[str]


class CurvePoint(_Frozen):
    """One epoch of one metric of one arm, over its seeds."""

    epoch: int
    n: int
    mean: float
    std: Number
    sem: Number
    ci_low: Number
    ci_high: Number


# Per arm, then metric key: the seed aggregate at every epoch.
Curves = dict[str, dict[str, list[CurvePoint]]]


class Comparison(_Frozen):
    """One arm against the baseline. ``delta_acc_ci`` is the interval on the population (seeds and, where
    the runs kept their labels, the finite test set); ``p_value`` is the t test dual to it (it decides, with
    the interval); ``welch_p`` and ``paired_p`` are the seed-only textbook tests, kept for reference."""

    arm: str
    baseline: str
    delta_acc: Number
    delta_acc_ci: Interval | None
    welch_p: Number
    paired_p: Number
    p_value: Number  # dual to delta_acc_ci: p < 1 - confidence exactly when it excludes 0
    p_holm: Number
    cohens_d: Number
    seeds_needed: int | None
    note: str = ""
    paired: bool = False
    acc_seed_half: Number = None  # the interval's parts: ± this much from the seeds ...
    acc_test_half: Number = None  # ... and ± this much from the test set's size (None: no labels)
    test_examples: int | None = None
    delta_churn: Number = None  # churn(baseline) - churn(arm): positive when the arm changes fewer answers
    delta_churn_ci: Interval | None = None
    churn_seed_half: Number = None
    churn_test_half: Number = None
    churn_p: Number = None
    test_set_limited: bool = False  # more seeds cannot settle it: the test-set part alone is too wide


class Bounded(_Frozen):
    """A value with the bounds of its interval (None where undefined)."""

    value: Number
    low: Number
    high: Number


class Roi(_Frozen):
    """The yearly money of adopting one arm instead of the baseline, and the verdict it gives."""

    arm: str
    benefit_per_year: Bounded
    extra_cost_per_year: Number
    net_per_year: Bounded
    roi: Bounded
    break_even_predictions_per_year: Number
    payback_days: Number
    cost_per_accuracy_point: Number
    verdict: Verdict
    reason: str
    seeds_needed: int | None  # seeds per arm at which the net interval would exclude 0 (80% power)
    more_seeds: int | None = None  # inconclusive: seeds to add per arm (seeds_needed - seeds now)
    test_set_limited: bool = False  # inconclusive, and more seeds cannot settle it
    net_seed_half: Number = None  # the net interval's parts: ± from the seeds ...
    net_test_half: Number = None  # ... and ± from the test set's size (None: no labels)
    test_examples: int | None = None
    delta_churn: Number = None
    # The verdict in one sentence, money in the deployment's currency (backend.analysis.sentence): what the
    # page's verdict card, the reports and the API's summary all say, written once.
    sentence: str = ""


class SequentialLook(_Frozen):
    """One look of a sequential pilot, as the reconciler recorded it (``backend.rounds``)."""

    look: int
    seeds: int
    confidence: float
    settled: bool
    verdicts: dict[str, str]
    at: str


class SequentialSection(_Frozen):
    """A sequential pilot's plan, this look and its confidence, the rule that stopped it, the device-hours
    used and saved against running all ``max_seeds``."""

    max_seeds: int
    round: int
    looks: int
    look: int
    confidence: float
    alpha: float
    spending: str
    seeds: int
    stopped: bool
    rule: str | None
    device_hours_used: float
    device_hours_saved: Number
    history: list[SequentialLook]


RoiInputValues = dict[str, float | int | None]


class PilotAnalysis(_Frozen):
    """The whole analysis of one pilot: per-arm results, comparisons with the baseline, ROI and verdicts,
    the Pareto front, curves, warnings; ``sequential`` only for a sequential pilot (absent from the JSON
    otherwise: :meth:`to_jsonable`). Every interval and verdict is at ``confidence``."""

    pilot_id: int
    name: str
    baseline_arm: str
    provisional: bool  # runs are still queued or running: the numbers will change
    confidence: float
    arms: list[ArmResult]
    comparisons: list[Comparison]
    roi: list[Roi]
    roi_inputs: RoiInputValues
    pareto_front: list[str]
    curves: Curves
    warnings: list[str]
    sequential: SequentialSection | None = None
    created_by: str | None = None  # the pages offer changes (extend) to its owner only

    def arm(self, name: str) -> ArmResult | None:
        """The result of the arm called ``name``, if the pilot has it."""
        return next((a for a in self.arms if a.arm == name), None)

    def comparison(self, arm: str) -> Comparison | None:
        """``arm`` against the baseline (None for the baseline itself)."""
        return next((c for c in self.comparisons if c.arm == arm), None)

    def to_jsonable(self) -> dict[str, Any]:
        """The analysis as plain JSON values (what the endpoint sends, and a decision's snapshot)."""
        # A fixed-design pilot's JSON has no "sequential" key at all (not null): the API's shape since it began.
        out: dict[str, Any] = self.model_dump(mode="json", exclude={"sequential"} if self.sequential is None else None)
        return out


# --- Pilots side by side (issue 16: GET /api/v1/compare, the /compare page) --------------------------------


class CurrencyOut(_Frozen):
    """The currency every amount is in (the ``CURRENCY`` setting)."""

    code: str
    symbol: str

    def currency(self) -> Currency:
        """As ``pilot_spec.money`` formats amounts with it."""
        return Currency(code=self.code, symbol=self.symbol)


class ComparedArm(_Frozen):
    """One arm of a compared pilot: final test accuracy (mean and interval over seeds), cost per training run
    (money and device-hours), output stability, and its verdict against the pilot's baseline (None for the
    baseline itself). Each pilot's own ``confidence`` is its intervals' level."""

    arm: str
    regularizer: str
    baseline: bool
    seeds: int  # finished seeds the numbers are over
    test_acc: Number
    test_acc_low: Number
    test_acc_high: Number
    device_hours: Number  # mean per training run
    cost: Number  # mean money per training run
    flip_rate: Number
    ece: Number
    seed_churn: Number
    inconsistency_kl: Number
    verdict: Verdict | None = None
    reason: str | None = None
    net_per_year: Bounded | None = None
    sentence: str | None = None  # the verdict in one sentence, as on the pilot page (Roi.sentence)


class ComparedPilot(_Frozen):
    """One pilot of a comparison, from its cached analysis and its progress."""

    id: int
    name: str
    dataset: str
    model: str
    status: str
    baseline_arm: str
    provisional: bool  # runs are still queued or running: the numbers will change
    confidence: float
    arms: list[ComparedArm]


class PilotComparison(_Frozen):
    """Pilots side by side, in the order they were asked for; amounts in ``currency``."""

    currency: CurrencyOut
    pilots: list[ComparedPilot]
