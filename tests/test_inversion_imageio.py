"""Photo loading: every awkward file either loads as upright 8-bit RGB or raises one clear InputError."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from conftest import PHOTOS
from stylepaint.errors import InputError
from stylepaint.inversion import imageio
from stylepaint.inversion.imageio import load_photo


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    return np.asarray(Image.open(PHOTOS / "astronaut.png").convert("RGB"))


def test_plain_png_loads_unchanged(astronaut):
    photo = load_photo(PHOTOS / "astronaut.png")
    assert photo.pixels.dtype == np.uint8 and photo.pixels.shape == (512, 512, 3)
    assert np.array_equal(photo.pixels, astronaut)


def test_not_an_image(tmp_path):
    path = tmp_path / "notes.png"
    path.write_text("these are my holiday notes, not a picture")
    with pytest.raises(InputError, match="notes.png: not an image file"):
        load_photo(path)


def test_missing_empty_folder_and_truncated(tmp_path, astronaut):
    with pytest.raises(InputError, match="no such file"):
        load_photo(tmp_path / "nope.jpg")
    (tmp_path / "empty.jpg").write_bytes(b"")
    with pytest.raises(InputError, match="empty"):
        load_photo(tmp_path / "empty.jpg")
    with pytest.raises(InputError, match="folder"):
        load_photo(tmp_path)
    Image.fromarray(astronaut).save(tmp_path / "full.jpg")
    data = (tmp_path / "full.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[:200])
    with pytest.raises(InputError, match="cut.jpg"):
        load_photo(tmp_path / "cut.jpg")


def test_16bit_rgb_png(tmp_path, astronaut):
    import cv2

    cv2.imwrite(str(tmp_path / "deep.png"), astronaut[:, :, ::-1].astype(np.uint16) * 257)
    photo = load_photo(tmp_path / "deep.png")
    assert photo.pixels.dtype == np.uint8
    assert np.abs(photo.pixels.astype(int) - astronaut).max() <= 1


def test_16bit_grey_png(tmp_path, astronaut):
    grey = astronaut[:, :, 1].astype(np.uint16) * 257
    Image.fromarray(grey).save(tmp_path / "grey16.png")
    photo = load_photo(tmp_path / "grey16.png")
    assert photo.source_mode.startswith("I")
    assert photo.pixels.shape == (512, 512, 3)
    assert np.abs(photo.pixels[:, :, 0].astype(int) - astronaut[:, :, 1]).max() <= 1
    assert np.array_equal(photo.pixels[:, :, 0], photo.pixels[:, :, 2])


def test_cmyk_jpeg(tmp_path, astronaut):
    Image.fromarray(astronaut).convert("CMYK").save(tmp_path / "print.jpg", quality=95)
    photo = load_photo(tmp_path / "print.jpg")
    assert photo.source_mode == "CMYK"
    assert np.abs(photo.pixels.astype(float) - astronaut).mean() < 6


def test_palette_png_with_transparency(tmp_path, astronaut):
    pal = Image.fromarray(astronaut).quantize(64)
    pal.info["transparency"] = 0
    pal.save(tmp_path / "pal.png", transparency=0)
    photo = load_photo(tmp_path / "pal.png")
    assert photo.source_mode == "P"
    assert photo.pixels.shape == (512, 512, 3) and photo.pixels.dtype == np.uint8
    # transparent index composited over white; the rest close to the original
    idx = np.asarray(pal)
    assert (photo.pixels[idx == 0] == 255).all()
    assert np.abs(photo.pixels[idx != 0].astype(float) - astronaut[idx != 0]).mean() < 20


def test_grey_and_rgba(tmp_path, astronaut):
    Image.fromarray(astronaut).convert("L").save(tmp_path / "grey.png")
    photo = load_photo(tmp_path / "grey.png")
    assert photo.pixels.shape == (512, 512, 3)
    rgba = np.dstack([astronaut, np.zeros(astronaut.shape[:2], np.uint8)])
    Image.fromarray(rgba).save(tmp_path / "clear.png")
    assert (load_photo(tmp_path / "clear.png").pixels == 255).all()


def test_exif_rotated_jpeg_is_turned_upright(tmp_path, astronaut):
    # stored turned a quarter (as a phone held sideways writes it), orientation tag 6 says "turn back"
    stored = Image.fromarray(astronaut).transpose(Image.Transpose.ROTATE_90)
    exif = stored.getexif()
    exif[0x0112] = 6
    stored.save(tmp_path / "phone.jpg", exif=exif, quality=95)
    photo = load_photo(tmp_path / "phone.jpg")
    assert photo.orientation == 6
    assert photo.pixels.shape == astronaut.shape
    assert np.abs(photo.pixels.astype(float) - astronaut).mean() < 4


def test_arrays_and_floats():
    f = np.random.default_rng(0).random((40, 50, 3)).astype(np.float32)
    photo = load_photo(f)
    assert photo.pixels.dtype == np.uint8 and photo.pixels.shape == (40, 50, 3)
    with pytest.raises(InputError, match="shape"):
        load_photo(np.zeros((4, 5, 2), np.uint8))
    with pytest.raises(InputError, match="too small"):
        load_photo(np.zeros((8, 8, 3), np.uint8))


def test_too_many_megapixels_is_refused_clearly(tmp_path, astronaut, monkeypatch):
    Image.fromarray(astronaut).save(tmp_path / "big.png")
    monkeypatch.setattr(imageio, "MAX_PIXELS", 100_000)
    with pytest.raises(InputError, match="megapixels"):
        load_photo(tmp_path / "big.png")


def test_detection_view_downscales_and_keeps_the_original():
    photo = load_photo(np.zeros((3000, 2000, 3), np.uint8))
    view, scale = photo.detection_view(1000)
    assert view.shape == (1000, 667, 3)
    assert scale == pytest.approx(667 / 2000)
    assert photo.pixels.shape == (3000, 2000, 3)
