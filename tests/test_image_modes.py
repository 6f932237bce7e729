"""Every PIL mode a crop folder can hold reads as the same 8-bit grey crop (files written with PIL
and read back through the loader); ink kept in the alpha channel is seen; unreadable files are
skipped with one warning and counted."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw

from dqfl.data import DataConfig
from dqfl.data.imagefolder import SkippedImagesWarning, _gray_loader, load_pool
from dqfl.data.preprocess import normalise, square_resize

SIZE = (20, 28)


def reference() -> np.ndarray:
    """An 8-bit crop with many grey levels: a light digit on a dark card, a ramp, a bar."""
    img = Image.new("L", SIZE, 25)
    draw = ImageDraw.Draw(img)
    draw.text((6, 8), "7", fill=235)
    draw.rectangle((2, 22, 17, 24), fill=140)
    arr = np.asarray(img).copy()
    arr[0, :] = np.linspace(10, 250, SIZE[0]).astype(np.uint8)
    return arr


def grey_palette() -> list[int]:
    return [v for i in range(256) for v in (i, i, i)]


def as_mode(ref: np.ndarray, mode: str) -> Image.Image:
    """``ref`` encoded in ``mode`` the way a camera, an editor or a script would save it."""
    grey = Image.fromarray(ref)
    if mode == "L":
        return grey
    if mode == "I;16":
        return Image.fromarray((ref.astype(np.uint16) * 257).astype(np.uint16))
    if mode == "I":
        return Image.fromarray(ref.astype(np.int32) * 257)  # 16-bit values in 32-bit ints
    if mode == "F":
        return Image.fromarray(ref.astype(np.float32) / 255.0)  # floats in [0, 1]
    if mode == "P":
        img = Image.frombytes("P", grey.size, grey.tobytes())
        img.putpalette(grey_palette())
        return img
    if mode == "LA":
        return Image.merge("LA", (grey, Image.new("L", grey.size, 255)))
    if mode == "RGB":
        return Image.merge("RGB", (grey, grey, grey))
    if mode == "RGBA":
        return Image.merge("RGBA", (grey, grey, grey, Image.new("L", grey.size, 255)))
    if mode == "CMYK":
        return Image.merge("RGB", (grey, grey, grey)).convert("CMYK")
    raise AssertionError(mode)


SUFFIX = {"I": ".tif", "F": ".tif", "CMYK": ".tif"}
MODES = ["L", "I;16", "I", "F", "P", "LA", "RGB", "RGBA", "CMYK"]


@pytest.mark.parametrize("mode", MODES)
def test_mode_reads_as_the_8bit_crop(mode: str, tmp_path) -> None:
    ref = reference()
    image = as_mode(ref, mode)
    assert image.mode == mode
    path = tmp_path / f"crop{SUFFIX.get(mode, '.png')}"
    image.save(path)
    with Image.open(path) as reopened:  # what the file really holds (I;16 PNGs, TIFF floats)
        assert reopened.mode in (mode, "I" if mode == "I;16" else mode)
    got = np.asarray(_gray_loader(str(path)))
    assert got.dtype == np.uint8
    np.testing.assert_array_equal(got, ref)


def test_one_bit_reads_as_its_black_and_white_crop(tmp_path) -> None:
    binary = np.where(reference() > 128, 255, 0).astype(np.uint8)
    Image.fromarray(binary).convert("1", dither=Image.Dither.NONE).save(tmp_path / "c.png")
    with Image.open(tmp_path / "c.png") as im:
        assert im.mode == "1"
    np.testing.assert_array_equal(np.asarray(_gray_loader(str(tmp_path / "c.png"))), binary)


@pytest.mark.parametrize(("mode", "ink"), [("LA", 0), ("RGBA", 0), ("RGBA", 255), ("LA", 255)])
def test_ink_in_the_alpha_channel_is_seen(mode: str, ink: int, tmp_path) -> None:
    """Transparent card, the character only in alpha: the model sees the same input as from
    the 8-bit crop of that character."""
    ref = reference()
    alpha = Image.fromarray(ref)
    colour = Image.new("L", alpha.size, ink)
    bands = (colour, alpha) if mode == "LA" else (colour, colour, colour, alpha)
    Image.merge(mode, bands).save(tmp_path / "c.png")
    crop = square_resize(_gray_loader(str(tmp_path / "c.png")), 16)
    expected = normalise(square_resize(Image.fromarray(ref), 16)[None])
    np.testing.assert_allclose(normalise(crop[None]), expected, atol=2 / 255)


def test_a_folder_of_every_mode_gives_identical_inputs(tmp_path) -> None:
    ref = reference()
    folder = tmp_path / "crops" / "7"
    folder.mkdir(parents=True)
    for i, mode in enumerate(MODES):
        as_mode(ref, mode).save(folder / f"{i}{SUFFIX.get(mode, '.png')}")
    pool = load_pool(DataConfig(data_root=str(tmp_path / "crops"), cache_dir=""))
    assert len(pool["x"]) == len(MODES) and int(pool["skipped"]) == 0
    np.testing.assert_array_equal(pool["x"], np.repeat(pool["x"][:1], len(MODES), axis=0))


def test_unreadable_files_are_skipped_once_and_counted(tmp_path) -> None:
    folder = tmp_path / "crops" / "3"
    folder.mkdir(parents=True)
    Image.fromarray(reference()).save(folder / "good.png")
    (folder / "garbage.png").write_bytes(b"\x89PNG not really")
    good = (folder / "good.png").read_bytes()
    (folder / "truncated.png").write_bytes(good[: len(good) // 2])
    with pytest.warns(SkippedImagesWarning, match="skipped 2 unreadable") as caught:
        pool = load_pool(DataConfig(data_root=str(tmp_path / "crops"), cache_dir=""))
    assert len([w for w in caught if w.category is SkippedImagesWarning]) == 1
    assert len(pool["x"]) == 1 and int(pool["skipped"]) == 2
