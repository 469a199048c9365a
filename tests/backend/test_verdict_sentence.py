"""The verdict as one sentence per arm (issue 16): what to do, the rule, the money a year and its interval,
in the deployment's currency, never in scientific notation; the same words in the API's summary."""

from __future__ import annotations

import re

from markupsafe import escape

from backend.analysis.sentence import verdict_sentence
from backend.analysis.summary import build_summary
from pilot_spec.analysis import Bounded, Roi, Verdict
from pilot_spec.money import USD, Currency
from tests.support.analysis import ACCURACY, finished_pilot, make_pilot, make_run
from tests.support.api import API, open_api

EUR = Currency("EUR", "€")
SCIENTIFIC = re.compile(r"\d[eE][+-]?\d")


def roi(verdict: Verdict, low: float | None, high: float | None, **extra: object) -> Roi:
    value = None if low is None or high is None else (low + high) / 2
    fields: dict[str, object] = {
        "arm": "rblock_s",
        "benefit_per_year": Bounded(value=value, low=low, high=high),
        "extra_cost_per_year": 10.0,
        "net_per_year": Bounded(value=value, low=low, high=high),
        "roi": Bounded(value=None, low=None, high=None),
        "break_even_predictions_per_year": None,
        "payback_days": None,
        "cost_per_accuracy_point": None,
        "verdict": verdict,
        "reason": "set the ROI inputs (predictions per year and the cost of an error) to get a verdict",
        "seeds_needed": None,
        **extra,
    }
    return Roi.model_validate(fields)


def test_adopt_says_the_worst_case_gain_and_the_interval() -> None:
    text = verdict_sentence(roi("adopt", 1234.5, 98765.4), USD, 0.95)
    assert text == (
        "Adopt rblock_s: even in the worst case it gains $1,235 a year "
        "(net per year between $1,235 and $98,765, 95% interval)."
    )


def test_reject_says_the_best_case_loss_with_true_minus_signs() -> None:
    text = verdict_sentence(roi("reject", -5e6, -0.00007538), EUR, 0.95)
    assert text == (
        "Reject rblock_s: even in the best case it loses < €0.01 a year "
        "(net per year between −€5,000,000 and > −€0.01, 95% interval)."
    )
    assert not SCIENTIFIC.search(text)


def test_inconclusive_says_the_range_and_how_many_more_seeds_settle_it() -> None:
    text = verdict_sentence(roi("inconclusive", -2500.0, 4000.0, more_seeds=7, seeds_needed=10), USD, 0.9)
    assert text == (
        "Inconclusive for rblock_s: the net per year lies between −$2,500 and $4,000 (90% interval), so it may "
        "gain or lose; about 7 more seeds per arm would settle it."
    )
    limited = verdict_sentence(
        roi("inconclusive", -1.0, 1.0, test_set_limited=True, test_examples=12000), Currency.parse("CHF"), 0.95
    )
    assert limited.endswith("more seeds cannot settle it: the test set (12,000 examples) is too small.")
    assert "between −CHF 1.00 and CHF 1.00" in limited


def test_inconclusive_without_an_interval_says_what_is_missing() -> None:
    text = verdict_sentence(roi("inconclusive", None, None), USD, 0.95)
    assert text == (
        "Inconclusive for rblock_s: set the ROI inputs (predictions per year and the cost of an error) to get a "
        "verdict."
    )


def test_the_analysis_fills_each_verdicts_sentence_in_the_given_currency() -> None:
    runs = [
        make_run(i * 3 + seed + 1, arm, seed, ACCURACY[arm][seed], hours=0.01 if arm == "none" else 0.02)
        for i, arm in enumerate(("none", "rblock_s"))
        for seed in range(3)
    ]
    roi_inputs = {"predictions_per_year": 1e7, "cost_per_error": 0.5, "retrains_per_year": 12}
    pilot = make_pilot({"none": {}, "rblock_s": {}}, roi=roi_inputs)
    summary = build_summary(pilot, runs, [], prices={"cpu": 0.05}, currency=EUR)
    (only,) = summary.roi
    assert only.verdict == "adopt"
    assert only.sentence == verdict_sentence(only, EUR, summary.confidence)
    assert only.sentence.startswith("Adopt rblock_s: even in the worst case it gains €")


def test_the_api_summary_carries_the_sentence_in_the_currency_setting(sqlite_url: str) -> None:
    with open_api(sqlite_url, currency="GBP:£") as api:
        pilot = finished_pilot(api, roi={"predictions_per_year": 1e6, "cost_per_error": 0.1})
        body = api.client.get(f"{API}/pilots/{pilot['id']}/summary", params={"curves": "none"}).json()
        report = api.client.get(f"{API}/pilots/{pilot['id']}/report.html").text
    (only,) = body["roi"]
    assert only["sentence"].startswith(f"{only['verdict'].capitalize()}")
    assert "£" in only["sentence"] and "$" not in only["sentence"]
    assert f"<strong>{escape(only['sentence'])}</strong>" in report  # the report's verdict section: the same words
