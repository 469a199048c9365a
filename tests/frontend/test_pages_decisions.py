"""The decision record on the pages: the history on the pilot page, the form only for those who may decide,
and each pilot's latest decision in the pilots list."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.support.api import PASSWORD, add_user, create_pilot, finish
from tests.support.site import csrf_of, open_site

FORM = 'action="/pilots/{}/decision"'


def test_the_form_is_only_for_managers_and_admins(sqlite_url: str) -> None:
    with open_site(sqlite_url) as site:
        pilot = create_pilot(site)["id"]
        viewer, engineer = site.as_user("vera", "viewer"), site.as_user("ed", "engineer")
        for headers, shown in (({}, True), (viewer, True), (engineer, False)):
            page = site.client.get(f"/pilots/{pilot}", headers=headers)
            assert page.status_code == 200
            assert (FORM.format(pilot) in page.text) is shown, headers
            assert "No decision recorded yet." in page.text
        assert "will be marked provisional" in site.client.get(f"/pilots/{pilot}", headers=viewer).text
        # The page route is guarded by the API as well: an engineer's post changes nothing.
        refused = site.client.post(
            f"/pilots/{pilot}/decision", data={"decision": "adopt", "arm": "none"}, headers=engineer
        )
        assert refused.status_code == 403 and "decide permission" in refused.text
        assert site.store.decisions.history(pilot_id=pilot) == []


def test_a_recorded_decision_shows_in_the_history_and_the_list(sqlite_url: str) -> None:
    with open_site(sqlite_url) as site:
        pilot = create_pilot(site)
        viewer = site.as_user("vera", "viewer")
        form = {"decision": "defer", "arm": "rblock_s", "note": "<b>three seeds</b> are too few"}
        posted = site.client.post(f"/pilots/{pilot['id']}/decision", data=form, headers=viewer, follow_redirects=False)
        assert posted.status_code == 303 and posted.headers["location"] == f"/pilots/{pilot['id']}#decisions"
        for run in pilot["runs"]:
            finish(site.store, run["id"])
        later = {"decision": "adopt", "arm": "rblock_s", "note": "settled"}
        fragment = site.client.post(f"/pilots/{pilot['id']}/decision", data=later, headers={"HX-Request": "true"})
        assert fragment.status_code == 201 and fragment.text.startswith('<div id="decisions"')
        page = site.client.get(f"/pilots/{pilot['id']}", headers=viewer).text
        rows = re.findall(r'<tr data-decision="\d+">(.*?)</tr>', page, re.S)
        assert len(rows) == 2
        newest, oldest = rows
        assert "admin" in newest and ">adopt<" in newest and "provisional" not in newest
        assert "vera" in oldest and ">defer<" in oldest and ">provisional<" in oldest
        assert "&lt;b&gt;three seeds&lt;/b&gt;" in oldest and "<b>three" not in page
        first = site.store.decisions.history(pilot_id=pilot["id"])[-1]
        assert f">{first.summary_sha256[:12]}</a>" in oldest and first.summary_sha256 in oldest
        listing = site.client.get("/").text
        assert "<th>Decision</th>" in listing and ">adopt rblock_s</span>" in listing


def test_a_refused_decision_comes_back_with_the_reason(sqlite_url: str) -> None:
    with open_site(sqlite_url) as site:
        pilot = create_pilot(site)["id"]
        form = {"decision": "adopt", "arm": "dropblock", "note": "kept"}
        htmx = site.client.post(f"/pilots/{pilot}/decision", data=form, headers={"HX-Request": "true"})
        assert htmx.status_code == 200 and 'role="alert"' in htmx.text
        assert "arm: is not an arm of pilot" in htmx.text and "choose one of none, rblock_s" in htmx.text
        assert ">kept</textarea>" in htmx.text  # what was typed is kept
        plain = site.client.post(f"/pilots/{pilot}/decision", data={**form, "decision": "maybe"})
        assert plain.status_code == 422 and "decision:" in plain.text
        assert site.client.post("/pilots/999/decision", data=form).status_code == 404
        assert site.store.decisions.history(pilot_id=pilot) == []


def test_ids_out_of_range_are_a_clear_4xx(sqlite_url: str) -> None:
    with open_site(sqlite_url) as site:
        for pilot_id in (0, 2**63, 10**30):
            assert site.client.get(f"/pilots/{pilot_id}/decisions").status_code in (404, 422), pilot_id
            posted = site.client.post(f"/pilots/{pilot_id}/decision", data={"decision": "adopt", "arm": "none"})
            assert posted.status_code in (404, 422), pilot_id


def test_a_manager_signed_in_with_a_cookie_decides_with_the_forms_csrf_token(sqlite_url: str) -> None:
    with open_site(sqlite_url) as site:
        pilot = create_pilot(site)["id"]
        add_user(site.store, "mia", "viewer")
        browser = TestClient(site.client.app)  # a browser: a session cookie, no token
        assert browser.post("/login", data={"name": "mia", "password": PASSWORD}).status_code == 200
        page = browser.get(f"/pilots/{pilot}").text
        form = {"decision": "reject", "arm": "rblock_s", "note": "no gain"}
        assert browser.post(f"/pilots/{pilot}/decision", data=form, follow_redirects=False).status_code == 403
        posted = browser.post(f"/pilots/{pilot}/decision", data={**form, "csrf_token": csrf_of(page)})
        assert posted.status_code == 200 and posted.url.path == f"/pilots/{pilot}"
        assert [d.decided_by for d in site.store.decisions.history(pilot_id=pilot)] == ["mia"]
