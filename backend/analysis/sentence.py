"""The verdict of one arm as one sentence a manager can repeat: what to do, the rule that decided it, the money
per year and its interval (issue 16, docs/design.md §4).

Built once here, into ``Roi.sentence``, so that the pilot page, the HTML and PDF reports and the API's summary
say the same words. Money is written by ``pilot_spec.money`` in the deployment's ``CURRENCY``: a symbol,
thousands separators, a true minus sign, never scientific notation.
"""

from __future__ import annotations

from pilot_spec.analysis import Roi
from pilot_spec.money import Currency, format_money, format_number


def _interval(roi: Roi, currency: Currency, level: str) -> str:
    low, high = roi.net_per_year.low, roi.net_per_year.high
    return f"net per year between {format_money(low, currency)} and {format_money(high, currency)}, {level} interval"


def _inconclusive_tail(roi: Roi) -> str:
    """What would settle an inconclusive verdict whose interval is known."""
    if roi.test_set_limited:
        size = f" ({format_number(roi.test_examples, 0)} examples)" if roi.test_examples else ""
        return f"more seeds cannot settle it: the test set{size} is too small"
    if roi.more_seeds:
        return f"about {roi.more_seeds} more seeds per arm would settle it"
    return "the observed difference is too small to plan more seeds for"


def verdict_sentence(roi: Roi, currency: Currency, confidence: float) -> str:
    """E.g. "Reject rblock_s: even in the best case it loses $1,200 a year (net per year between −$9,800 and
    −$1,200, 95% interval)." The rule: adopt when the whole interval of the yearly net is above 0, reject
    when it is below 0, else inconclusive (``backend.analysis.roi``)."""
    level = f"{format_number(100 * confidence)}%"
    low, high = roi.net_per_year.low, roi.net_per_year.high
    if roi.verdict == "adopt" and low is not None:
        gain = format_money(low, currency)
        return f"Adopt {roi.arm}: even in the worst case it gains {gain} a year ({_interval(roi, currency, level)})."
    if roi.verdict == "reject" and high is not None:
        loss = format_money(-high, currency)
        return f"Reject {roi.arm}: even in the best case it loses {loss} a year ({_interval(roi, currency, level)})."
    if low is None or high is None:
        # No interval yet (no finished runs, no ROI inputs, one seed): the reason says what is missing.
        return f"Inconclusive for {roi.arm}: {roi.reason}."
    return (
        f"Inconclusive for {roi.arm}: the net per year lies between {format_money(low, currency)} and "
        f"{format_money(high, currency)} ({level} interval), so it may gain or lose; {_inconclusive_tail(roi)}."
    )
