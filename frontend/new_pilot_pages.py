"""The new-pilot page: the form (its fields from the catalog), the live estimate, queueing the pilot, the
chosen dataset's extra fields, and the ImageFolder zip upload that fills the dataset path.

A dry run (``POST /api/v1/pilots`` with ``dry_run``) answers a ``PilotSubmission`` with the estimate; a
refusal's ``errors[]`` are mapped back onto the form fields (``frontend.forms``). The catalog is read as
the plain dict the API serves.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import UploadFile as StarletteUploadFile

from backend.schemas import PilotDetail, PilotSubmission
from frontend.client import CSRF_FIELD, ApiResult, PageApi
from frontend.clone import clone_values, hidden_values
from frontend.errors import refused
from frontend.forms import (
    FIELD_LABELS,
    ROI_INPUTS,
    ROI_LABELS,
    TRAINING_FIELDS,
    checkable,
    field_errors,
    form_problems,
    form_to_body,
    merged_errors,
    summary_entries,
)
from frontend.posted_form import form_items
from frontend.rendering import is_htmx, render
from frontend.setting_inputs import TrainingInputs, plain_number, training_inputs
from frontend.signin import signed_in
from pilot_spec.datasets import DATASETS

router = APIRouter(include_in_schema=False, dependencies=[Depends(signed_in)])


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
        **{f"training.{key}": plain_number(training.get(key, {}).get("default", "")) for key in TRAINING_FIELDS},
        **{f"roi.{key}": "" for key in ROI_INPUTS},
        "budget_cap": "",
    }


def _upload_cap(request: Request) -> int:
    return int(getattr(request.app.state.settings, "upload_max_bytes", 200 * 2**20))


def _limits_text(request: Request) -> str:
    return f"{_upload_cap(request) / 2**20:,.0f} MiB"


def _labels(inputs: TrainingInputs) -> dict[str, str]:
    """Each field's short name, in the order the page shows the fields (the error summary's order)."""
    generated = {item.key: item.label for item in inputs.all()}
    page_order = (
        *("name", "description", "dataset", "dataset_params.path", "upload", "dataset_params.image_size"),
        *("model", "width", *(item.key for item in inputs.model), "seeds", *(item.key for item in inputs.common)),
        *("queue", *(item.key for item in inputs.more), *(f"roi.{key}" for key in ROI_INPUTS), "budget_cap"),
        *("baseline_arm", "arms"),
    )
    return {key: FIELD_LABELS.get(key) or generated.get(key, key) for key in page_order}


def _form_page(
    request: Request, catalog: dict[str, Any], values: dict[str, Any], arms: list[str], **context: Any
) -> HTMLResponse:
    """The whole new-pilot page with ``values`` in its fields and the ``arms`` ticked.

    With ``errors``, the page opens on the error summary (each entry a link to its field), and the folded
    "More training settings" are unfolded when one of them is wrong.
    """
    errors: dict[str, list[str]] = context.setdefault("errors", {})
    context.setdefault("general", [])
    inputs = training_inputs(catalog.get("training", {}))
    shown = {item.key for item in inputs.all()}
    return render(
        request,
        "new_pilot.html",
        upload_limits=_limits_text(request),
        catalog=catalog,
        values=values,
        chosen=set(arms),
        training=inputs,
        more_open=any(item.key in errors for item in inputs.more),
        summary=summary_entries(errors, _labels(inputs), list(catalog.get("arms", {}))),
        roi_fields=ROI_INPUTS,
        roi_labels=ROI_LABELS,
        hidden=hidden_values(values, shown),
        **context,
    )


@router.get("/pilots/new", response_class=HTMLResponse)
async def new_pilot_page(request: Request, clone: int | None = None) -> Response:
    """The empty form, or with ``?clone=ID`` the form filled with that pilot's settings ("copy of ...")."""
    api = PageApi(request)
    catalog = await _catalog(api)
    if clone is None:
        return _form_page(request, catalog, _form_defaults(catalog), list(catalog.get("arms", {})))
    pilot = await api.read(f"/pilots/{clone}", PilotDetail)  # an unknown id is the API's 404 page
    values, arms = clone_values(pilot, catalog)
    return _form_page(request, catalog, {**_form_defaults(catalog), **values}, arms, cloned=pilot)


