"""The pilot page's "Extend by N seeds" form beside each "run N more seeds" advice (frontend/extend.py)."""

from __future__ import annotations

import re

from backend.schemas import MAX_SEEDS
from backend.store import RunStatus
from tests.support.api import API, Api, create_pilot, pilot_body, start
from tests.support.site import open_site

ROI = {"predictions_per_year": 1e6, "cost_per_error": 1.0, "retrains_per_year": 1.0}
# Seeds 0 and 1: rblock_s 1 and 3 points better than none, too few seeds to settle it.
ACC = {("none", 0): 0.90, ("none", 1): 0.92, ("rblock_s", 0): 0.91, ("rblock_s", 1): 0.95}


def _inconclusive_pilot(
    site: Api, headers: dict[str, str] | None = None, acc: dict[tuple[str, int], float] = ACC
) -> int:
    response = site.client.post(f"{API}/pilots", json=pilot_body(roi=ROI), headers=headers or {})
    assert response.status_code == 201, response.text
    pilot = response.json()["pilot"]
    for run in pilot["runs"]:
        start(site.store, run["id"])
        cost = {"device_hours": 0.01, "device_kind": "cpu", "device_name": "cpu", "samples_per_second": 1e3}
        final = {"test_acc": acc[(run["arm"], run["seed"])]}
        site.store.finish_run(run_id=run["id"], status=RunStatus.SUCCEEDED, cost=cost, final_metrics=final)
    return int(pilot["id"])


def _advice(site: Api, pilot_id: int) -> int:
    roi = site.client.get(f"{API}/pilots/{pilot_id}/summary?curves=none").json()["roi"][0]
    assert roi["verdict"] == "inconclusive" and roi["more_seeds"], roi
    assert f"run {roi['more_seeds']} more seeds" in roi["reason"], roi["reason"]
    return int(roi["more_seeds"])


def test_the_owner_extends_from_the_advice(sqlite_url: str) -> None:
    with open_site(sqlite_url) as site:
        owner = site.as_user("olga")
        pilot_id = _inconclusive_pilot(site, owner)
        more = _advice(site, pilot_id)
        page = site.client.get(f"/pilots/{pilot_id}", headers=owner).text
        form = re.search(r'<form class="extend inline" method="post" action="([^"]+)">(.*?)</form>', page, re.S)
        assert form is not None and form.group(1) == f"/pilots/{pilot_id}/extend"
        assert 'name="csrf_token"' in form.group(2) and f'value="{more}"' in form.group(2)
        assert f"Extend by {more} seeds" in form.group(2)
        # The comparison fragment (polled) carries it too.
        assert f"Extend by {more} seeds" in site.client.get(f"/pilots/{pilot_id}/comparison", headers=owner).text
        done = site.client.post(
            f"/pilots/{pilot_id}/extend", data={"seeds": str(more)}, headers=owner, follow_redirects=False
        )
        assert done.status_code == 303 and done.headers["location"] == f"/pilots/{pilot_id}"
        assert site.store.get_pilot(pilot_id=pilot_id).seeds == list(range(2 + more))
        assert len(site.store.list_runs(pilot_id=pilot_id)) == 2 * (2 + more)


def test_advice_beyond_what_a_pilot_holds_offers_what_fits_and_says_so(sqlite_url: str) -> None:
    # A difference of 0.005 points with a spread of 0.06 points: over a thousand seeds to settle it.
    tiny = {("none", 0): 0.90, ("none", 1): 0.92, ("rblock_s", 0): 0.9005, ("rblock_s", 1): 0.9196}
    with open_site(sqlite_url) as site:
        pilot_id = _inconclusive_pilot(site, acc=tiny)
        more = _advice(site, pilot_id)
        assert more > MAX_SEEDS
        page = site.client.get(f"/pilots/{pilot_id}").text
        room = MAX_SEEDS - 2
        assert f'max="{room}" step="1" value="{room}"' in page and f"Extend by {room} seeds" in page
        assert (
            f"({more} more seeds would be needed; a pilot holds at most {MAX_SEEDS} seeds, so {room} can be added)"
            in page
        )


def test_only_who_may_manage_the_pilot_sees_the_form(sqlite_url: str) -> None:
    with open_site(sqlite_url) as site:
        pilot_id = _inconclusive_pilot(site, site.as_user("olga"))
        _advice(site, pilot_id)
        assert "Extend by" in site.client.get(f"/pilots/{pilot_id}").text  # the admin
        for user in (site.as_user("eve"), site.as_user("vera", "viewer")):
            assert "Extend by" not in site.client.get(f"/pilots/{pilot_id}", headers=user).text
            refused = site.client.post(f"/pilots/{pilot_id}/extend", data={"seeds": "2"}, headers=user)
            assert refused.status_code == 403
        assert len(site.store.list_runs(pilot_id=pilot_id)) == 4


def test_bad_numbers_get_a_page_that_says_what_to_fix(sqlite_url: str) -> None:
    with open_site(sqlite_url) as site:
        pilot = create_pilot(site)
        word = site.client.post(f"/pilots/{pilot['id']}/extend", data={"seeds": "many"})
        assert word.status_code == 422 and "whole number" in word.text
        many = site.client.post(f"/pilots/{pilot['id']}/extend", data={"seeds": "49"})
        assert many.status_code == 422 and "ask for at most 48" in many.text
        assert len(site.store.list_runs(pilot_id=pilot["id"])) == 4


def test_a_sequential_pilot_shows_its_look_and_offers_no_extension_while_running(sqlite_url: str) -> None:
    with open_site(sqlite_url) as site:
        body = pilot_body(roi=ROI, sequential={"max_seeds": 6, "round": 2})
        pilot = site.client.post(f"{API}/pilots", json=body).json()["pilot"]
        page = site.client.get(f"/pilots/{pilot['id']}").text
        assert 'data-sequential="running"' in page and "Look 1 of 3 (2 of at most 6 seeds" in page
        assert "99.44% confidence" in page and "Extend by" not in page
