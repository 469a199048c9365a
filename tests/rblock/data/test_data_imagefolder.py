"""Image folders: loading, resizing, the stratified split, and every error a user can run into."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

from rblock.data import DatasetError, load_dataset

COLOURS = {"apple": (200, 30, 30), "leaf": (30, 180, 40), "sky": (40, 60, 220)}


def make_folder(root: Path, per_class: int = 5) -> Path:
    """One subfolder per class of solid-colour images in assorted sizes, modes and formats."""
    for name, colour in COLOURS.items():
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            size = (20 + 7 * i, 16 + 3 * i)
            if i == 1:  # greyscale and RGBA sources are converted
                Image.new("L", size, int(np.mean(colour))).save(root / name / f"{i}.png")
            elif i == 2:
                Image.new("RGBA", size, (*colour, 255)).save(root / name / f"{i}.png")
            else:
                Image.new("RGB", size, colour).save(root / name / f"{i}.{'jpg' if i == 3 else 'png'}")
        (root / name / "notes.txt").write_text("not an image: ignored")
    (root / ".hidden").mkdir()
    return root


def test_imagefolder_loads_and_splits(tmp_path: Path) -> None:
    path = make_folder(tmp_path / "data")
    ds = load_dataset("imagefolder", data_root=tmp_path, path=str(path), image_size=16, data_seed=1)
    assert ds.class_names == ("apple", "leaf", "sky") and ds.num_classes == 3
    assert ds.train_x.shape == (12, 3, 16, 16) and ds.test_x.shape == (3, 3, 16, 16)
    assert sorted(ds.test_y.tolist()) == [0, 1, 2]  # stratified: one test image per class
    assert (ds.augment, ds.crop_padding, ds.flip) == (True, 2, True)
    # Un-normalised, a PNG image of "sky" is its colour.
    mean, std = torch.tensor(ds.mean).view(1, 3, 1, 1), torch.tensor(ds.std).view(1, 3, 1, 1)
    pixels = (ds.train_x * std + mean) * 255
    sky = pixels[ds.train_y == 2]
    assert any(torch.allclose(img, torch.tensor(COLOURS["sky"]).float().view(3, 1, 1), atol=1.0) for img in sky)


def test_imagefolder_grey_and_deterministic(tmp_path: Path) -> None:
    path = make_folder(tmp_path / "data")
    a = load_dataset("imagefolder", data_root=tmp_path, path=path, channels=1, image_size=8, flip=False)
    b = load_dataset("imagefolder", data_root=tmp_path, path=path, channels=1, image_size=8, flip=False)
    assert a.train_x.shape == (12, 1, 8, 8) and a.flip is False
    assert torch.equal(a.train_x, b.train_x) and torch.equal(a.test_y, b.test_y)


def test_imagefolder_requires_path() -> None:
    with pytest.raises(DatasetError, match="needs parameter 'path'"):
        load_dataset("imagefolder")


def test_imagefolder_missing_and_not_a_directory(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="does not exist"):
        load_dataset("imagefolder", data_root=tmp_path, path=str(tmp_path / "nope"))
    (tmp_path / "file.png").write_bytes(b"x")
    with pytest.raises(DatasetError, match="not a directory"):
        load_dataset("imagefolder", data_root=tmp_path, path=str(tmp_path / "file.png"))


def test_imagefolder_without_class_folders(tmp_path: Path) -> None:
    Image.new("RGB", (8, 8)).save(tmp_path / "loose.png")
    with pytest.raises(DatasetError, match="no class subfolders"):
        load_dataset("imagefolder", data_root=tmp_path, path=str(tmp_path))


def test_imagefolder_single_class(tmp_path: Path) -> None:
    (tmp_path / "only").mkdir()
    for i in range(4):
        Image.new("RGB", (8, 8)).save(tmp_path / "only" / f"{i}.png")
    with pytest.raises(DatasetError, match="single class"):
        load_dataset("imagefolder", data_root=tmp_path, path=str(tmp_path))


def test_imagefolder_class_without_images(tmp_path: Path) -> None:
    path = make_folder(tmp_path / "data")
    (path / "empty").mkdir()
    (path / "empty" / "readme.md").write_text("no images here")
    with pytest.raises(DatasetError, match=r"empty has no images"):
        load_dataset("imagefolder", data_root=tmp_path, path=str(path))


def test_imagefolder_corrupt_image_is_named(tmp_path: Path) -> None:
    path = make_folder(tmp_path / "data")
    (path / "leaf" / "broken.png").write_bytes(b"\x89PNG but not really")
    with pytest.raises(DatasetError, match=r"leaf[/\\]broken\.png"):
        load_dataset("imagefolder", data_root=tmp_path, path=str(path))


def test_imagefolder_too_few_images(tmp_path: Path) -> None:
    path = make_folder(tmp_path / "data", per_class=2)
    for extra in (path / "sky").glob("1.*"):
        extra.unlink()
    with pytest.raises(DatasetError, match=r"\['sky'\] have fewer than 2 images"):
        load_dataset("imagefolder", data_root=tmp_path, path=str(path))
    # 2 images per class, 6 in all: a test fraction of 0.1 holds out 1 image, fewer than the 3 classes.
    path = make_folder(tmp_path / "data2", per_class=2)
    with pytest.raises(DatasetError, match="cannot be split"):
        load_dataset("imagefolder", data_root=tmp_path, path=str(path), test_fraction=0.1)


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"image_size": 2}, "image_size"),
        ({"channels": 2}, "channels"),
        ({"test_fraction": 1.0}, "test_fraction"),
        ({"colour": True}, "allowed: channels, flip, image_size, path, test_fraction"),
    ],
)
def test_imagefolder_bad_params(tmp_path: Path, params: dict[str, Any], match: str) -> None:
    with pytest.raises(DatasetError, match=match):
        load_dataset("imagefolder", data_root=tmp_path, path=str(tmp_path), **params)