@router.post("/pilots/new/estimate", response_class=HTMLResponse)
async def new_pilot_estimate(request: Request) -> Response:
    """Dry run of the form as it stands: the estimate, or each field's message (out-of-band swaps)."""
    form = await form_items(request)
    body, order = form_to_body(form, dry_run=True)
    # A name is required to queue, not to estimate: no error while it is blank.
    own = form_problems(body, order, need_name=False)
    checked, checked_order = checkable(body, order)
    result = await PageApi(request).post("/pilots", json=checked)
    errors = merged_errors(own, field_errors(result.errors, checked_order) if result.status == 422 else {})
    submission = result.parsed(PilotSubmission) if result.ok else None
    # Only slots that exist in the form: an out-of-band swap without a target is an htmx console error. A
    # dataset change sends this request while the old dataset's fields are still in the form, and swaps them
    # out before the answer comes: only the chosen dataset's parameters have slots by then.
    dataset = DATASETS.get(str(body.get("dataset", "")))
    chosen = dataset.params if dataset is not None else {}
    form_keys = {
        key
        for key, _ in form
        if key != "arm" and not (key.startswith("dataset_params.") and key.split(".", 1)[1] not in chosen)
    }
    if not str(body.get("name", "")).strip():
        # The estimate does not judge a blank name: it leaves a refused submit's "Give the pilot a name" shown
        # (the estimate on the page's load would clear it), and clears it once a name is typed.
        form_keys.discard("name")
    all_keys = form_keys | {"arms"} | {f"arm.{arm}" for arm in order}
    all_keys |= {".".join(key.split(".")[:2]) for key in form_keys if key.startswith("arm.")}
    catalog = await _catalog(PageApi(request)) if errors else {}  # the labels and arms the summary names
    labels = _labels(training_inputs(catalog.get("training", {})))
    return render(
        request,
        "_estimate.html",
        estimate=submission.estimate if submission and not errors else None,
        submission=submission,
        errors=errors,
        summary=summary_entries(errors, labels, list(catalog.get("arms", {}))),
        slots=sorted(all_keys),
        detail=None if result.ok or result.status == 422 else result.detail,
    )


@router.post("/pilots/new", response_class=HTMLResponse)
async def new_pilot_submit(request: Request) -> Response:
    form = await form_items(request)
    body, order = form_to_body(form, dry_run=False)
    api = PageApi(request)
    own = form_problems(body, order)
    checked_order = order
    if own:
        # Refused by the form itself; a dry run still gathers what the API finds wrong with the rest.
        checked, checked_order = checkable(body, order)
        result = await api.post("/pilots", json=checked)
    else:
        result = await api.post("/pilots", json=body)
        if result.status == 201 and (pilot := result.parsed(PilotSubmission).pilot) is not None:
            return RedirectResponse(f"/pilots/{pilot.id}", status_code=303)
    catalog = await _catalog(api)
    errors = merged_errors(own, field_errors(result.errors, checked_order) if result.status == 422 else {})
    values = {key: value for key, value in form if key != "arm"}
    refused_otherwise = not result.ok and result.status != 422  # e.g. 403: say so, whatever the form found
    general = [result.detail] if refused_otherwise or not errors else []
    status = result.status if refused_otherwise or not errors else 422
    return _form_page(request, catalog, values, order, status_code=status, errors=errors, general=general)


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


async def _upload(request: Request, api: PageApi) -> ApiResult:
    """The posted zip → ``POST /api/v1/datasets``, or the refusal (too large, no file) without calling it."""
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > _upload_cap(request) + 64 * 1024:
        return ApiResult(status=413, body={"detail": f"the upload is over the limit of {_limits_text(request)}"})
    async with request.form(max_files=1, max_fields=10) as form:
        upload = form.get("file")
        name = form.get("name")
        if isinstance(csrf := form.get(CSRF_FIELD), str):
            request.state.form_csrf = csrf
        if not isinstance(upload, StarletteUploadFile) or not upload.filename:
            return ApiResult(status=422, body={"detail": "choose a .zip file to upload"})
        files = {"file": (upload.filename, upload.file, upload.content_type or "application/zip")}
        fields = {"name": name if isinstance(name, str) else ""}
        return await api.upload("/datasets", files=files, data=fields)


@router.post("/pilots/new/upload", response_class=HTMLResponse)
async def new_pilot_upload(request: Request) -> Response:
    """An ImageFolder zip → ``POST /api/v1/datasets``; the reason next to the field, or the path filled in.

    htmx gets the ``#upload-result`` line (and, on success, the path input swapped out of band); a browser
    without JavaScript gets the new-pilot page with the path filled or the reason shown.
    """
    if denied := refused(request, "submit"):
        return denied
    api = PageApi(request)
    result = await _upload(request, api)
    # The dataset's answer (backend/routes/datasets.py DatasetOut) is read as a dict: its model lives with
    # the route, which imports the store, so the pages cannot import it.
    path = result.body.get("path", "") if result.ok and isinstance(result.body, dict) else ""
    message = ""
    if path:
        classes = result.body.get("classes", {})
        counts = ", ".join(f"{label} ({count})" for label, count in classes.items())
        message = f"Uploaded {result.body.get('images', 0)} images in {len(classes)} classes: {counts}."
    error = "" if result.ok else result.detail
    if is_htmx(request):
        return render(request, "_upload_result.html", status_code=200, message=message, error=error, path=path)
    catalog = await _catalog(api)
    values = {**_form_defaults(catalog), "dataset": "imagefolder", "dataset_params.path": path}
    return _form_page(
        request,
        catalog,
        values,
        list(catalog.get("arms", {})),
        status_code=result.status if not result.ok else 200,
        errors={"upload": [error]} if error else {},
        upload_message=message,
    )
