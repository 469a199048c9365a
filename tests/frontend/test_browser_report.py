"""The pilot page's PDF link in Chromium (issue 13 §3): busy ("Making the PDF…", aria-busy, a spinner) from
the click until the download starts, then the PDF saved under the server's name; without JavaScript the
plain link downloads it. No console errors or CSP violations on the way."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.support.browser import ENGINEER, Console, Site, add_pilot, add_session, sign_in
from tests.support.chromium import CHROMIUM

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed")


def test_the_pdf_link_shows_the_pdf_being_made(site: Site, browser: tuple[Any, Console], tmp_path: Path) -> None:
    page, console = browser
    pilot = add_pilot(site, "reported pilot", finished=True)
    sign_in(page, site.url, ENGINEER, path=f"/pilots/{pilot['id']}")
    link = page.get_by_role("link", name="PDF", exact=True)
    with page.expect_download(timeout=60_000) as download:
        link.click()
        # A fresh pilot: no cached PDF, so making it takes a second or more (the charts, the layout).
        busy = page.locator('a[aria-busy="true"]')
        expect(busy).to_contain_text("Making the PDF…")
        expect(busy.locator(".spinner")).to_be_visible()
        expect(page.locator("#report-status")).to_have_text("Making the PDF…")
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    assert saved.name == f"pilot-{pilot['id']}-report.pdf" and saved.read_bytes().startswith(b"%PDF-")
    expect(link).not_to_have_attribute("aria-busy", "true")
    expect(link).to_have_text("PDF")
    assert console.errors() == [] and console.csp_violations() == []


def test_without_javascript_the_link_still_downloads(site: Site, chromium_browser: Any) -> None:
    pilot = add_pilot(site, "no script", finished=True)
    context = chromium_browser.new_context(java_script_enabled=False)
    try:
        add_session(context, site.url, ENGINEER)
        page = context.new_page()
        page.goto(f"{site.url}/pilots/{pilot['id']}")
        with page.expect_download(timeout=60_000) as download:
            page.get_by_role("link", name="PDF", exact=True).click()
        assert download.value.suggested_filename == f"pilot-{pilot['id']}-report.pdf"
    finally:
        context.close()
