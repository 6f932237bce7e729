"""Real-data path: an ImageFolder tree the test writes with PIL."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw

from dqfl.data import DataConfig, held_out_arrays, load_partition, partition_arrays
from dqfl.errors import DqflError


def write_tree(root, classes=("0", "1", "a", "B"), per_class=10, size=(20, 28)):
    for name in classes:
        folder = root / name
        folder.mkdir(parents=True)
        for i in range(per_class):
            img = Image.new("L", size, 230)  # dark character on a light card
            ImageDraw.Draw(img).text((5, 6 + i % 3), name, fill=20)
            img.save(folder / f"{i}.png")
    return root


def cfg(root, **kw) -> DataConfig:
    base = dict(data_root=str(root), alphabet="plate", n_vehicles=3, test_per_class=2)
    return DataConfig(**{**base, "cache_dir": "", **kw})


def test_folder_is_split_into_vehicles_and_stratified_test(tmp_path):
    root = write_tree(tmp_path / "chars")
    c = cfg(root)
    x_te, y_te, region = held_out_arrays(c)
    assert x_te.shape == (8, 256) and x_te.dtype == np.float32
    assert np.all(np.bincount(y_te)[[0, 1, 10, 11]] == 2)  # "a" -> A (10), "B" -> 11
    assert np.all(region == -1)
    parts = [partition_arrays(c, v) for v in range(3)]
    assert sum(len(y) for _, y in parts) == 32  # 40 images - 8 held out
    assert all(len(y) >= 5 for _, y in parts)
    x, y = load_partition(c, 0)
    assert x.shape[1] == 256 and float(x.min()) >= 0 and float(x.max()) <= 1
    # character bright: the centre is brighter than the border
    img = x.numpy().reshape(-1, 16, 16)
    assert img[:, 5:11, 5:11].mean() > img[:, 0].mean()
    # deterministic
    assert np.array_equal(partition_arrays(c, 1)[0], parts[1][0])


def test_missing_and_empty_folders(tmp_path):
    with pytest.raises(DqflError, match="does not exist"):
        held_out_arrays(cfg(tmp_path / "missing"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(DqflError, match="no class folders"):
        held_out_arrays(cfg(tmp_path / "empty"))
    (tmp_path / "noimg" / "3").mkdir(parents=True)
    (tmp_path / "noimg" / "3" / "notes.txt").write_text("hi")
    with pytest.raises(DqflError, match="no images"):
        held_out_arrays(cfg(tmp_path / "noimg"))


def test_unknown_class_names_listed(tmp_path):
    root = write_tree(tmp_path / "chars", classes=("0", "1", "cat", "I"))
    with pytest.raises(DqflError, match=r"\['I', 'cat'\].*allowed names: 0, 1, 2") as err:
        held_out_arrays(cfg(root))
    assert "Z" in str(err.value)
    with pytest.raises(DqflError, match="not in the 'digits' alphabet"):
        held_out_arrays(cfg(write_tree(tmp_path / "d", classes=("5", "A")), alphabet="digits"))


def test_corrupt_image_is_skipped_and_counted(tmp_path):
    root = write_tree(tmp_path / "chars", classes=("4", "7"))
    (root / "7" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    with pytest.warns(UserWarning, match="skipped 1 unreadable image"):
        x, y, _ = held_out_arrays(cfg(root, alphabet="digits"))
    assert len(y) == 4
    total = len(y) + sum(
        len(partition_arrays(cfg(root, alphabet="digits"), v)[1]) for v in range(3)
    )
    assert total == 20
