"""The pilots list and the pilot page's actions (issue 16): only what the user may do, search and sort, the
run table, notes and tags, clone and delete; through TestClient on a fresh SQLite store."""

from __future__ import annotations

import re

from backend.schemas import PilotDetail
from backend.store import RunStatus
from frontend.clone import clone_values, hidden_values
from frontend.pilot_listing import SORT_LABELS
from pilot_spec.listing import PILOT_SORTS
from tests.support.api import API, Api, finish, pilot_body
from tests.support.site import open_site


def _pilot_of(site: Api, owner: str, **overrides: object) -> dict[str, object]:
    response = site.client.post(f"{API}/pilots", json=pilot_body(**overrides), headers=site.as_user(owner))
    assert response.status_code == 201, response.text
    pilot: dict[str, object] = response.json()["pilot"]
    return pilot


def _buttons(html: str) -> set[str]:
    """Which actions a page offers (by their visible words)."""
    found = set()
    for word, marker in (
        ("new", 'href="/pilots/new"'),
        ("clone", "/pilots/new?clone="),
        ("cancel all", ">Cancel all<"),
        ("cancel run", ">Cancel</button>"),
        ("retry", ">Retry</button>"),
        ("delete", ">Delete</a>"),
        ("notes", "/annotations"),
    ):
        if marker in html:
            found.add(word)
    return found


def test_each_role_sees_only_the_actions_it_may_take(sqlite_url: str) -> None:
    with open_site(sqlite_url) as site:
        pilot = _pilot_of(site, "ana")
        page = f"/pilots/{pilot['id']}"
        owner, other, viewer = site.as_user("ana"), site.as_user("bob"), site.as_user("vic", "viewer")
        # Queued runs: the owner and the admin may cancel them, not delete the pilot yet.
        assert _buttons(site.client.get(page, headers=owner).text) == {
            "new",
            "clone",
            "cancel all",
            "cancel run",
            "notes",
        }
        assert _buttons(site.client.get(page).text) == {"new", "clone", "cancel all", "cancel run", "notes"}
        assert _buttons(site.client.get(page, headers=other).text) == {"new", "clone"}  # not their pilot
        assert _buttons(site.client.get(page, headers=viewer).text) == set()
        assert _buttons(site.client.get("/", headers=viewer).text) == set()
        assert "New pilot" not in site.client.get("/", headers=viewer).text
        assert 'class="button primary" href="/pilots/new"' in site.client.get("/", headers=other).text
        # Finished (one failed): Retry on the failed run, no Cancel all, Delete for the owner and the admin.
        runs = pilot["runs"]
        assert isinstance(runs, list)
        finish(site.store, runs[0]["id"], RunStatus.FAILED)
        for run in runs[1:]:
            finish(site.store, run["id"])
        assert _buttons(site.client.get(page, headers=owner).text) == {"new", "clone", "retry", "delete", "notes"}
        assert _buttons(site.client.get(page).text) == {"new", "clone", "retry", "delete", "notes"}
        assert _buttons(site.client.get(page, headers=other).text) == {"new", "clone"}
        assert _buttons(site.client.get(page, headers=viewer).text) == set()
        # The decision form is the viewer's (and admin's), as before.
        assert "Record a decision" in site.client.get(page, headers=viewer).text


