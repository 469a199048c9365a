"""Helpers for dataset uploads: small PNG images, zip archives of them, and posting a zip to the API."""

from __future__ import annotations

import io
import zipfile

from PIL import Image

from tests.support.api import API, Api


def png(color: tuple[int, int, int] = (200, 10, 10), size: int = 8) -> bytes:
    """A square PNG image of one colour, as bytes."""
    buffer = io.BytesIO()
    Image.new("RGB", (size, size), color).save(buffer, format="PNG")
    return buffer.getvalue()


def make_zip(entries: dict[str, bytes], *, compression: int = zipfile.ZIP_STORED) -> bytes:
    """A zip archive of ``entries`` (name in the archive: bytes), as bytes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def good_entries() -> dict[str, bytes]:
    """A good ImageFolder dataset: two cat and three dog PNGs, each a different colour."""
    return {
        "cat/1.png": png((250, 0, 0)),
        "cat/2.png": png((240, 0, 0)),
        "dog/1.png": png((0, 250, 0)),
        "dog/2.png": png((0, 240, 0)),
        "dog/3.png": png((0, 230, 0)),
    }


def truncated_png() -> bytes:
    """The first 60 bytes of a PNG: a header that promises an image the file does not hold."""
    return png(size=64)[:60]


def upload(api: Api, data: bytes, name: str = "pets", filename: str = "pets.zip") -> tuple[int, dict[str, object]]:
    """POST ``data`` as a dataset zip named ``name``: (status code, JSON body)."""
    response = api.client.post(
        f"{API}/datasets", files={"file": (filename, data, "application/zip")}, data={"name": name}
    )
    return response.status_code, response.json()
