"""Datasets uploaded by users: an ImageFolder as a zip (checked, extracted into its own folder), and the list.

The checks live in ``backend.uploads``; this module maps a refusal to its status (413, 415 or 422) with the
reason in ``detail`` and in ``errors[0]`` for the ``file`` field. A body whose declared length is already
over the cap is refused before it is read.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, Response, UploadFile
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field

from backend.auth.guard import require
from backend.auth.roles import Permission
from backend.catalog import FieldError
from backend.errors import ERROR_RESPONSES, ErrorResponse, error_response, error_responses
from backend.routes.deps import SettingsDep
from backend.settings import Settings
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
    path: str = Field(description="use as dataset_params.path with dataset 'imagefolder'")
    classes: dict[str, int] = Field(description="class name → number of images")
    images: int
    created_at: str


class DatasetList(BaseModel):
    items: list[DatasetOut]


def dataset_out(dataset: UploadedDataset) -> DatasetOut:
    return DatasetOut(**dataset.to_json())


def refusal(error: UploadRefused) -> ErrorResponse:
    return error_response(error.status, [FieldError("file", error.reason)], detail=error.reason)


def limits_of(settings: Settings) -> UploadLimits:
    return UploadLimits(
        max_bytes=settings.upload_max_bytes,
        max_uncompressed_bytes=settings.upload_max_uncompressed_bytes,
        max_files=settings.upload_max_files,
        max_ratio=settings.upload_max_ratio,
    )


@router.post(
    "",
    status_code=201,
    response_model=DatasetOut,
    responses={
        413: {"model": ERROR_RESPONSES[422]["model"], "description": "over a size or file-count cap"},
        415: {"model": ERROR_RESPONSES[422]["model"], "description": "not a zip archive"},
        422: ERROR_RESPONSES[422],
    },
    dependencies=[require(Permission.SUBMIT)],
)
def upload_dataset(
    file: Annotated[UploadFile, File(description="a .zip of class folders of images: <class>/<image>")],
    settings: SettingsDep,
    name: Annotated[str, Form(max_length=200, description="a name for the dataset (default: the file's)")] = "",
) -> DatasetOut | ErrorResponse:
    """Upload an ImageFolder dataset as a zip; 201 with its path (for dataset 'imagefolder'), classes and counts."""
    label = name.strip() or (file.filename or "").rsplit("/", 1)[-1].removesuffix(".zip") or "dataset"
    try:
        dataset = save_upload(file.file, name=label, data_root=settings.data_root, limits=limits_of(settings))
    except UploadRefused as error:
        return refusal(error)
    return dataset_out(dataset)


@router.get("", response_model=DatasetList, dependencies=[require(Permission.READ)])
def list_datasets(settings: SettingsDep) -> DatasetList:
    """List the uploaded datasets, newest first, with their path, classes and image counts."""
    return DatasetList(items=[dataset_out(d) for d in list_uploads(settings.data_root)])
