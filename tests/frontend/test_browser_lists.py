"""Issue 16 in Chromium: a viewer sees none of the owner's buttons, the owner sees those that apply to the
pilot's state, the pilots list sorts by its column links and the run table sorts in the page (a same-origin
script under the CSP), with no console errors or CSP violations."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from backend.store import RunStatus
from tests.support.api import pilot_body, start
from tests.support.browser import ENGINEER, VIEWER, Console, Site, add_session
from tests.support.chromium import CHROMIUM

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed")

ACCURACIES = (0.7, 0.9, 0.8, 0.6)  # the runs' final test accuracy, in run order


def _finished_pilot(site: Site, name: str) -> dict[str, Any]:
    created = site.api("POST", "/pilots", json=pilot_body(name=name, seeds=2, training={"epochs": 2}))
    assert created.status_code == 201, created.text
    pilot: dict[str, Any] = created.json()["pilot"]
    cost = {"device_hours": 0.1, "device_kind": "cpu", "device_name": "cpu", "samples_per_second": 1000.0}
    for run, accuracy in zip(pilot["runs"], ACCURACIES, strict=True):
        start(site.store, run["id"])
        site.store.finish_run(
            run_id=run["id"], status=RunStatus.SUCCEEDED, error=None, cost=cost, final_metrics={"test_acc": accuracy}
        )
    return pilot


def _actions(page: Any) -> dict[str, int]:
    return {
        "new": page.locator("a[href='/pilots/new']").count(),
        "clone": page.get_by_role("link", name="Clone").count(),
        "cancel all": page.get_by_role("button", name="Cancel all").count(),
        "delete": page.get_by_role("link", name="Delete").count(),
        "notes": page.locator("#annotations form").count(),
    }


def _column(page: Any, index: int) -> list[str]:
    return [text.strip() for text in page.locator(f"#run-table tbody tr td:nth-child({index})").all_inner_texts()]


def test_viewer_and_owner_buttons_and_sorting(site: Site, chromium_browser: Any) -> None:
    finished = _finished_pilot(site, "beta finished")
    queued = site.api("POST", "/pilots", json=pilot_body(name="alpha queued", seeds=1)).json()["pilot"]
    site.add_user(VIEWER, "viewer")
    console = Console()

    viewer_context = chromium_browser.new_context(viewport={"width": 1280, "height": 900})
    add_session(viewer_context, site.url, VIEWER)
    viewer = console.watch(viewer_context.new_page())
    for pilot in (finished, queued):
        viewer.goto(f"{site.url}/pilots/{pilot['id']}")
        expect(viewer.locator("#run-table")).to_be_visible()
        assert _actions(viewer) == {"new": 0, "clone": 0, "cancel all": 0, "delete": 0, "notes": 0}
        assert viewer.get_by_role("button", name="Retry").count() == 0
        assert viewer.get_by_role("button", name="Cancel", exact=True).count() == 0
    viewer.goto(f"{site.url}/")
    assert viewer.locator("a[href='/pilots/new']").count() == 0
    viewer_context.close()

    owner_context = chromium_browser.new_context(viewport={"width": 1280, "height": 900})
    add_session(owner_context, site.url, ENGINEER)
    owner = console.watch(owner_context.new_page())
    owner.goto(f"{site.url}/pilots/{queued['id']}")
    assert _actions(owner) == {"new": 1, "clone": 1, "cancel all": 1, "delete": 0, "notes": 1}  # runs active
    owner.goto(f"{site.url}/pilots/{finished['id']}")
    assert _actions(owner) == {"new": 1, "clone": 1, "cancel all": 0, "delete": 1, "notes": 1}  # all done

    # The run table sorts in the page: ascending, then descending, aria-sort following.
    header = owner.locator("#run-table thead th", has_text="Test acc")
    assert _column(owner, 6) == ["70.00%", "90.00%", "80.00%", "60.00%"]
    header.get_by_role("button").click()
    expect(header).to_have_attribute("aria-sort", "ascending")
    assert _column(owner, 6) == ["60.00%", "70.00%", "80.00%", "90.00%"]
    header.get_by_role("button").click()
    expect(header).to_have_attribute("aria-sort", "descending")
    assert _column(owner, 6) == ["90.00%", "80.00%", "70.00%", "60.00%"]

    # The pilots list sorts on the server through its column links.
    owner.goto(f"{site.url}/")
    names = owner.locator("table.pilots tbody tr td:first-child > a")
    assert names.all_inner_texts() == ["alpha queued", "beta finished"]  # newest first
    owner.get_by_role("link", name="Pilot", exact=True).click()
    owner.wait_for_url(f"{site.url}/?sort=name")
    expect(owner.locator("table.pilots thead th", has_text="Pilot")).to_have_attribute("aria-sort", "ascending")
    assert names.all_inner_texts() == ["alpha queued", "beta finished"]
    owner.locator("table.pilots thead th", has_text="Pilot").get_by_role("link").click()
    owner.wait_for_url(f"{site.url}/?sort=-name")
    assert names.all_inner_texts() == ["beta finished", "alpha queued"]
    owner.fill("#q", "finished")
    owner.get_by_role("button", name="Search").click()
    owner.wait_for_url(f"{site.url}/?q=finished&sort=-name")  # the sort is kept; blank fields left out
    assert names.all_inner_texts() == ["beta finished"]
    owner_context.close()
    assert console.errors() == [] and console.csp_violations() == []
