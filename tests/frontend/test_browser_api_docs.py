"""The "API" link in Chromium: Swagger UI renders the API's operations from the app alone (issue 16).

Every request the page makes goes to the app's own origin (the viewer used to come from a CDN: offline, a
blank page), the browser logs no error and no Content-Security-Policy violation, and a control shows that
the policy is enforced on this page (an injected inline script is refused and seen).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.support.browser import Console, Site, check_csp_is_reported, sign_in
from tests.support.chromium import CHROMIUM

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed")


def test_the_api_link_opens_swagger_ui_with_every_operation_and_no_csp_violation(
    site: Site, browser: tuple[Any, Console]
) -> None:
    page, console = browser
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    sign_in(page, site.url, "ada")
    page.get_by_role("link", name="API", exact=True).click()
    page.wait_for_url(f"{site.url}/api/v1/docs", timeout=10_000)

    operations = page.locator(".opblock")
    expect(operations.first).to_be_visible(timeout=20_000)
    paths = set(site.api("GET", "/openapi.json").json()["paths"])
    shown = operations.count()
    assert shown >= len(paths) > 20, (shown, len(paths))  # one block per operation, several per path
    expect(page.get_by_text("/api/v1/pilots/{pilot_id}/summary", exact=True).first).to_be_visible()
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("R-Block Pilot")

    # An operation opens (Swagger UI's own scripts run under the policy) and names its parameters.
    summary_op = page.locator(".opblock-summary-get", has_text="/api/v1/pilots/{pilot_id}/summary").first
    summary_op.click()
    expect(page.locator(".parameters").first).to_contain_text("pilot_id")

    outside = [url for url in requested if not url.startswith((site.url, "data:", "blob:"))]
    assert outside == [], f"the docs reached beyond the app: {outside}"
    assert console.csp_violations() == [], console.csp_violations()
    assert console.errors() == [], console.errors()
    check_csp_is_reported(page, console)
