"""Pilots side by side (issue 16): each pilot's arms with accuracy, cost, stability and verdict, read from the
cached analysis of each pilot (``backend/summary_cache.py``: nothing is recomputed while a pilot is unchanged)
and its progress (for the status)."""

from __future__ import annotations

from collections.abc import Sequence

from backend.settings import Settings
from backend.store import NotFound, Store
from backend.summary_cache import SummaryCache
from pilot_spec.analysis import ArmResult, ComparedArm, ComparedPilot, CurrencyOut, PilotAnalysis, PilotComparison
from pilot_spec.metrics import ECE, FLIP_RATE, INCONSISTENCY_KL


def compare_pilots(store: Store, cache: SummaryCache, settings: Settings, pilot_ids: Sequence[int]) -> PilotComparison:
    """The pilots ``pilot_ids`` side by side, in that order; ``NotFound`` names every id that does not exist."""
    missing = [pilot_id for pilot_id in pilot_ids if store.versions.of(pilot_id=pilot_id) is None]
    if missing:
        listed = ", ".join(str(pilot_id) for pilot_id in missing)
        raise NotFound(f"pilot {listed} does not exist" if len(missing) == 1 else f"pilots {listed} do not exist")
    pilots = []
    for pilot_id in pilot_ids:
        # Without curves: the comparison reads final numbers only, the cheapest summary and the pages' own.
        analysis = cache.get(store, pilot_id, settings.price_per_hour, []).analysis
        progress = store.pilot_progress(pilot_id=pilot_id)
        pilots.append(
            ComparedPilot(
                id=pilot_id,
                name=analysis.name,
                dataset=progress.pilot.dataset,
                model=progress.pilot.model,
                status=progress.status,
                baseline_arm=analysis.baseline_arm,
                provisional=analysis.provisional,
                confidence=analysis.confidence,
                arms=[_arm(arm, analysis) for arm in analysis.arms],
            )
        )
    currency = CurrencyOut(code=settings.currency.code, symbol=settings.currency.symbol)
    return PilotComparison(currency=currency, pilots=pilots)


def _arm(arm: ArmResult, analysis: PilotAnalysis) -> ComparedArm:
    roi = next((row for row in analysis.roi if row.arm == arm.arm), None)
    return ComparedArm(
        arm=arm.arm,
        regularizer=arm.regularizer,
        baseline=arm.arm == analysis.baseline_arm,
        seeds=len(arm.seeds),
        test_acc=arm.test_acc.mean,
        test_acc_low=arm.test_acc.ci_low,
        test_acc_high=arm.test_acc.ci_high,
        device_hours=arm.device_hours.mean,
        cost=arm.cost,
        flip_rate=arm.stability.get(FLIP_RATE),
        ece=arm.stability.get(ECE),
        seed_churn=arm.seed_churn,
        inconsistency_kl=arm.stability.get(INCONSISTENCY_KL),
        verdict=None if roi is None else roi.verdict,
        reason=None if roi is None else roi.reason,
        net_per_year=None if roi is None else roi.net_per_year,
        sentence=None if roi is None else roi.sentence,
    )
