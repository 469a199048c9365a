"""The analysis service: one pilot's :class:`PilotAnalysis` from the store (what the summary endpoint, the
decisions' snapshots, the sequential rounds, the reports and ``rblock-pilot report`` share)."""

from __future__ import annotations

from collections.abc import Sequence

from backend.analysis.sequential import sequential_section, state_confidence
from backend.analysis.stats import CONFIDENCE
from backend.analysis.summary import build_summary, summary_points
from backend.store import Store
from pilot_spec.analysis import PilotAnalysis
from pilot_spec.metrics import DROP_RATE
from pilot_spec.money import DEFAULT_CURRENCY, Currency


def analyse_pilot(
    store: Store,
    pilot_id: int,
    prices: dict[str, float],
    curve_keys: Sequence[str] | None = None,
    currency: Currency = DEFAULT_CURRENCY,
) -> PilotAnalysis:
    """The analysis of a pilot (raises NotFound); ``curve_keys`` limits the per-epoch aggregates to those
    metrics (None: every metric), which is most of the work on a big pilot; ``currency`` (the ``CURRENCY``
    setting) is the one the verdicts' sentences write their money in."""
    pilot = store.get_pilot(pilot_id=pilot_id)
    runs = store.list_runs(pilot_id=pilot_id)
    # drop_rate is read whatever the curves: the comparability warnings need it.
    keys = None if curve_keys is None else sorted({*curve_keys, DROP_RATE})
    points = summary_points(store.get_series(run_ids=[r.id for r in runs], keys=keys), curve_keys)
    sequential = pilot.sequential
    # A sequential pilot is analysed at its current look's confidence (α-spending), and says so.
    confidence = CONFIDENCE if sequential is None else state_confidence(sequential, len(pilot.seeds))
    analysis = build_summary(
        pilot, runs, points, prices=prices, curve_keys=curve_keys, confidence=confidence, currency=currency
    )
    section = None if sequential is None else sequential_section(sequential, analysis, len(pilot.seeds))
    # created_by: the pages offer changes (extend) to the pilot's owner only.
    return analysis.model_copy(update={"sequential": section, "created_by": pilot.created_by})
