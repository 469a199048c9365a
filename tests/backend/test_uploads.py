"""Dataset zip uploads: a good ImageFolder zip is extracted; every hostile or broken zip is refused with a 4xx
and its reason, and leaves nothing behind (the tree under DATA_ROOT is the same before and after)."""

from __future__ import annotations

import io
import random
import stat
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from backend.uploads import IMAGE_EXTENSIONS
from tests.support.api import API, Api, open_api
from tests.support.uploads import good_entries, make_zip, png, upload


def tree(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*")) if root.exists() else []


@pytest.fixture
def api(sqlite_url: str, tmp_path: Path) -> Iterator[Api]:
    with open_api(
        sqlite_url,
        data_root=tmp_path / "data",
        upload_max_bytes=200_000,
        upload_max_uncompressed_bytes=500_000,
        upload_max_files=20,
    ) as opened:
        yield opened


def test_good_zip_is_extracted_and_listed(api: Api) -> None:
    status, body = upload(api, make_zip(good_entries()), name="My pets!")
    assert status == 201, body
    path = Path(str(body["path"]))
    assert path.parent == api.settings.data_root / "uploads"
    assert path.name.startswith("My-pets-")
    assert body["classes"] == {"cat": 2, "dog": 3} and body["images"] == 5
    assert sorted(p.name for p in path.iterdir() if not p.name.startswith(".")) == ["cat", "dog"]
    assert (path / "dog" / "3.png").read_bytes() == good_entries()["dog/3.png"]
    assert not [p for p in (api.settings.data_root / "uploads").iterdir() if p.name.startswith(".partial")]
    listed = api.client.get(f"{API}/datasets").json()["items"]
    assert [item["path"] for item in listed] == [str(path)]
    # The catalog accepts it as an imagefolder dataset.
    dry = api.client.post(
        f"{API}/pilots",
        json={
            "name": "on the upload",
            "dataset": "imagefolder",
            "dataset_params": {"path": str(path)},
            "arms": [{"regularizer": "none"}, {"regularizer": "dropout"}],
            "seeds": 2,
            "training": {"epochs": 1},
            "dry_run": True,
        },
    )
    assert dry.status_code == 200, dry.text


def test_zipped_folder_is_taken_from_inside_and_junk_is_skipped(api: Api) -> None:
    entries = {f"pets/{name}": data for name, data in good_entries().items()}
    entries |= {"pets/.DS_Store": b"\0" * 10, "__MACOSX/pets/._cat": b"junk", "pets/cat/.hidden": b"x"}
    status, body = upload(api, make_zip(entries))
    assert status == 201, body
    assert body["classes"] == {"cat": 2, "dog": 3}


def symlink_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in good_entries().items():
            archive.writestr(name, data)
        link = zipfile.ZipInfo("cat/evil.png")
        link.create_system = 3
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(link, "/etc/passwd")
    return buffer.getvalue()


def two_symbols(n: int, seed: int) -> bytes:
    """Data that deflate shrinks about 7×: big once extracted, yet no zip bomb."""
    rng = random.Random(seed)
    return bytes(rng.choice(b"ab") for _ in range(n))


REFUSALS: dict[str, tuple[Callable[[], bytes], int, str]] = {
    "not a zip": (lambda: b"this is plain text, not a zip", 415, "not a zip archive"),
    "empty file": (lambda: b"", 415, "empty"),
    "too large": (
        lambda: make_zip({**good_entries(), "dog/big.png": b"\x89PNG" + bytes(range(256)) * 900}),
        413,
        "upload limit",
    ),
    "too many files": (lambda: make_zip({f"c{i % 2}/{i}.png": png() for i in range(21)}), 413, "more than 20 files"),
    "zip slip": (lambda: make_zip({**good_entries(), "../../escaped.png": png()}), 422, "points outside the upload"),
    "zip slip inside": (lambda: make_zip({**good_entries(), "cat/../../x.png": png()}), 422, "points outside"),
    "absolute path": (lambda: make_zip({**good_entries(), "/tmp/abs.png": png()}), 422, "absolute path"),
    "windows drive": (lambda: make_zip({**good_entries(), "C:\\x\\a.png": png()}), 422, "absolute path"),
    "symlink": (symlink_zip, 422, "symbolic link"),
    "zip bomb": (
        lambda: make_zip({**good_entries(), "dog/bomb.png": b"\0" * 1_000_000}, compression=zipfile.ZIP_DEFLATED),
        422,
        "zip bomb",
    ),
    "too large uncompressed": (
        lambda: make_zip(
            {**good_entries(), **{f"dog/f{i}.png": two_symbols(100_000, i) for i in range(6)}},
            compression=zipfile.ZIP_DEFLATED,
        ),
        413,
        "once extracted",
    ),
    "non-image extension": (
        lambda: make_zip({**good_entries(), "cat/readme.txt": b"hello"}),
        422,
        "'cat/readme.txt' is not an image",
    ),
    "not really an image": (
        lambda: make_zip({**good_entries(), "dog/fake.png": b"hello, not a png"}),
        422,
        "'dog/fake.png' is corrupt",
    ),
    # A truncated image with a good header passes here (only headers are read): the worker names it
    # (tests/backend/test_hardening_limits.py).
    "single class": (lambda: make_zip({"cat/1.png": png(), "cat/2.png": png()}), 422, "at least 2 class folders"),
    "no classes": (lambda: make_zip({"1.png": png(), "2.png": png()}), 422, "at the top of the zip"),
    "empty class": (lambda: make_zip({**good_entries(), "bird/": b""}), 422, "'bird' has no images"),
    "nested class": (lambda: make_zip({**good_entries(), "dog/puppy/1.png": png()}), 422, "inside a class folder"),
    "encrypted flag": (lambda: _encrypted(), 422, "encrypted"),
}


def _encrypted() -> bytes:
    data = bytearray(make_zip({**good_entries(), "cat/3.png": png()}))
    # Set the "encrypted" flag of the last entry in its central directory record.
    offset = data.rfind(b"PK\x01\x02")
    data[offset + 8] |= 0x1
    return bytes(data)


@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_refusals_leave_nothing_behind(api: Api, case: str, tmp_path: Path) -> None:
    build, expected_status, reason = REFUSALS[case]
    upload(api, make_zip(good_entries()))  # an earlier upload must stay as it is
    before = tree(tmp_path)
    status, body = upload(api, build())
    assert status == expected_status, (case, body)
    assert reason in str(body["detail"]), (case, body)
    assert body["errors"] == [{"field": "file", "message": body["detail"]}]
    assert tree(tmp_path) == before, case
    assert not (tmp_path / "escaped.png").exists() and not Path("/tmp/abs.png").exists()


def test_declared_length_over_the_cap_is_refused_before_reading(api: Api) -> None:
    response = api.client.post(
        f"{API}/datasets", files={"file": ("big.zip", b"x" * 300_000, "application/zip")}, data={"name": "big"}
    )
    assert response.status_code == 413 and "the limit is 200,000" in response.json()["detail"]
    assert tree(api.settings.data_root / "uploads") == []


def test_missing_file_field_is_a_422(api: Api) -> None:
    response = api.client.post(f"{API}/datasets", data={"name": "nothing"})
    assert response.status_code == 422 and "file" in response.json()["detail"]


def test_image_extensions_match_the_imagefolder_dataset() -> None:
    imagefolder = pytest.importorskip("rblock.data.imagefolder")
    assert imagefolder.IMAGE_EXTENSIONS == IMAGE_EXTENSIONS
