"""The decision in words: one sentence per arm, with its numbers (the first thing every report says)."""

from __future__ import annotations

from typing import Any

from pilot_spec.analysis import PilotAnalysis
from pilot_spec.dates import format_minute
from pilot_spec.money import DEFAULT_CURRENCY, Currency, format_money, format_number


def _pct(value: float | None, digits: int = 2) -> str:
    return "n/a" if value is None else f"{format_number(100 * value, digits, signed=True)} pp"


def verdict_sentences(summary: PilotAnalysis, currency: Currency = DEFAULT_CURRENCY) -> list[str]:
    """E.g. "rblock_s: ADOPT. +0.83 pp accuracy against none (95% interval +0.21 to +1.45 pp: ±0.40 pp seeds,
    ±0.45 pp test set; p = 0.009, Holm p = 0.012) for +0.0043 device-hours per training; net $12,400 a
    year ($3,100 to $21,700)." Every number in positional notation (a p of 2e-05 is "0.00002")."""

    def money(value: float | None) -> str:
        return "n/a" if value is None else format_money(value, currency)

    arms = {a.arm: a for a in summary.arms}
    base = arms.get(summary.baseline_arm)
    level = f"{100 * summary.confidence:g}%"
    out = []
    for roi in summary.roi:
        arm = roi.arm
        comp = summary.comparison(arm)
        ci = None if comp is None else comp.delta_acc_ci
        ci_text = f"{level} interval {_pct(ci[0])} to {_pct(ci[1])}" if ci else "no interval with one seed"
        if ci and comp is not None and comp.acc_seed_half is not None:
            test = comp.acc_test_half
            test_text = "test set not counted: no labels" if test is None else f"±{100 * test:.2f} pp test set"
            ci_text += f": ±{100 * comp.acc_seed_half:.2f} pp seeds, {test_text}"
        p, holm = (None, None) if comp is None else (comp.p_value, comp.p_holm)
        p_text = (
            f"; p = {format_number(p)}, Holm p = {format_number(holm)}" if p is not None and holm is not None else ""
        )
        extra_hours = None
        mine = arms[arm].device_hours.mean
        if base and base.device_hours.mean is not None and mine is not None:
            extra_hours = mine - base.device_hours.mean
        hours_text = "n/a" if extra_hours is None else format_number(extra_hours, significant=4, signed=True)
        net = roi.net_per_year
        bounds = f" ({money(net.low)} to {money(net.high)})" if net.low is not None else ""
        out.append(
            f"{arm}: {roi.verdict.upper()}. {_pct(None if comp is None else comp.delta_acc)} accuracy against "
            f"{summary.baseline_arm} ({ci_text}{p_text}) for {hours_text} device-hours per training; "
            f"net {money(net.value)} a year{bounds}. {roi.reason[0].upper()}{roi.reason[1:]}."
        )
    return out


def decision_lines(decisions: list[dict[str, Any]]) -> list[str]:
    """The recorded decisions (as the API lists them, newest first), one line each, e.g. "2025-03-01 09:30 UTC:
    ADOPT rblock_s, by vera. Note: “...”. Snapshot SHA-256 3f2a9c01d4e5…"."""
    out = []
    for d in decisions:
        when = format_minute(d["decided_at"])
        mark = " (PROVISIONAL: runs were still queued or running)" if d["provisional"] else ""
        note = f" Note: “{d['note']}”." if d["note"] else ""
        out.append(
            f"{when}: {d['decision'].upper()} {d['arm']}, by {d['decided_by']}{mark}.{note} "
            f"Snapshot SHA-256 {d['summary_sha256'][:12]}…"
        )
    return out
