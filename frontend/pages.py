"""The browser pages: Jinja2 templates (autoescaped) + htmx, served by the same app as the JSON API.

``install_pages(app)`` mounts ``/static`` (our CSS/JS and the vendored htmx), serves plotly.js from the
installed plotly package (no CDN, and always the version the backend's figures were built for), and adds
the page routes. Every read and write goes through the app's own JSON API in-process (``frontend.client``),
so the pages never touch the store. Pages that the browser polls return fragments (``_*.html``).
"""

from __future__ import annotations

import asyncio
import functools
import json
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.datastructures import UploadFile as StarletteUploadFile

from backend.figures import FIGURES
from frontend.client import CSRF_FIELD, ApiResult, PageApi
from frontend.forms import ROI_FIELDS, ROI_LABELS, TRAINING_FIELDS, dom_id, field_errors, field_id, form_to_body
from frontend.page_cache import cached_page

HERE = Path(__file__).parent
PAGE_SIZE = 50
STATUSES = ("queued", "running", "succeeded", "failed", "cancelled", "partial")
ACTIVE = {"queued", "running", "cancelling"}
# Figures shown under the comparison (curves are drawn live from the metrics instead).
COMPARISON_FIGURES = [name for name in ("accuracy_vs_cost", "stability", "roi") if name in FIGURES]

templates = Jinja2Templates(directory=HERE / "templates")


class SignInRequired(Exception):
    """No valid session: the browser goes to /login (and comes back to ``next`` afterwards)."""

    def __init__(self, next_path: str) -> None:
        self.next_path = next_path


class PasswordChangeRequired(Exception):
    """A one-time password is in use: the browser goes to /account to choose a new one first."""


class ApiRefused(Exception):
    """The API answered the sign-in check with an error other than 401 (e.g. 503: database down)."""

    def __init__(self, result: ApiResult) -> None:
        self.result = result


# Pages a user with a one-time password may still open: where they change it, and signing out.
PASSWORD_CHANGE_PATHS = frozenset({"/account", "/account/password", "/logout"})


async def signed_in(request: Request) -> None:
    """Every page's first step: who is the user (``request.state.me``, from GET /api/v1/auth/me)?"""
    result = await PageApi(request).get("/auth/me")
    if result.status == 401:
        query = f"?{request.url.query}" if request.url.query else ""
        raise SignInRequired(f"{request.url.path}{query}")
    if not result.ok:
        raise ApiRefused(result)
    request.state.me = result.body
    if result.body["user"]["must_change_password"] and request.url.path not in PASSWORD_CHANGE_PATHS:
        raise PasswordChangeRequired()


router = APIRouter(include_in_schema=False, dependencies=[Depends(signed_in)])


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def duration(start: Any, end: Any = None) -> str:
    """``1h 02m``, ``3m 05s``; empty before the start."""
    begin = _parse_time(start)
    if begin is None:
        return ""
    seconds = max(0, int(((_parse_time(end) or datetime.now(UTC)) - begin).total_seconds()))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h {minutes:02d}m" if hours else f"{minutes}m {secs:02d}s"


def eta(run: dict[str, Any]) -> str:
    """Remaining time of a running run, from its pace so far."""
    done, total = run.get("epochs_done") or 0, run.get("epochs_total") or 0
    begin = _parse_time(run.get("started_at"))
    if run.get("status") != "running" or not done or begin is None or done >= total:
        return ""
    elapsed = (datetime.now(UTC) - begin).total_seconds()
    return duration(datetime.now(UTC).isoformat(), None) if elapsed <= 0 else _seconds(elapsed / done * (total - done))


