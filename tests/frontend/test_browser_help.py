"""In Chromium: the plain-words help beside a metric opens and closes from the keyboard and its text is readable
on a desktop and at a phone's 390 px (issue 16)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pilot_spec.glossary import meaning
from tests.support.browser import ENGINEER, Console, Site, add_pilot, add_session
from tests.support.chromium import CHROMIUM

playwright_api = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed")


@pytest.mark.parametrize("width", [1280, 390], ids=["desktop", "phone"])
def test_the_help_beside_a_metric_opens_from_the_keyboard(site: Site, chromium_browser: Any, width: int) -> None:
    pilot = add_pilot(site, "plain words", finished=True)
    context = chromium_browser.new_context(viewport={"width": width, "height": 844})
    add_session(context, site.url, ENGINEER)
    console = Console()
    page = console.watch(context.new_page())
    page.goto(f"{site.url}/pilots/{pilot['id']}")

    button = page.locator('button.help[data-help="flip_rate"]').first  # the arms table's "Flip rate" heading
    text = page.locator(f"#{button.get_attribute('aria-controls')}")
    assert button.get_attribute("aria-label") == "What is Flip rate?"
    playwright_api.expect(text).to_be_hidden()
    # Reached with Tab from the control before it (no mouse), opened with Enter.
    button.evaluate("b => { const all = [...document.querySelectorAll('a, button, input, select, textarea')]; "
                    "all[all.indexOf(b) - 1].focus(); }")  # fmt: skip
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.dataset.help") == "flip_rate"
    page.keyboard.press("Enter")
    playwright_api.expect(button).to_have_attribute("aria-expanded", "true")
    playwright_api.expect(text).to_be_visible()
    assert text.inner_text() == meaning("flip_rate")
    # Readable where it opens: inside the viewport once scrolled to, lines wrapped rather than one long line.
    text.scroll_into_view_if_needed()
    box = text.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width, box
    assert box["height"] > 20  # the line wraps (its font is about 12 px high)
    page.keyboard.press("Escape")
    playwright_api.expect(button).to_have_attribute("aria-expanded", "false")
    playwright_api.expect(text).to_be_hidden()
    page.keyboard.press("Space")
    playwright_api.expect(text).to_be_visible()
    assert console.errors() == [] and console.csp_violations() == []
    context.close()
