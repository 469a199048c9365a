"""The worker reads an image folder only inside the data root, and never says where an outside path leads."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from rblock.data import DatasetError, load_dataset, open_dataset


def folder(root: Path, classes: int = 2, per_class: int = 3) -> Path:
    for c in range(classes):
        (root / f"c{c}").mkdir(parents=True)
        for i in range(per_class):
            Image.new("RGB", (8, 8), (40 * c, 10 * i, 0)).save(root / f"c{c}" / f"{i}.png")
    return root


@pytest.fixture
def root(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    folder(data / "uploads" / "mine")
    folder(tmp_path / "secret-place")
    (data / "uploads" / "link-out").symlink_to(tmp_path / "secret-place")
    return data


@pytest.mark.parametrize("where", ["/etc", "../x", "uploads/../../secret-place", "OUTSIDE", "uploads/link-out"])
def test_paths_outside_the_root_are_refused(root: Path, where: str) -> None:
    path = str(root.parent / "secret-place") if where == "OUTSIDE" else where
    for load in (load_dataset, open_dataset):
        with pytest.raises(DatasetError, match="leads outside the data root") as refused:
            load("imagefolder", data_root=root, path=path, image_size=8)
        if where != "OUTSIDE":  # the message echoes the user's value, never where it leads
            assert "secret-place" not in str(refused.value).replace(where, "")


def test_links_inside_the_folder_that_lead_out_are_refused(root: Path) -> None:
    mine = root / "uploads" / "mine"
    (mine / "c0" / "stolen.png").symlink_to(root.parent / "secret-place" / "c0" / "0.png")
    with pytest.raises(DatasetError, match=r"c0/stolen\.png in .* is a link that leads outside") as refused:
        load_dataset("imagefolder", data_root=root, path="uploads/mine", image_size=8)
    assert "secret-place" not in str(refused.value)
    (mine / "c0" / "stolen.png").unlink()
    (mine / "c9").symlink_to(root.parent / "secret-place" / "c1")
    with pytest.raises(DatasetError, match=r"c9 in .* is a link that leads outside"):
        load_dataset("imagefolder", data_root=root, path="uploads/mine", image_size=8)


def test_paths_inside_the_root_load(root: Path) -> None:
    relative = load_dataset("imagefolder", data_root=root, path="uploads/mine", image_size=8, test_fraction=0.34)
    absolute = load_dataset(
        "imagefolder", data_root=root, path=str(root / "uploads" / "mine"), image_size=8, test_fraction=0.34
    )
    assert relative.class_names == absolute.class_names == ("c0", "c1")
    assert relative.train_x.shape == absolute.train_x.shape == (3, 3, 8, 8)
