"""The API's interactive docs are served whole by the app (issue 16): every asset on this origin, each one
answering, and a Content-Security-Policy that allows the page's one inline script by its hash, nothing else.

Both apps are checked: the API alone (``backend.app``) and the API with the pages (``pilot_cli.webapp``),
whose own ``/static`` must not hide the docs' assets under ``/static/swagger``.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager

import pytest

from tests.support.api import API, Api, open_api
from tests.support.site import open_site

DOCS = f"{API}/docs"
OPENERS: dict[str, Callable[[str], AbstractContextManager[Api]]] = {"api alone": open_api, "api and pages": open_site}


@pytest.fixture(params=sorted(OPENERS))
def app(request: pytest.FixtureRequest, sqlite_url: str) -> Iterator[Api]:
    with OPENERS[request.param](sqlite_url) as opened:
        yield opened


def _asset_urls(page: str) -> list[str]:
    return re.findall(r'(?:src|href)="([^"]*)"', page)


def test_the_docs_page_references_only_same_origin_assets_and_each_answers(app: Api) -> None:
    response = app.client.get(DOCS, headers={"Authorization": ""})  # open to anyone, as before
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    page = response.text
    assets = _asset_urls(page)
    assert len(assets) == 3, assets  # the script, the style sheet, the icon
    assert all(url.startswith("/static/swagger/") for url in assets), assets
    assert "http://" not in page and "https://" not in page and "cdn" not in page.lower()
    for url in assets:
        asset = app.client.get(url, headers={"Authorization": ""})
        assert asset.status_code == 200, url
        assert len(asset.content) > 1000, url
    script = app.client.get(next(url for url in assets if url.endswith(".js")))
    assert script.headers["content-type"].startswith("text/javascript") and b"SwaggerUIBundle" in script.content
    css = app.client.get(next(url for url in assets if url.endswith(".css")))
    assert css.headers["content-type"].startswith("text/css")
    # What the page loads, Swagger UI's start-up call fetches: the OpenAPI document of this app.
    assert f"url: '{API}/openapi.json'" in page
    assert app.client.get(f"{API}/openapi.json").json()["info"]["title"] == "R-Block Pilot"


def test_the_docs_policy_allows_exactly_the_pages_inline_script(app: Api) -> None:
    response = app.client.get(DOCS)
    directives = (d.partition(" ") for d in response.headers["content-security-policy"].split("; "))
    policy = {name: sources for name, _, sources in directives}
    inline = re.findall(r"<script>(.*?)</script>", response.text, re.DOTALL)
    assert len(inline) == 1 and "SwaggerUIBundle(" in inline[0]
    digest = base64.b64encode(hashlib.sha256(inline[0].encode()).digest()).decode()
    assert policy["script-src"] == f"'self' 'sha256-{digest}'"
    assert "unsafe-inline" not in policy["script-src"] and "unsafe-eval" not in policy["script-src"]
    assert not any("http" in sources or "cdn" in sources for sources in policy.values()), policy
    assert policy["frame-ancestors"] == "'none'" and policy["connect-src"] == "'self'"
    # The validator badge would load an image from validator.swagger.io: switched off.
    assert '"validatorUrl": null' in inline[0]


def test_every_other_page_keeps_the_plain_policy(app: Api) -> None:
    for url in (f"{API}/health", "/static/swagger/swagger-ui.css", f"{API}/openapi.json"):
        assert "script-src 'self';" in app.client.get(url).headers["content-security-policy"], url


def test_only_one_docs_page(app: Api) -> None:
    paths = [getattr(route, "path", None) for route in app.client.app.routes]  # type: ignore[attr-defined]
    assert paths.count(DOCS) == 1 and f"{DOCS}/oauth2-redirect" not in paths and "/docs" not in paths