def test_list_columns_search_and_sort_links(sqlite_url: str) -> None:
    with open_site(sqlite_url) as site:
        first = _pilot_of(site, "ana", name="Alpha sweep")
        _pilot_of(site, "bob", name="beta", description="dropblock only")
        site.client.patch(f"{API}/pilots/{first['id']}", json={"tags": ["vision"], "notes": "promising"})
        page = site.client.get("/").text
        owner_created_dataset = r'<td data-label="owner">ana</td>\s*<td class="nowrap" data-label="created">'
        owner_created_dataset += r'\d{4}-\d\d-\d\d \d\d:\d\d UTC</td>\s*<td data-label="dataset">digits</td>'
        assert re.search(owner_created_dataset, page)
        assert (
            '<td data-label="model">small_cnn</td>' in page
            and 'class="tag" href="/?q=vision"' in page
            and "promising" in page
        )
        # Headers: sorted newest first now; each links to its column ascending (created: the other way).
        assert '<th scope="col" aria-sort="descending"><a href="/?sort=created"' in page
        assert '<th scope="col" aria-sort="none"><a href="/?sort=name"' in page
        by_name = site.client.get("/?sort=name").text
        assert by_name.index("Alpha sweep") < by_name.index(">beta<")
        assert '<th scope="col" aria-sort="ascending"><a href="/?sort=-name"' in by_name
        assert '<option value="name" selected>name A–Z</option>' in by_name  # the phone's way to sort
        assert set(SORT_LABELS) == set(PILOT_SORTS)
        assert site.client.get("/?sort=-name").text.index(">beta<") < site.client.get("/?sort=-name").text.index(
            "Alpha"
        )
        # Search: the box keeps the words; the list shows the matches only; the API's limit is a clear 422 page.
        found = site.client.get("/?q=dropblock").text
        assert 'value="dropblock"' in found and ">beta<" in found and "Alpha sweep" not in found
        assert (
            "Alpha sweep" in site.client.get("/?q=VISION").text and ">beta<" not in site.client.get("/?q=vision").text
        )
        assert "No pilots matching “nothing-here”" in site.client.get("/?q=nothing-here").text
        long = site.client.get("/?q=" + "x" * 101)
        assert long.status_code == 422 and "q" in long.text and "100" in long.text
        assert site.client.get("/?sort=bogus").status_code == 200  # a stale link shows the default order
        # The form sends every field: the answer is the list's plain link, without blank or default ones.
        for sent, plain in (("q=&status=&sort=-created", "/"), ("q=a+b&status=&sort=name", "/?q=a+b&sort=name")):
            moved = site.client.get(f"/?{sent}", follow_redirects=False)
            assert moved.status_code == 303 and moved.headers["location"] == plain
        assert site.client.get("/?q=a+b&sort=name", follow_redirects=False).status_code == 200
        # The pager keeps the search and the sort.
        for index in range(50):
            _pilot_of(site, "ana", name=f"sweep {index}")
        paged = site.client.get("/?q=sweep&sort=name").text
        assert "page 1 of 2" in paged and 'href="/?q=sweep&amp;sort=name&amp;page=2"' in paged


def test_run_table_with_final_metrics_sorts_in_the_page(sqlite_url: str) -> None:
    with open_site(sqlite_url) as site:
        pilot = _pilot_of(site, "ana")
        runs = pilot["runs"]
        assert isinstance(runs, list)
        finish(site.store, runs[0]["id"], hours=0.25)
        page = site.client.get(f"/pilots/{pilot['id']}").text
        assert 'id="run-table" class="runs sortable" data-sortable' in page
        assert f'<tr data-run="{runs[0]["id"]}">' in page and '<td data-value="0.9">90.00%</td>' in page
        assert '<td data-value="0.25">0.250</td>' in page
        assert '<th scope="col" aria-sort="none" data-kind="number"><button type="button" class="sort"' in page
        assert re.search(r'<td data-value="">–</td>', page)  # a queued run: blank, sorted last
        # CSP: the sorting is a same-origin file, and the page has no inline script.
        assert '<script src="/static/sort-table.js" defer></script>' in page
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page)
        assert site.client.get("/static/sort-table.js").status_code == 200
        # The grid's fragment (polled while runs are live) carries the table too.
        assert 'id="run-table"' in site.client.get(f"/pilots/{pilot['id']}/runs").text


def test_notes_and_tags_from_the_page(sqlite_url: str) -> None:
    with open_site(sqlite_url) as site:
        pilot = _pilot_of(site, "ana")
        url = f"/pilots/{pilot['id']}/annotations"
        owner = {**site.as_user("ana"), "HX-Request": "true"}
        saved = site.client.post(url, data={"notes": "first look", "tags": "Vision, q3-review vision"}, headers=owner)
        assert saved.status_code == 200 and 'id="annotations"' in saved.text and "Saved." in saved.text
        assert 'href="/?q=vision">vision</a>' in saved.text and ">q3-review</a>" in saved.text
        assert "first look" in site.client.get(f"/pilots/{pilot['id']}").text
        bad = site.client.post(url, data={"notes": "kept", "tags": "ok, not/a/slug"}, headers=owner)
        assert bad.status_code == 200 and 'id="err-tags" role="status">a tag is 1 to 32 lowercase' in bad.text
        assert "not/a/slug" in bad.text and ">kept</textarea>" in bad.text  # what was typed stays
        plain = site.client.post(
            url, data={"notes": "", "tags": ""}, headers=site.as_user("ana"), follow_redirects=False
        )
        assert plain.status_code == 303 and plain.headers["location"] == f"/pilots/{pilot['id']}#annotations"
        assert site.client.get(f"{API}/pilots/{pilot['id']}").json()["tags"] == []
        refused = site.client.post(url, data={"notes": "x", "tags": ""}, headers=site.as_user("vic", "viewer"))
        assert refused.status_code == 403 and "manage_own_pilots" in refused.text


