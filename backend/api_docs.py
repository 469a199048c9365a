"""The API's interactive docs (Swagger UI) served whole by the app: no CDN, inside the Content-Security-Policy.

FastAPI's own docs page loads Swagger UI's script and style from a public CDN: offline it was a blank page,
and its policy had to allow that CDN and any inline script (issue 16). Here the viewer's files come from
the ``fastapi-offline`` package (a pinned dependency of the ``api`` extra, which ships Swagger UI's dist
files), mounted under :data:`ASSETS_PATH`, and the page is FastAPI's ``get_swagger_ui_html`` pointed at
them. The page is built once per app, so its one inline script (Swagger UI's start-up call) never changes:
the policy allows exactly that script by its SHA-256 (:func:`inline_script_hashes`), not ``'unsafe-inline'``.
Swagger UI's validator badge is off: it would load an image from validator.swagger.io.
"""

from __future__ import annotations

import base64
import hashlib
import re
from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

# Under the pages' /static, where a reader looks for the app's files; mounted before the pages' /static
# (frontend.site), so this more specific prefix answers first.
ASSETS_PATH = "/static/swagger"


def _assets_dir() -> Path:
    try:
        return Path(str(files("fastapi_offline") / "static"))
    except ModuleNotFoundError:
        raise RuntimeError(
            "the API docs' files come from the package fastapi-offline, which is not installed: "
            "reinstall the api extra (pip install -e '.[api]', or make run)"
        ) from None


ASSETS_DIR = _assets_dir()
SWAGGER_JS, SWAGGER_CSS, FAVICON = "swagger-ui-bundle.js", "swagger-ui.css", "favicon.png"
# The start-up call's options: no request to validator.swagger.io, and deep links to operations.
SWAGGER_PARAMETERS = {"validatorUrl": None, "deepLinking": True}

_INLINE_SCRIPT = re.compile(rb"<script>(.*?)</script>", re.DOTALL)


def docs_page(*, title: str, openapi_url: str) -> HTMLResponse:
    """Swagger UI's page with every asset on this origin."""
    return get_swagger_ui_html(
        openapi_url=openapi_url,
        title=f"{title} - API docs",
        swagger_js_url=f"{ASSETS_PATH}/{SWAGGER_JS}",
        swagger_css_url=f"{ASSETS_PATH}/{SWAGGER_CSS}",
        swagger_favicon_url=f"{ASSETS_PATH}/{FAVICON}",
        swagger_ui_parameters=SWAGGER_PARAMETERS,
    )


def inline_script_hashes(html: bytes) -> list[str]:
    """CSP source expressions ('sha256-...') of each inline ``<script>`` of ``html``, as browsers hash them."""
    return [
        f"'sha256-{base64.b64encode(hashlib.sha256(body).digest()).decode()}'" for body in _INLINE_SCRIPT.findall(html)
    ]


def install_docs(app: FastAPI, *, docs_path: str) -> list[str]:
    """Serve the docs at ``docs_path`` and their assets; returns the hashes of the page's inline scripts.

    The app must be built with ``docs_url=None`` (FastAPI's CDN page) and an ``openapi_url``.
    """
    assert app.openapi_url is not None and app.docs_url is None
    page = docs_page(title=app.title, openapi_url=app.openapi_url)
    app.mount(ASSETS_PATH, StaticFiles(directory=ASSETS_DIR), name="swagger-assets")

    async def api_docs() -> HTMLResponse:
        return HTMLResponse(page.body)

    app.add_api_route(docs_path, api_docs, methods=["GET"], include_in_schema=False)
    return inline_script_hashes(bytes(page.body))
