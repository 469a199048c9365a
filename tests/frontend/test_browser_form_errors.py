"""In Chromium, at desktop width and at 390 px: a new-pilot form sent empty comes back with the error summary
focused, each entry a link that takes the focus to its field, a folded field's section unfolded (issue 16).
The desktop run writes docs/screenshots/new_pilot_errors.png."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.support.browser import ENGINEER, Console, Site, add_session
from tests.support.chromium import CHROMIUM

playwright_api = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed")

SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def _focused_id(page: Any) -> str:
    return str(page.evaluate("document.activeElement && document.activeElement.id"))


@pytest.mark.parametrize("width", [1280, 390])
def test_an_empty_submit_shows_the_summary_and_its_links_reach_the_fields(
    site: Site, chromium_browser: Any, width: int
) -> None:
    context = chromium_browser.new_context(viewport={"width": width, "height": 900 if width > 400 else 844})
    add_session(context, site.url, ENGINEER)
    console = Console()
    page = console.watch(context.new_page())
    page.goto(f"{site.url}/pilots/new")
    expect = playwright_api.expect
    expect(page.locator("#estimate")).to_contain_text("device-hours", timeout=10_000)
    # Empty: no name and no arm ticked; one folded setting out of its bounds.
    for box in page.locator("input[name='arm']").all():
        box.uncheck()
    page.locator("#more-training > summary").click()
    page.fill("#f-training-label_noise", "1.5")
    page.locator("#more-training > summary").click()  # folded again: the answer must unfold it
    page.get_by_role("button", name="Queue the pilot").click()

    summary = page.locator("#error-summary")
    expect(summary).to_be_visible(timeout=10_000)
    expect(summary).to_have_attribute("role", "alert")
    expect(summary).to_contain_text("Name: Give the pilot a name")
    expect(summary).to_contain_text("Arms: Tick at least one arm")
    expect(summary).to_contain_text("Label noise: must be a fraction in [0, 1) (got 1.5)")
    assert _focused_id(page) == "error-summary"  # the focus moved to the summary
    expect(page.locator("#err-name")).to_have_text("Give the pilot a name")
    expect(page.locator("#more-training")).to_have_attribute("open", "")
    expect(page.locator("#err-training-label_noise")).to_contain_text("must be a fraction")
    if width > 400:
        page.screenshot(path=str(SHOTS / "new_pilot_errors.png"))

    summary.get_by_role("link", name="Name: Give the pilot a name").click()
    assert _focused_id(page) == "f-name"
    expect(page.locator("#f-name")).to_be_in_viewport()
    page.fill("#f-name", "named at last")
    # A link into the folded section: it is unfolded (closed here by hand first) and its field focused.
    page.evaluate("document.getElementById('more-training').open = false")
    summary.get_by_role("link", name="Label noise: must be a fraction in [0, 1) (got 1.5)").click()
    assert _focused_id(page) == "f-training-label_noise"
    expect(page.locator("#f-training-label_noise")).to_be_in_viewport()
    summary.get_by_role("link", name="Arms: Tick at least one arm").click()
    assert _focused_id(page).startswith("f-arm-")
    # Nothing overflows the phone's width.
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    context.close()
    assert site.queue.sent == []
    # The refusal is a 422 (the page working); no script errors, nothing against the CSP.
    assert console.errors(expected_statuses=frozenset({422})) == []
    assert console.csp_violations() == []
