"""In Chromium: a bad zip upload is refused with its reason, bad form input is marked and queues nothing,
and the New pilot page works from the keyboard (skip link, every control reachable, visible focus)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from backend.store import Store
from tests.browser import ARGS, CHROMIUM
from tests.frontend.test_browser import server  # noqa: F401  (the server fixture)

playwright_api = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed")


@pytest.fixture
def page() -> Iterator[Any]:
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        errors: list[str] = []
        tab = browser.new_page()
        tab.on("pageerror", lambda e: errors.append(str(e)))
        # A 4xx answer to a form is the page working (its message is shown); script errors are not.
        tab.on(
            "console",
            lambda m: (
                errors.append(m.text)
                if m.type == "error" and "the server responded with a status of 4" not in m.text
                else None
            ),
        )
        yield tab
        browser.close()
        assert errors == []


def test_a_bad_zip_is_refused_with_its_reason(server: tuple[str, Store], page: Any, tmp_path: Path) -> None:  # noqa: F811
    base, _store = server
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


def test_bad_input_is_marked_and_queues_nothing(server: tuple[str, Store], page: Any) -> None:  # noqa: F811
    base, store = server
    page.goto(f"{base}/pilots/new")
    page.fill("#f-name", "keyboard pilot")
    page.fill("#f-training-epochs", "0")
    page.get_by_role("button", name="Queue the pilot").click()
    playwright_api.expect(page.locator("#f-training-epochs")).to_have_attribute("aria-invalid", "true", timeout=10_000)
    assert page.locator("#err-training-epochs, [id$='training-epochs'].err").first.inner_text().strip()
    assert store.list_pilots()[1] == 0


def test_the_new_pilot_page_works_from_the_keyboard(server: tuple[str, Store], page: Any) -> None:  # noqa: F811
    base, _store = server
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
