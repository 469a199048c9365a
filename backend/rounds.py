"""A sequential pilot's rounds: after each round, look at the pilot, then stop it or queue the next round.

Run by the API's reconciler (``backend.dispatch.reconcile_forever``) every ``reconcile_every_s``. A look
happens once every run of the pilot has finished (so the analysis is never provisional); it analyses the
pilot at that look's confidence (``backend.analysis.sequential``) and then:

* stops it when every non-baseline arm is settled (adopt or reject): the rule names the look;
* stops it at ``max_seeds``, or when a run failed or was cancelled (a cancelled pilot stays stopped; a
  failed run needs a person: retry it, then extend the pilot by hand), or when the next round would pass
  the budget cap;
* else extends it by the next round's seeds (``backend.extension``, which checks the budget on the total).

Nothing that already ran is cancelled. Each decision is one transaction that checks the pilot's seeds
have not changed since the look (``store.extensions``), so two API processes cannot both add a round.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from backend.analysis.sequential import current_look, is_settled, state_confidence
from backend.analysis.service import analyse_pilot
from backend.catalog import Catalog, CatalogError
from backend.dispatch import RunQueue
from backend.extension import apply_extension, plan_extension
from backend.queue import QueueUnavailable
from backend.schemas import PilotExtend
from backend.settings import Settings
from backend.store import ACTIVE_STATUSES, RunStatus, Store, StoreError

log = logging.getLogger(__name__)


def advance_sequential(*, store: Store, queue: RunQueue, settings: Settings, catalog: Catalog) -> dict[int, str]:
    """One pass over the open sequential pilots; returns what was done to each (``stopped: ...``, ``round``)."""
    done: dict[int, str] = {}
    for pilot_id in store.extensions.open_sequential():
        try:
            outcome = advance_one(pilot_id, store=store, queue=queue, settings=settings, catalog=catalog)
        except StoreError as error:  # deleted or changed meanwhile: the next pass looks again
            log.info("sequential pilot %s: no look this pass: %s", pilot_id, error)
            continue
        except QueueUnavailable as error:  # the round's runs are marked failed: the next look stops the pilot
            log.error("sequential pilot %s: its next round could not be queued: %s", pilot_id, error)
            continue
        if outcome is not None:
            done[pilot_id] = outcome
    return done


def advance_one(pilot_id: int, *, store: Store, queue: RunQueue, settings: Settings, catalog: Catalog) -> str | None:
    """Look at one sequential pilot whose round has finished; None while a run is still active."""
    pilot = store.get_pilot(pilot_id=pilot_id)
    runs = store.list_runs(pilot_id=pilot_id)
    state = pilot.sequential
    if state is None or state.get("stopped") or any(run.status in ACTIVE_STATUSES for run in runs):
        return None
    seeds = len(pilot.seeds)
    look, looks = current_look(state, seeds), int(state["looks"])
    confidence = state_confidence(state, seeds)
    analysis = analyse_pilot(store, pilot_id, settings.price_per_hour, [], settings.currency)
    settled = is_settled(analysis)
    entry: dict[str, Any] = {
        "look": look,
        "seeds": seeds,
        "confidence": confidence,
        "settled": settled,
        "verdicts": {r.arm: r.verdict for r in analysis.roi},
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    at = f"look {look} of {looks} ({seeds} seeds, {confidence:.2%} confidence)"
    broken = sorted(run.id for run in runs if run.status in (RunStatus.FAILED, RunStatus.CANCELLED))
    rule: str | None = None
    if broken:
        rule = (
            f"stopped at {at}: run(s) {', '.join(map(str, broken))} failed or were cancelled; retry them and "
            "extend the pilot by hand if more seeds are wanted"
        )
    elif settled:
        rule = f"settled at {at}: every arm's verdict against {pilot.baseline_arm} is adopt or reject"
    elif seeds >= int(state["max_seeds"]):
        rule = f"reached max_seeds at {at} without settling every verdict"
    history = [*state.get("history", []), entry]
    if rule is None:
        more = min(int(state["round"]), int(state["max_seeds"]) - seeds)
        try:
            plan = plan_extension(
                pilot_id, PilotExtend(seeds=more), catalog=catalog, store=store, settings=settings, by_rounds=True
            )
        except CatalogError as error:
            rule = f"stopped at {at}: the next round cannot be queued: {error}"
        else:
            apply_extension(plan, store=store, queue=queue, sequential={**state, "history": history})
            log.info("sequential pilot %s: %s unsettled; round of %d seeds queued", pilot_id, at, more)
            return f"round of {more} seeds"
    stopped = {**state, "history": history, "stopped": True, "rule": rule}
    store.extensions.stop_sequential(pilot_id=pilot_id, expect_seeds=pilot.seeds, sequential=stopped)
    log.info("sequential pilot %s: %s", pilot_id, rule)
    return f"stopped: {rule}"
