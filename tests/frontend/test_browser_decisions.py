"""A manager records a decision in Chromium: the htmx form (with the session's CSRF header) swaps in the
history, a refused arm shows its reason in the form, and the pilots list shows the latest decision; an
engineer sees the history but no form. No console errors or CSP violations on the way."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.support.browser import ENGINEER, VIEWER, Console, Site, add_pilot, sign_in
from tests.support.chromium import CHROMIUM

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed")


def test_a_manager_decides_from_the_pilot_page(site: Site, browser: tuple[Any, Console], tmp_path: Path) -> None:
    page, console = browser
    pilot = add_pilot(site, "decided pilot", finished=True)
    site.add_user(VIEWER, "viewer")
    sign_in(page, site.url, VIEWER, path=f"/pilots/{pilot['id']}")
    expect(page.locator("#decisions")).to_contain_text("No decision recorded yet.")
    page.select_option("#decision-kind", "adopt")
    assert page.locator("#decision-arm").input_value() == "rblock_s"  # the first arm that is not the baseline
    page.fill("#decision-note", "worth the extra hour")
    page.click("#decisions button[type=submit]")
    row = page.locator("#decisions tr[data-decision]")
    expect(row).to_have_count(1)
    expect(row).to_contain_text(VIEWER)
    expect(row).to_contain_text("worth the extra hour")
    assert "provisional" not in row.inner_text()
    page.screenshot(path=str(tmp_path / "decisions.png"), full_page=True)
    page.goto(f"{site.url}/")
    expect(page.locator("table.pilots tbody tr").first).to_contain_text("adopt rblock_s")
    assert console.errors() == [] and console.csp_violations() == []


def test_an_engineer_reads_the_history_without_a_form(site: Site, browser: tuple[Any, Console]) -> None:
    page, console = browser
    pilot = add_pilot(site, "engineer's pilot", finished=False)
    site.store.decisions.record(
        pilot_id=pilot["id"], decision="defer", arm="none", note="", decided_by="boss", provisional=True, summary={}
    )
    sign_in(page, site.url, ENGINEER, path=f"/pilots/{pilot['id']}")
    expect(page.locator("#decisions tr[data-decision]")).to_contain_text("provisional")
    assert page.locator("#decisions form").count() == 0
    assert console.errors() == []
