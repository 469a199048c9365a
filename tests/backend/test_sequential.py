"""Stop when settled: α-spending over the looks (simulated), and the rounds the reconciler drives."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from scipy import stats

from backend.analysis.sequential import (
    alpha_spent,
    device_hours_saved,
    is_settled,
    look_confidence,
    looks_for,
    sequential_state,
    state_confidence,
)
from pilot_spec.analysis import ArmResult, Comparison, Describe, PilotAnalysis, Roi
from tests.support.analysis import advance, finish_round
from tests.support.api import API, Api, pilot_body


def test_the_spending_sums_to_alpha_and_spends_little_early() -> None:
    assert looks_for(10, 2) == 5 and looks_for(7, 3) == 3
    spent = [alpha_spent(j, 5) for j in range(1, 6)]
    assert sum(spent) == pytest.approx(0.05) and spent == sorted(spent)
    assert [round(look_confidence(j, 5), 4) for j in range(1, 6)] == [0.998, 0.994, 0.99, 0.986, 0.982]
    with pytest.raises(ValueError, match=r"look must be 1\.\.5"):
        look_confidence(6, 5)
    state = sequential_state(7, 3)
    assert [state_confidence(state, n) for n in (3, 6, 7)] == [look_confidence(j, 3) for j in (1, 2, 3)]


def _false_verdicts(confidence: Callable[[int], float], *, looks: int, per_look: int, reps: int, seed: int) -> float:
    """Share of replications where some look's paired t-interval excludes a true zero difference.

    Seeds' differences are normal noise, looked at after each round of ``per_look`` seeds: the interval
    at look j is the Student t interval of the per-seed differences at ``confidence(j)``.
    """
    rng = np.random.default_rng(seed)
    diffs = rng.normal(0.0, 0.01, size=(reps, looks * per_look))
    wrong = np.zeros(reps, dtype=bool)
    for look in range(1, looks + 1):
        n = look * per_look
        sample = diffs[:, :n]
        half = stats.t.ppf(0.5 + confidence(look) / 2, n - 1) * sample.std(axis=1, ddof=1) / math.sqrt(n)
        wrong |= np.abs(sample.mean(axis=1)) > half
    return float(wrong.mean())


@pytest.mark.parametrize("per_look", [2, 3])
def test_five_looks_under_a_true_zero_keep_false_verdicts_under_the_bound(per_look: int) -> None:
    reps = 20_000  # vectorised: well under a second
    spent = _false_verdicts(lambda j: look_confidence(j, 5), looks=5, per_look=per_look, reps=reps, seed=11)
    naive = _false_verdicts(lambda j: 0.95, looks=5, per_look=per_look, reps=reps, seed=11)
    # The union bound gives <= 5%; the Monte Carlo error at 20,000 replications is about 0.15 pp.
    assert spent <= 0.065, spent
    # Looking five times at 95% inflates the error well past it: the test above can fail.
    assert naive > 0.065, naive


def _summary(rois: list[tuple[str, str]], cis: list[tuple[str, Any]], priced: bool) -> PilotAnalysis:
    """An analysis holding only what the rule reads: the ROI inputs, each ROI's verdict, each interval."""
    inputs = {"predictions_per_year": 1000.0 if priced else 0.0, "cost_per_error": 1.0}
    return PilotAnalysis.model_construct(
        roi_inputs=inputs,
        roi=[Roi.model_construct(arm=arm, verdict=verdict) for arm, verdict in rois],
        comparisons=[
            Comparison.model_construct(arm=arm, delta_acc_ci=None if ci is None else tuple(ci)) for arm, ci in cis
        ],
    )


def test_settled_means_every_arm_adopt_or_reject() -> None:
    cis: list[tuple[str, Any]] = [("a", [0.01, 0.02]), ("b", [-0.03, -0.01])]
    assert is_settled(_summary([("a", "adopt"), ("b", "reject")], cis, priced=True))
    assert not is_settled(_summary([("a", "adopt"), ("b", "inconclusive")], cis, priced=True))
    # No ROI inputs, no ROI verdict: the accuracy interval decides.
    assert is_settled(_summary([("a", "inconclusive"), ("b", "inconclusive")], cis, priced=False))
    assert not is_settled(_summary([], [("a", [-0.01, 0.02])], priced=False))
    assert not is_settled(_summary([], [("a", None)], priced=False))
    assert not is_settled(_summary([], [], priced=False))  # nothing to settle: a round more cannot hurt


def test_saving_is_the_unrun_seeds_at_each_arms_measured_mean() -> None:
    def arm(name: str, mean: float | None) -> ArmResult:
        hours = Describe.model_construct(n=4, mean=mean)
        return ArmResult.model_construct(arm=name, seeds=[0, 1, 2, 3], device_hours=hours)

    assert device_hours_saved([arm("none", 0.5), arm("rblock_s", 1.0)], 10) == pytest.approx(6 * 0.5 + 6 * 1.0)
    assert device_hours_saved([arm("none", 0.5), arm("rblock_s", None)], 10) is None


# -- the rounds, driven as the reconciler drives them --------------------------------------------------


