"""Paste-back: the edited crop goes back through the inverse transform; outside the feathered face
region the photo's pixels are untouched, bit for bit, at full resolution."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import PHOTOS
from stylepaint.inversion.alignment import FFHQ, Alignment, compute_alignment, warp_to_crop
from stylepaint.inversion.faces import Face
from stylepaint.inversion.imageio import load_photo
from stylepaint.inversion.pasteback import face_mask, paste_back, pasted_region
from stylepaint.inversion.pipeline import find_face


@pytest.fixture(scope="module")
def found():
    return find_face(PHOTOS / "astronaut.png", spec=FFHQ, size=128)


def test_outside_the_feathered_region_is_exactly_the_photo(found):
    photo = found.photo.pixels
    edited = 255 - found.aligned.crop  # an edit that changes every pixel of the crop
    out = paste_back(photo, edited, found.aligned.alignment)
    region = pasted_region(found.aligned.alignment)
    changed = (out != photo).any(axis=2)
    assert out.shape == photo.shape and out.dtype == np.uint8
    assert changed.sum() > 0.5 * region.sum()  # the face did change...
    assert not (changed & ~region).any()  # ...and nothing outside the feathered mask did
    assert np.array_equal(out[~region], photo[~region])
    # the region is the face: inside the crop's footprint, a fraction of the photo
    corners = found.aligned.alignment.crop_corners()
    ys, xs = np.nonzero(region)
    assert xs.min() >= corners[:, 0].min() - 1 and xs.max() <= corners[:, 0].max() + 1
    assert 0.02 < region.mean() < 0.3


def test_unchanged_crop_pastes_back_close_to_the_photo(found):
    photo = found.photo.pixels
    out = paste_back(photo, found.aligned.crop, found.aligned.alignment)
    region = pasted_region(found.aligned.alignment)
    err = np.abs(out[region].astype(float) - photo[region])
    assert err.mean() < 8  # only resampling blur (crop is 128 px, the face ~180 px in the photo)


def test_mask_is_feathered_and_zero_outside():
    m = face_mask(64)
    assert m.max() == 1.0 and m.min() == 0.0
    assert m[0].max() == 0.0 and m[:, 0].max() == 0.0  # borders are outside
    assert ((m > 0) & (m < 1)).sum() > 100  # a real feather, not a hard edge


def test_huge_photo_keeps_its_size_and_outside_pixels():
    rng = np.random.default_rng(0)
    photo = rng.integers(0, 256, (3000, 4000, 3), dtype=np.uint8)  # 12 MP of noise, no face needed
    face = Face((1800, 1200, 2300, 1700), 1.0, (1900.0, 1400.0), (2150.0, 1420.0))
    al = compute_alignment(face, FFHQ, 64, (4000, 3000))
    crop = warp_to_crop(photo, al)
    assert crop.shape == (64, 64, 3)
    out = paste_back(photo, np.zeros_like(crop), al)
    region = pasted_region(al)
    assert np.array_equal(out[~region], photo[~region])
    assert (out[region] != photo[region]).any()


def test_alignment_round_trips_through_a_dict(found):
    al = found.aligned.alignment
    again = Alignment.from_dict(al.to_dict())
    assert np.allclose(again.matrix, al.matrix) and again.size == al.size
    pts = np.array([[10.0, 20.0], [300.0, 400.0]])
    assert np.allclose(al.to_photo(al.to_crop(pts)), pts)


def test_wrong_photo_size_is_refused(found):
    with pytest.raises(ValueError):
        paste_back(load_photo(PHOTOS / "coffee.png").pixels, found.aligned.crop, found.aligned.alignment)


def test_40_megapixel_photo_is_found_on_a_small_copy_and_pasted_back_full_size(tmp_path):
    import cv2
    from PIL import Image

    base = load_photo(PHOTOS / "astronaut.png").pixels
    big = np.full((5480, 7300, 3), 200, np.uint8)  # 40 megapixels
    big[:, 910:6390] = cv2.resize(base, (5480, 5480), interpolation=cv2.INTER_LINEAR)
    Image.fromarray(big).save(tmp_path / "huge.jpg", quality=85)
    del big
    found = find_face(tmp_path / "huge.jpg", spec=FFHQ, size=64)
    photo = found.photo.pixels
    assert photo.shape == (5480, 7300, 3)  # the original is kept at full size
    face = found.aligned.face
    # same face as on the small photo, in full-size coordinates (scale 5480/512)
    assert face.eye_distance == pytest.approx(43.6 * 5480 / 512, rel=0.1)
    crop = found.aligned.crop
    assert crop.shape == (64, 64, 3)
    # the crop is a clean (area-averaged) downscale: the same alignment applied to the small photo
    k = 5480 / 512
    al = found.aligned.alignment
    small_al = Alignment(al.matrix @ np.array([[k, 0, 910], [0, k, 0], [0, 0, 1]]), 64, "ffhq", (512, 512))
    small = warp_to_crop(base, small_al)
    assert np.abs(crop.astype(float) - small).mean() < 4
    out = paste_back(photo, 255 - crop, found.aligned.alignment)
    assert out.shape == photo.shape
    region = pasted_region(found.aligned.alignment)
    assert np.array_equal(out[~region], photo[~region])
