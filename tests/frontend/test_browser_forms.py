"""In Chromium: a bad zip upload is refused with its reason, bad form input is marked and queues nothing,
and the New pilot page works from the keyboard (skip link, every control reachable, visible focus)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.browser import ENGINEER, Console, Site, sign_in
from tests.support.chromium import CHROMIUM

playwright_api = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed")


@pytest.fixture
def page(site: Site, chromium_browser: Any) -> Iterator[Any]:
    """A tab signed in as the engineer through the /login form."""
    context = chromium_browser.new_context()
    console = Console()
    tab = console.watch(context.new_page())
    sign_in(tab, site.url, ENGINEER)
    yield tab
    context.close()
    # A 4xx answer to a form is the page working (its message is shown); script errors are not, and
    # nothing may break the Content-Security-Policy.
    assert console.errors(expected_statuses=frozenset(range(400, 500))) == []
    assert console.csp_violations() == []


def test_a_bad_zip_is_refused_with_its_reason(site: Site, page: Any, tmp_path: Path) -> None:
    base = site.url
    bad = tmp_path / "photos.zip"
    bad.write_bytes(b"this is not a zip archive")
    page.goto(f"{base}/pilots/new")
    page.select_option("#f-dataset", "imagefolder")
    page.wait_for_selector("#f-upload-file")
    page.set_input_files("#f-upload-file", str(bad))
    page.get_by_role("button", name="Upload", exact=True).click()
    result = page.locator("#upload-result")
    playwright_api.expect(result).to_contain_text("not a zip archive", timeout=10_000)
    # htmx settles the new element's attributes after the swap: wait for the error styling.
    playwright_api.expect(result).to_have_class(re.compile(r"\berr\b"), timeout=10_000)


def test_bad_input_is_marked_and_queues_nothing(site: Site, page: Any) -> None:
    base, store = site.url, site.store
    page.goto(f"{base}/pilots/new")
    page.fill("#f-name", "keyboard pilot")
    page.fill("#f-training-epochs", "0")
    page.get_by_role("button", name="Queue the pilot").click()
    playwright_api.expect(page.locator("#f-training-epochs")).to_have_attribute("aria-invalid", "true", timeout=10_000)
    assert page.locator("#err-training-epochs, [id$='training-epochs'].err").first.inner_text().strip()
    assert store.list_pilots()[1] == 0
    assert site.queue.sent == []


def test_the_new_pilot_page_works_from_the_keyboard(site: Site, page: Any) -> None:
    base = site.url
    page.goto(f"{base}/pilots/new")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip"
    page.keyboard.press("Enter")
    assert page.evaluate("location.hash") == "#main"
    reached: list[str] = []
    for _ in range(150):
        page.keyboard.press("Tab")
        focused = page.evaluate(
            "(() => { const e = document.activeElement; const s = getComputedStyle(e);"
            " return [e.id || e.textContent.trim(), s.outlineStyle, s.boxShadow]; })()"
        )
        reached.append(focused[0])
        if focused[0] in ("f-name", "f-training-epochs"):
            assert focused[1] != "none" or focused[2] != "none", f"{focused[0]} shows no focus"
        if focused[0] == "Queue the pilot":
            break
    for control in ("f-name", "f-dataset", "f-model", "f-training-epochs", "f-queue", "Queue the pilot"):
        assert control in reached, (control, reached)