def test_a_clear_difference_stops_at_the_first_look_that_settles_it(api: Api) -> None:
    body = pilot_body(sequential={"max_seeds": 8, "round": 2})
    del body["seeds"]
    created = api.client.post(f"{API}/pilots", json=body)
    assert created.status_code == 201, created.text
    pilot = created.json()["pilot"]
    assert pilot["seeds"] == [0, 1] and pilot["sequential"]["looks"] == 4 and len(pilot["runs"]) == 4
    hours = {"none": 0.25, "rblock_s": 0.5}
    # rblock_s is 5 or 6 points better by seed: 2 seeds at 99.7% cannot tell, 4 at 99.1% can.
    better = lambda run: 0.95 + 0.01 * (run.seed % 2) if run.arm == "rblock_s" else 0.90  # noqa: E731
    assert advance(api) == {}  # nothing finished: no look
    assert finish_round(api, pilot["id"], better, hours) == 4
    assert advance(api) == {pilot["id"]: "round of 2 seeds"}
    assert api.store.get_pilot(pilot_id=pilot["id"]).seeds == [0, 1, 2, 3]
    summary = api.client.get(f"{API}/pilots/{pilot['id']}/summary?curves=none").json()
    assert summary["sequential"]["look"] == 2 and summary["sequential"]["confidence"] == pytest.approx(
        look_confidence(2, 4)
    )
    assert summary["sequential"]["history"][0]["settled"] is False
    assert finish_round(api, pilot["id"], better, hours) == 4
    outcome = advance(api)[pilot["id"]]
    assert outcome.startswith("stopped: settled at look 2 of 4 (4 seeds, ")
    assert advance(api) == {}  # stopped: no more looks
    assert len(api.store.list_runs(pilot_id=pilot["id"])) == 8  # nothing was cancelled, nothing added
    summary = api.client.get(f"{API}/pilots/{pilot['id']}/summary?curves=none").json()
    plan = summary["sequential"]
    assert plan["stopped"] and plan["rule"].startswith("settled at look 2 of 4")
    assert plan["device_hours_used"] == pytest.approx(4 * 0.25 + 4 * 0.5)
    assert plan["device_hours_saved"] == pytest.approx(4 * 0.25 + 4 * 0.5)  # 4 seeds of 8 not run
    assert plan["confidence"] == pytest.approx(look_confidence(2, 4))
    report = api.client.get(f"{API}/pilots/{pilot['id']}/report.html").text
    assert "Stopped: settled at look 2 of 4" in report and "saved against running all 8 seeds: 3" in report
    # Once stopped it is an ordinary pilot again: a person may extend it.
    more = api.client.post(f"{API}/pilots/{pilot['id']}/extend", json={"seeds": 1})
    assert more.status_code == 201, more.text


def test_no_difference_runs_to_max_seeds_and_a_running_one_extends_only_itself(api: Api) -> None:
    body = pilot_body(sequential={"max_seeds": 5, "round": 2}, seeds=2)
    pilot = api.client.post(f"{API}/pilots", json=body).json()["pilot"]
    refused = api.client.post(f"{API}/pilots/{pilot['id']}/extend", json={"seeds": 1})
    assert refused.status_code == 409 and "extends itself a round at a time" in refused.json()["detail"]
    noise = lambda run: 0.9 + 0.01 * ((run.seed * 5 + len(run.arm)) % 4)  # noqa: E731
    hours = {"none": 0.1, "rblock_s": 0.2}
    rounds = []
    while finish_round(api, pilot["id"], noise, hours):
        rounds.append(advance(api)[pilot["id"]])
    # 2 + 2 + 1 seeds: the last round is what is left to max_seeds.
    assert rounds[:2] == ["round of 2 seeds", "round of 1 seeds"]
    assert rounds[2].startswith("stopped: reached max_seeds at look 3 of 3 (5 seeds")
    assert api.store.get_pilot(pilot_id=pilot["id"]).seeds == [0, 1, 2, 3, 4]
    plan = api.client.get(f"{API}/pilots/{pilot['id']}/summary?curves=none").json()["sequential"]
    assert plan["device_hours_saved"] == pytest.approx(0.0) and len(plan["history"]) == 3


def test_a_cancelled_sequential_pilot_stops(api: Api) -> None:
    pilot = api.client.post(f"{API}/pilots", json=pilot_body(sequential={"max_seeds": 6, "round": 2})).json()
    pilot_id = pilot["pilot"]["id"]
    api.client.post(f"{API}/pilots/{pilot_id}/cancel")
    outcome = advance(api)[pilot_id]
    assert "failed or were cancelled" in outcome
    assert len(api.store.list_runs(pilot_id=pilot_id)) == 4


@pytest.mark.parametrize(
    ("sequential", "seeds", "field", "words"),
    [
        ({"max_seeds": 4, "round": 1}, None, "sequential.round", "greater than or equal to 2"),
        ({"max_seeds": 4, "round": 5}, None, "sequential", "round (5) must be at most max_seeds (4)"),
        ({"max_seeds": 51, "round": 2}, None, "sequential.max_seeds", "less than or equal to 50"),
        ({"max_seeds": 6, "round": 2}, 3, "seeds", "a round of 2 at a time: omit seeds, or give 2 (got 3)"),
    ],
)
def test_bad_sequential_plans_are_422(
    api: Api, sequential: dict[str, int], seeds: int | None, field: str, words: str
) -> None:
    body = pilot_body(sequential=sequential)
    if seeds is None:
        del body["seeds"]
    else:
        body["seeds"] = seeds
    response = api.client.post(f"{API}/pilots", json=body)
    assert response.status_code == 422, response.text
    errors = response.json()["errors"]
    assert any(e["field"] == field and words in e["message"] for e in errors), errors
