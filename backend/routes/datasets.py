"""Datasets uploaded by users: an ImageFolder as a zip (checked, extracted into its own folder), the list, delete.

The checks live in ``backend.uploads``; this module maps a refusal to its status (413, 415 or 422) with the
reason in ``detail`` and in ``errors[0]`` for the ``file`` field. A body whose declared length is already
over the cap is refused before it is read. Uploads belong to their uploader and count against their quota;
the owner or an admin deletes one (``backend.dataset_quota``).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import fields
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, HTTPException, Request, Response, UploadFile
from fastapi import Path as PathParam
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field

from backend.auth.guard import Principal, require
from backend.auth.roles import Permission, Role
from backend.catalog import FieldError
from backend.dataset_quota import DatasetMissing, delete_upload, find_upload, paths_of, shown_path, used_bytes
from backend.errors import ERROR_RESPONSES, ErrorResponse, error_response, error_responses
from backend.quotas import effective
from backend.routes.deps import SettingsDep, StoreDep
from backend.settings import Settings
from backend.store import Conflict, NotFound
from backend.uploads import UploadedDataset, UploadLimits, UploadRefused, list_uploads, save_upload

# Room for the multipart framing and the name field around the zip itself.
FORM_OVERHEAD = 64 * 1024


class CappedBodyRoute(APIRoute):
    """Refuses a body whose Content-Length is over the upload cap (413) before it is read and spooled."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def capped(request: Request) -> Response:
            settings: Settings = request.app.state.settings
            length = request.headers.get("content-length", "")
            if (
                request.method == "POST"
                and length.isdigit()
                and int(length) > settings.upload_max_bytes + FORM_OVERHEAD
            ):
                return refusal(
                    UploadRefused(
                        413, f"the upload is {int(length):,} bytes; the limit is {settings.upload_max_bytes:,}"
                    )
                )
            return await handler(request)

        return capped


router = APIRouter(
    prefix="/datasets", tags=["datasets"], route_class=CappedBodyRoute, responses=error_responses(401, 403, 503)
)


class DatasetOut(BaseModel):
    name: str
    folder: str = Field(description="the dataset's folder name under <DATA_ROOT>/uploads/")
    path: str = Field(
        description="use as dataset_params.path with dataset 'imagefolder' (admins see the absolute path, "
        "others uploads/<folder>, relative to the data root)"
    )
    classes: dict[str, int] = Field(description="class name → number of images")
    images: int
    created_at: str
    owner: str | None = Field(default=None, description="who uploaded it (null: before owners were recorded)")
    bytes: int = Field(default=0, description="size once extracted: what counts against the owner's quota")


class DatasetList(BaseModel):
    items: list[DatasetOut]


def dataset_out(dataset: UploadedDataset, principal: Principal) -> DatasetOut:
    admin = principal.user.role == Role.ADMIN
    return DatasetOut(**{**dataset.to_json(), "path": shown_path(dataset, admin=admin)})


def refusal(error: UploadRefused) -> ErrorResponse:
    return error_response(error.status, [FieldError("file", error.reason)], detail=error.reason)


def limits_of(settings: Settings) -> UploadLimits:
    # Each limit is the setting of the same name behind ``upload_`` (UPLOAD_MAX_BYTES and so on).
    return UploadLimits(**{limit.name: getattr(settings, f"upload_{limit.name}") for limit in fields(UploadLimits)})


@router.post(
    "",
    status_code=201,
    response_model=DatasetOut,
    responses={
        413: {"model": ERROR_RESPONSES[422]["model"], "description": "over a size or file-count cap"},
        415: {"model": ERROR_RESPONSES[422]["model"], "description": "not a zip archive"},
        422: ERROR_RESPONSES[422],
    },
)
def upload_dataset(
    file: Annotated[UploadFile, File(description="a .zip of class folders of images: <class>/<image>")],
    settings: SettingsDep,
    store: StoreDep,
    principal: Annotated[Principal, require(Permission.SUBMIT)],
    name: Annotated[str, Form(max_length=200, description="a name for the dataset (default: the file's)")] = "",
) -> DatasetOut | ErrorResponse:
    """Upload an ImageFolder dataset as a zip; 201 with its path (for dataset 'imagefolder'), classes and counts."""
    label = name.strip() or (file.filename or "").rsplit("/", 1)[-1].removesuffix(".zip") or "dataset"
    owner = principal.user.name
    quota = effective(settings, store.usage.user_limits(name=owner))["upload_quota_bytes"]
    left = None if quota is None else int(quota) - used_bytes(settings.data_root, owner)
    try:
        dataset = save_upload(
            file.file,
            name=label,
            data_root=settings.data_root,
            limits=limits_of(settings),
            owner=owner,
            quota_left=left,
        )
    except UploadRefused as error:
        return refusal(error)
    return dataset_out(dataset, principal)


@router.get("", response_model=DatasetList)
def list_datasets(settings: SettingsDep, principal: Annotated[Principal, require(Permission.READ)]) -> DatasetList:
    """List the uploaded datasets, newest first, with their path, classes and image counts."""
    return DatasetList(items=[dataset_out(d, principal) for d in list_uploads(settings.data_root)])


@router.delete(
    "/{folder}",
    status_code=204,
    responses={404: ERROR_RESPONSES[404], 409: ERROR_RESPONSES[409], 422: ERROR_RESPONSES[422]},
)
def delete_dataset(
    folder: Annotated[str, PathParam(min_length=1, max_length=200, description="the dataset's folder (GET lists it)")],
    settings: SettingsDep,
    store: StoreDep,
    principal: Annotated[Principal, require(Permission.SUBMIT)],
) -> Response:
    """Delete an uploaded dataset (its uploader or an admin); 409 while a queued or running pilot uses it."""
    try:
        dataset = find_upload(settings.data_root, folder)
    except DatasetMissing as error:
        raise NotFound(str(error)) from None
    user = principal.user
    if user.role != Role.ADMIN and dataset.owner != user.name:
        whose = f"belongs to {dataset.owner!r}" if dataset.owner else "has no recorded owner"
        raise HTTPException(403, f"the dataset {folder!r} {whose}: only its uploader or an admin may delete it")
    using = store.usage.active_pilots_using(dataset="imagefolder", paths=paths_of(dataset))
    if using:
        listed = ", ".join(str(pilot_id) for pilot_id in using)
        raise Conflict(f"pilot(s) {listed} are training on {folder!r}: cancel them or wait for them to finish")
    try:
        delete_upload(settings.data_root, dataset)
    except DatasetMissing as error:
        raise NotFound(str(error)) from None
    return Response(status_code=204)
