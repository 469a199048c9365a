"""GET /api/v1/compare (issue 16): pilots side by side from their cached analyses; the list's 422s, the 404
naming the missing ids, who may ask."""

from __future__ import annotations

from typing import Any

import pytest

from backend.summary_cache import SummaryCache
from pilot_spec.analysis import PilotComparison
from pilot_spec.compare import COMPARE_MAX
from tests.support.analysis import ACCURACY, finished_pilot
from tests.support.api import API, Api, create_pilot, open_api

ROI = {"predictions_per_year": 1e6, "cost_per_error": 0.5, "retrains_per_year": 12}


def _compare(api: Api, pilots: str, **headers: str) -> Any:
    return api.client.get(f"{API}/compare", params={"pilots": pilots}, headers=headers or None)


def test_each_pilots_arms_with_accuracy_cost_stability_and_verdict(api_any: Api) -> None:
    api = api_any
    first, second = finished_pilot(api), finished_pilot(api)
    assert api.client.put(f"{API}/pilots/{second['id']}/roi", json=ROI).status_code == 200
    response = _compare(api, f"{second['id']},{first['id']}")
    assert response.status_code == 200, response.text
    body = PilotComparison.model_validate(response.json())  # the declared response model, strictly
    assert [p.id for p in body.pilots] == [second["id"], first["id"]]  # in the order asked for
    assert body.currency.code == "USD" and body.currency.symbol == "$"
    pilot = body.pilots[0]
    assert (pilot.name, pilot.dataset, pilot.model, pilot.status) == ("Pilot <b>ünïcode</b>", "digits", "small_cnn",
                                                                     "succeeded")  # fmt: skip
    assert pilot.baseline_arm == "none" and not pilot.provisional and pilot.confidence == 0.95
    none, rblock = pilot.arms
    assert none.baseline and none.verdict is None and none.net_per_year is None
    assert rblock.arm == "rblock_s" and rblock.regularizer == "rblock_s" and not rblock.baseline
    assert rblock.seeds == 3 and rblock.test_acc == pytest.approx(sum(ACCURACY["rblock_s"]) / 3)
    low, mean, high = rblock.test_acc_low, rblock.test_acc, rblock.test_acc_high
    assert low is not None and mean is not None and high is not None and low < mean < high
    # 0.02 device-hours a run at the default CPU price (0.05 an hour).
    assert rblock.device_hours == pytest.approx(0.02) and rblock.cost == pytest.approx(0.001)
    assert (rblock.flip_rate, rblock.ece, rblock.inconsistency_kl) == pytest.approx((0.01, 0.02, 0.01))
    assert rblock.seed_churn == 0.0  # every seed answered [0, 1, 2, 3]
    assert rblock.verdict == "adopt" and rblock.reason and rblock.net_per_year is not None
    # The pilot without ROI inputs has no verdict yet, and says why.
    other = body.pilots[1].arms[1]
    assert other.verdict == "inconclusive" and other.reason is not None and "ROI inputs" in other.reason


def test_the_numbers_are_the_cached_summarys(api: Api) -> None:
    """Built from the summary cache (the pages' own entries), not analysed again."""
    first, second = finished_pilot(api), finished_pilot(api)
    cache: SummaryCache = api.client.app.state.summary_cache  # type: ignore[attr-defined]
    summary = api.client.get(f"{API}/pilots/{first['id']}/summary", params={"curves": "none"}).json()
    misses = cache.misses
    assert _compare(api, f"{first['id']},{second['id']}").status_code == 200
    assert cache.misses == misses + 1  # the first pilot's summary was in the cache already
    hits = cache.hits
    compared = _compare(api, f"{first['id']},{second['id']}").json()
    assert cache.misses == misses + 1 and cache.hits == hits + 2
    rblock = compared["pilots"][0]["arms"][1]
    assert rblock["test_acc"] == summary["arms"][1]["test_acc"]["mean"]
    assert rblock["net_per_year"] == summary["roi"][0]["net_per_year"]


def test_a_pilot_still_queued_is_compared_as_it_stands(api: Api) -> None:
    queued, finished = create_pilot(api), finished_pilot(api)
    body = _compare(api, f"{queued['id']},{finished['id']}").json()
    assert body["pilots"][0]["status"] == "queued" and body["pilots"][0]["provisional"] is True
    assert all(arm["test_acc"] is None for arm in body["pilots"][0]["arms"])


def test_amounts_are_in_the_currency_setting(sqlite_url: str) -> None:
    with open_api(sqlite_url, currency="EUR:€") as api:
        first, second = finished_pilot(api), finished_pilot(api)
        body = _compare(api, f"{first['id']},{second['id']}").json()
    assert body["currency"] == {"code": "EUR", "symbol": "€"}


@pytest.mark.parametrize(
    ("pilots", "says"),
    [
        ("", "no pilots to compare"),
        (" , ", "no pilots to compare"),
        ("1", "only 1 pilot named: tick or name at least 2"),
        ("1,1", "pilot 1 is named twice"),
        ("1, 2,1", "pilot 1 is named twice"),
        ("1,x", "'x' is not a pilot id"),
        ("1,-2", "'-2' is not a pilot id"),
        ("1,0", "'0' is not a pilot id"),
        ("1;2", "'1;2' is not a pilot id"),
        ("1,2.5", "'2.5' is not a pilot id"),
        ("1,\u00b2", "is not a pilot id"),  # a superscript two is a digit to str.isdigit, not an id
        ("1,99999999999999999999", "is not a pilot id"),  # beyond 64 bits
        (",".join(str(i) for i in range(1, COMPARE_MAX + 2)), f"compare at most {COMPARE_MAX} at once"),
    ],
)
def test_a_bad_list_is_422_saying_what_to_fix(api: Api, pilots: str, says: str) -> None:
    response = _compare(api, pilots)
    assert response.status_code == 422, response.text
    body = response.json()
    assert says in body["detail"] and body["detail"].startswith("pilots: ")
    assert [error["field"] for error in body["errors"]] == ["pilots"]


def test_no_list_at_all_is_422(api: Api) -> None:
    response = api.client.get(f"{API}/compare")
    assert response.status_code == 422 and "name 2 to 12 pilot ids" in response.json()["detail"]


def test_unknown_pilots_are_404_naming_them(api: Api) -> None:
    pilot = finished_pilot(api)
    one = _compare(api, f"{pilot['id']},4242")
    assert one.status_code == 404 and one.json()["detail"] == "pilot 4242 does not exist"
    two = _compare(api, f"77,{pilot['id']},78")
    assert two.status_code == 404 and two.json()["detail"] == "pilots 77, 78 do not exist"


def test_who_may_compare(api: Api) -> None:
    """As every pilot's GET: the read permission, which every role holds for every pilot (backend/auth/roles.py);
    without credentials nothing is answered."""
    first, second = finished_pilot(api), finished_pilot(api)
    ids = f"{first['id']},{second['id']}"
    for role in ("viewer", "engineer"):
        response = _compare(api, ids, **api.as_user(f"a_{role}", role))
        assert response.status_code == 200, (role, response.text)
    anonymous = _compare(api, ids, Authorization="")
    assert anonymous.status_code == 401 and "sign in" in anonymous.json()["detail"]
    # Refused before the list is even read: an anonymous caller learns nothing of which ids exist.
    assert _compare(api, "1,4242", Authorization="").status_code == 401