def test_clone_fills_the_form_and_queues_the_same_settings(sqlite_url: str) -> None:
    with open_site(sqlite_url) as site:
        body = pilot_body(
            name="original",
            description="why we ran it",
            training={"epochs": 3, "label_smoothing": 0.1, "optimizer": "adamw"},
            arms=[{"regularizer": "none"}, {"regularizer": "dropout", "params": {"drop_prob": 0.3}}],
            baseline_arm="none",
            roi={"predictions_per_year": 1000, "cost_per_error": 0.5},
        )
        created = site.client.post(f"{API}/pilots", json=body)
        assert created.status_code == 201, created.text
        original = created.json()["pilot"]
        form = site.client.get(f"/pilots/new?clone={original['id']}")
        assert form.status_code == 200 and "A copy of" in form.text
        assert 'value="copy of original"' in form.text and "why we ran it</textarea>" in form.text
        # Every training setting has a field now (issue 16), the folded ones pre-filled too.
        assert 'name="training.label_smoothing" type="number" value="0.1"' in form.text
        assert '<option value="adamw" selected>adamw</option>' in form.text
        assert 'type="hidden" name="training.' not in form.text
        assert re.search(r'value="dropout"\s+checked', form.text) and not re.search(
            r'value="rblock_s"\s+checked', form.text
        )
        assert 'name="arm.dropout.drop_prob" type="number" step="any" value="0.3"' in form.text
        assert 'id="f-roi-cost_per_error" name="roi.cost_per_error" type="number" value="0.5"' in form.text
        # The form as the browser would post it queues a pilot with the same settings.
        values, arms = clone_values(PilotDetail.model_validate(original), site.client.get(f"{API}/catalog").json())
        assert values["training.optimizer"] == "adamw"
        assert hidden_values(values, {f"training.{key}" for key in original["training"]}) == {}
        posted = site.client.post("/pilots/new", data={**values, "arm": arms}, follow_redirects=False)
        assert posted.status_code == 303, posted.text
        copy = site.client.get(f"{API}{posted.headers['location']}").json()
        assert copy["name"] == "copy of original" and copy["description"] == "why we ran it"
        assert copy["training"] == original["training"] and copy["seeds"] == original["seeds"]
        assert [(a["regularizer"], a["params"]) for a in copy["arms"]] == [
            (a["regularizer"], a["params"]) for a in original["arms"]
        ]
        assert copy["roi"] == original["roi"]
        assert site.client.get("/pilots/new?clone=999").status_code == 404


def test_delete_from_the_page_after_a_confirm_step(sqlite_url: str) -> None:
    with open_site(sqlite_url) as site:
        pilot = _pilot_of(site, "ana")
        owner = site.as_user("ana")
        confirm = site.client.get(f"/pilots/{pilot['id']}/delete", headers=owner)
        assert confirm.status_code == 200 and "Delete “digits: rblock_s against none”?" in confirm.text
        assert "still queued or running: cancel them first" in confirm.text
        token = {"csrf_token": ""}
        active = site.client.post(f"/pilots/{pilot['id']}/delete", data=token, headers=owner)
        assert active.status_code == 409 and "active run(s): cancel them first" in active.text
        site.client.post(f"{API}/pilots/{pilot['id']}/cancel", headers=owner)
        other = site.client.post(f"/pilots/{pilot['id']}/delete", data=token, headers=site.as_user("bob"))
        assert other.status_code == 403 and "belongs to" in other.text
        gone = site.client.post(f"/pilots/{pilot['id']}/delete", data=token, headers=owner, follow_redirects=False)
        assert gone.status_code == 303 and gone.headers["location"] == "/"
        assert site.client.get(f"/pilots/{pilot['id']}").status_code == 404