def _seconds(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m" if hours else f"{minutes}m {secs:02d}s"


def num(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if digits > 0 and value != 0 and abs(value) < 10 ** (-digits):
        return f"{value:.{max(1, digits - 1)}e}"
    return f"{value:,.{digits}f}"


def money(value: Any) -> str:
    return "–" if value is None else num(value, 2 if abs(value) >= 1 or value == 0 else 4)


def pct(value: Any) -> str:
    return "–" if value is None else f"{100 * value:.2f}%"


templates.env.filters.update(num=num, money=money, pct=pct, field_id=field_id, dom_id=dom_id)
templates.env.globals.update(duration=duration, eta=eta, statuses=STATUSES, active=ACTIVE)


def render(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    me = getattr(request.state, "me", None)
    context.setdefault("me", me)
    context.setdefault("csrf", (me or {}).get("csrf_token") or "")
    return templates.TemplateResponse(request, name, context, status_code=status_code)


def refused(request: Request, permission: str) -> HTMLResponse | None:
    """A 403 page when the signed-in user lacks ``permission`` (checked before reading a big upload)."""
    me = getattr(request.state, "me", None) or {}
    if permission in me.get("permissions", ()):
        return None
    user = me.get("user", {})
    detail = f"user {user.get('name')!r} is a {user.get('role')}; this needs the {permission} permission"
    return render(request, "error.html", status_code=403, status=403, detail=detail)


def problem(request: Request, result: ApiResult) -> HTMLResponse:
    """A page for an API error (404 for an unknown id, 503 when the database is down, ...)."""
    return render(request, "error.html", status_code=result.status, status=result.status, detail=result.detail)


async def form_items(request: Request) -> list[tuple[str, str]]:
    """The posted form (urlencoded, as browsers and htmx send it without file inputs).

    Parsed here rather than with ``request.form()``, which would also accept multipart bodies with files;
    only the dataset upload (``/pilots/new/upload``) takes a file. The CSRF field is taken out and kept
    for the API calls that follow (``frontend.client``).
    """
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind not in ("", "application/x-www-form-urlencoded"):
        # Refused before reading: a page form is small, while a multipart body may be as large as an upload.
        raise HTTPException(415, f"send this form as application/x-www-form-urlencoded (got {kind[:80]})")
    body = (await request.body()).decode("utf-8", errors="replace")
    items = parse_qsl(body, keep_blank_values=True, max_num_fields=2000)
    for key, value in items:
        if key == CSRF_FIELD:
            request.state.form_csrf = value
    return [(key, value) for key, value in items if key != CSRF_FIELD]


def _is_htmx(request: Request) -> bool:
    return request.headers.get("HX-Request") == "true"


# --- Pilots ---------------------------------------------------------------------------------------------


@router.get("/", response_class=HTMLResponse)
async def pilots_page(request: Request, status: str = "", page: int = 1) -> Response:
    """Every pilot, newest first, paginated; verdicts are loaded per row afterwards (one summary each)."""
    page = max(1, min(page, 10**6))
    status = status if status in STATUSES else ""
    query = {"offset": (page - 1) * PAGE_SIZE, "limit": PAGE_SIZE, **({"status": status} if status else {})}
    render = functools.partial(_render_pilots_page, request, page, status)
    return await cached_page(request, "/pilots", query, render)  # frontend/page_cache.py


async def _render_pilots_page(request: Request, page: int, status: str, result: ApiResult) -> Response:
    if not result.ok:
        return problem(request, result)
    total = result.body["total"]
    pages = max(1, math.ceil(total / PAGE_SIZE))
    name = "_pilot_rows.html" if _is_htmx(request) else "pilots.html"
    return render(request, name, pilots=result.body["items"], total=total, page=page, pages=pages, status=status)


@router.get("/pilots/{pilot_id:int}/verdict", response_class=HTMLResponse)
async def pilot_verdict(request: Request, pilot_id: int) -> Response:
    result = await PageApi(request).get(f"/pilots/{pilot_id}/summary", curves="none")
    if not result.ok:
        return HTMLResponse("")
    return render(request, "_verdicts.html", summary=result.body)


# --- New pilot ------------------------------------------------------------------------------------------


async def _catalog(api: PageApi) -> dict[str, Any]:
    result = await api.get("/catalog")
    return result.body if result.ok else {}


def _form_defaults(catalog: dict[str, Any]) -> dict[str, Any]:
    training = catalog.get("training", {})
    return {
        "name": "",
        "dataset": "digits" if "digits" in catalog.get("datasets", {}) else next(iter(catalog.get("datasets", {})), ""),
        "model": "small_cnn",
        "seeds": "3",
        "queue": "auto",
        "baseline_arm": "none",
        **{f"training.{key}": str(training.get(key, {}).get("default", "")) for key in TRAINING_FIELDS},
        **{f"roi.{key}": "" for key in (*ROI_FIELDS, "price_per_device_hour")},
        "budget_cap": "",
    }


def _upload_cap(request: Request) -> int:
    return int(getattr(request.app.state.settings, "upload_max_bytes", 200 * 2**20))


def _new_context(catalog: dict[str, Any], values: dict[str, Any], arms: list[str]) -> dict[str, Any]:
    return {
        "upload_limits": "",
        "catalog": catalog,
        "values": values,
        "chosen": set(arms),
        "training_fields": TRAINING_FIELDS,
        "roi_fields": (*ROI_FIELDS, "price_per_device_hour"),
        "roi_labels": ROI_LABELS,
    }


@router.get("/pilots/new", response_class=HTMLResponse)
async def new_pilot_page(request: Request) -> Response:
    catalog = await _catalog(PageApi(request))
    arms = list(catalog.get("arms", {}))
    context = {**_new_context(catalog, _form_defaults(catalog), arms), "upload_limits": _limits_text(request)}
    return render(request, "new_pilot.html", errors={}, general=[], **context)


@router.post("/pilots/new/estimate", response_class=HTMLResponse)
async def new_pilot_estimate(request: Request) -> Response:
    """Dry run of the form as it stands: the estimate, or each field's message (out-of-band swaps)."""
    form = await form_items(request)
    body, order = form_to_body(form, dry_run=True)
    if not str(body.get("name", "")).strip():
        body["name"] = "(unnamed)"  # a name is required to queue, not to estimate: no error while it is blank
    result = await PageApi(request).post("/pilots", json=body)
    errors = field_errors(result.body.get("errors", []), order) if result.status == 422 else {}
    estimate = result.body.get("estimate") if result.ok else None
    # Only slots that exist in the form: an out-of-band swap without a target is an htmx console error.
    form_keys = {key for key, _ in form if key != "arm"}
    all_keys = form_keys | {"arms"} | {f"arm.{arm}" for arm in order}
    all_keys |= {".".join(key.split(".")[:2]) for key in form_keys if key.startswith("arm.")}
    return render(
        request,
        "_estimate.html",
        estimate=estimate,
        submission=result.body if result.ok else None,
        errors=errors,
        slots=sorted(all_keys),
        detail=None if result.ok or result.status == 422 else result.detail,
    )


@router.post("/pilots/new", response_class=HTMLResponse)
async def new_pilot_submit(request: Request) -> Response:
    form = await form_items(request)
    body, order = form_to_body(form, dry_run=False)
    api = PageApi(request)
    result = await api.post("/pilots", json=body)
    if result.status == 201:
        return RedirectResponse(f"/pilots/{result.body['pilot']['id']}", status_code=303)
    catalog = await _catalog(api)
    errors = field_errors(result.body.get("errors", []), order) if result.status == 422 else {}
    values = {key: value for key, value in form if isinstance(value, str) and key != "arm"}
    general = [] if errors else [result.detail]
    return render(
        request,
        "new_pilot.html",
        status_code=result.status,
        errors=errors,
        general=general,
        **{**_new_context(catalog, values, order), "upload_limits": _limits_text(request)},
    )


@router.get("/pilots/new/dataset-params", response_class=HTMLResponse)
async def new_pilot_dataset_params(request: Request, dataset: str = "") -> Response:
    """The chosen dataset's extra fields (the imagefolder path and its zip upload), swapped in by htmx."""
    return render(
        request,
        "_dataset_params.html",
        dataset=dataset,
        values={},
        errors={},
        upload_limits=_limits_text(request),
    )


def _limits_text(request: Request) -> str:
    return f"{_upload_cap(request) / 2**20:,.0f} MiB"


@router.post("/pilots/new/upload", response_class=HTMLResponse)
async def new_pilot_upload(request: Request) -> Response:
    """An ImageFolder zip → ``POST /api/v1/datasets``; the reason next to the field, or the path filled in.

    htmx gets the ``#upload-result`` line (and, on success, the path input swapped out of band); a browser
    without JavaScript gets the new-pilot page with the path filled or the reason shown.
    """
    if denied := refused(request, "submit"):
        return denied
    api = PageApi(request)
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > _upload_cap(request) + 64 * 1024:
        result = ApiResult(status=413, body={"detail": f"the upload is over the limit of {_limits_text(request)}"})
    else:
        async with request.form(max_files=1, max_fields=10) as form:
            upload = form.get("file")
            name = form.get("name")
            if isinstance(csrf := form.get(CSRF_FIELD), str):
                request.state.form_csrf = csrf
            if not isinstance(upload, StarletteUploadFile) or not upload.filename:
                result = ApiResult(status=422, body={"detail": "choose a .zip file to upload"})
            else:
                files = {"file": (upload.filename, upload.file, upload.content_type or "application/zip")}
                fields = {"name": name if isinstance(name, str) else ""}
                result = await api.upload("/datasets", files=files, data=fields)
    path = result.body.get("path", "") if result.ok and isinstance(result.body, dict) else ""
    message = ""
    if path:
        classes = result.body.get("classes", {})
        counts = ", ".join(f"{label} ({count})" for label, count in classes.items())
        message = f"Uploaded {result.body.get('images', 0)} images in {len(classes)} classes: {counts}."
    error = "" if result.ok else result.detail
    if _is_htmx(request):
        return render(request, "_upload_result.html", status_code=200, message=message, error=error, path=path)
    catalog = await _catalog(api)
    values = {**_form_defaults(catalog), "dataset": "imagefolder", "dataset_params.path": path}
    return render(
        request,
        "new_pilot.html",
        status_code=result.status if not result.ok else 200,
        errors={"upload": [error]} if error else {},
        general=[],
        **{
            **_new_context(catalog, values, list(catalog.get("arms", {}))),
            "upload_limits": _limits_text(request),
            "upload_message": message,
        },
    )


# --- Pilot ----------------------------------------------------------------------------------------------


def _grid(pilot: dict[str, Any]) -> tuple[list[str], list[int], dict[tuple[str, int], dict[str, Any]]]:
    arms = [arm["name"] for arm in pilot["arms"]]
    seeds = sorted({run["seed"] for run in pilot["runs"]})
    cells = {(run["arm"], run["seed"]): run for run in pilot["runs"]}
    return arms, seeds, cells


async def _pilot(request: Request, pilot_id: int) -> ApiResult:
    return await PageApi(request).get(f"/pilots/{pilot_id}")


@router.get("/pilots/{pilot_id:int}", response_class=HTMLResponse)
async def pilot_page(request: Request, pilot_id: int) -> Response:
    render = functools.partial(_render_pilot_page, request, pilot_id)
    return await cached_page(request, f"/pilots/{pilot_id}/summary", {"curves": "none"}, render)  # page_cache.py


async def _render_pilot_page(request: Request, pilot_id: int, summary: ApiResult) -> Response:
    api = PageApi(request)
    # Both at once (each runs on the API's thread pool): one wait instead of two behind the other requests.
    result, decisions = await asyncio.gather(api.get(f"/pilots/{pilot_id}"), api.get(f"/pilots/{pilot_id}/decisions"))
    if not result.ok:
        return problem(request, result)
    pilot = result.body  # the decisions form posts to frontend/decisions.py
    arms, seeds, cells = _grid(pilot)
    run_arms = {run["id"]: run["arm"] for run in pilot["runs"]}
    return render(
        request,
        "pilot.html",
        pilot=pilot,
        arms=arms,
        seeds=seeds,
        cells=cells,
        summary=summary.body if summary.ok else None,
        summary_error=None if summary.ok else summary.detail,
        decisions=decisions.body["decisions"] if decisions.ok else [],
        run_arms=json.dumps(run_arms),
        figures=COMPARISON_FIGURES,
        roi_fields=(*ROI_FIELDS, "price_per_device_hour"),
        roi_labels=ROI_LABELS,
    )


@router.get("/pilots/{pilot_id:int}/runs", response_class=HTMLResponse)
async def pilot_runs_fragment(request: Request, pilot_id: int) -> Response:
    result = await _pilot(request, pilot_id)
    if not result.ok:
        return problem(request, result)
    arms, seeds, cells = _grid(result.body)
    return render(request, "_runs.html", pilot=result.body, arms=arms, seeds=seeds, cells=cells)


@router.get("/pilots/{pilot_id:int}/comparison", response_class=HTMLResponse)
async def pilot_comparison_fragment(request: Request, pilot_id: int) -> Response:
    result = await PageApi(request).get(f"/pilots/{pilot_id}/summary", curves="none")
    return render(
        request,
        "_comparison.html",
        pilot_id=pilot_id,
        summary=result.body if result.ok else None,
        summary_error=None if result.ok else result.detail,
    )


@router.post("/pilots/{pilot_id:int}/roi", response_class=HTMLResponse)
async def pilot_roi(request: Request, pilot_id: int) -> Response:
    """The manager's ROI inputs (form) → PUT /api/v1/pilots/{id}/roi → the comparison, recomputed."""
    form = await form_items(request)
    inputs: dict[str, Any] = {}
    for key in (*ROI_FIELDS, "price_per_device_hour"):
        raw = dict(form).get(key)
        if isinstance(raw, str) and raw.strip():
            try:
                inputs[key] = float(raw)
            except ValueError:
                inputs[key] = raw
    result = await PageApi(request).put(f"/pilots/{pilot_id}/roi", json=inputs)
    errors = field_errors(result.body.get("errors", []), []) if result.status == 422 else {}
    summary = (
        result.body if result.ok else (await PageApi(request).get(f"/pilots/{pilot_id}/summary", curves="none")).body
    )
    return render(
        request, "_comparison.html", pilot_id=pilot_id, summary=summary, summary_error=None, roi_errors=errors
    )


async def _action(request: Request, path: str, pilot_id: int | None) -> Response:
    api = PageApi(request)
    result = await api.post(path)
    if pilot_id is None:
        pilot_id = result.body.get("pilot_id") if isinstance(result.body, dict) else None
    if _is_htmx(request) and pilot_id is not None:
        pilot = await _pilot(request, pilot_id)
        if not pilot.ok:
            return problem(request, pilot)
        arms, seeds, cells = _grid(pilot.body)
        message = None if result.ok else result.detail
        return render(request, "_runs.html", pilot=pilot.body, arms=arms, seeds=seeds, cells=cells, message=message)
    if not result.ok:
        return problem(request, result)
    return RedirectResponse(f"/pilots/{pilot_id}" if pilot_id else "/", status_code=303)


@router.post("/pilots/{pilot_id:int}/cancel")
async def cancel_pilot(request: Request, pilot_id: int) -> Response:
    return await _action(request, f"/pilots/{pilot_id}/cancel", pilot_id)


@router.post("/runs/{run_id:int}/cancel")
async def cancel_run(request: Request, run_id: int) -> Response:
    return await _action(request, f"/runs/{run_id}/cancel", None)


@router.post("/runs/{run_id:int}/retry")
async def retry_run(request: Request, run_id: int) -> Response:
    return await _action(request, f"/runs/{run_id}/retry", None)


# --- Run, workers ---------------------------------------------------------------------------------------


@router.get("/runs/{run_id:int}", response_class=HTMLResponse)
async def run_page(request: Request, run_id: int) -> Response:
    result = await PageApi(request).get(f"/runs/{run_id}")
    if not result.ok:
        return problem(request, result)
    run = result.body
    config = json.dumps(run.get("config", {}), indent=2, sort_keys=True)
    return render(request, "run.html", run=run, config=config, cost=run.get("cost") or {})


@router.get("/workers", response_class=HTMLResponse)
async def workers_page(request: Request) -> Response:
    result = await PageApi(request).get("/workers")
    if not result.ok:
        return problem(request, result)
    return render(request, "workers.html", **result.body)
