"""dlib's 68 landmarks (FFHQ's alignment) and its identity distance, on the astronaut photo.

The eye and mouth corners below were marked by hand once on ``astronaut.png`` (512 x 512,
continuous pixel coordinates, from 10-20x nearest-neighbour zooms)."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from conftest import PHOTOS
from stylepaint.errors import InputError
from stylepaint.inversion import identity, landmarks
from stylepaint.inversion.alignment import FFHQ, compute_alignment, ffhq_square, portrait_spec
from stylepaint.inversion.faces import DlibDetector, find_faces, pick_face
from stylepaint.inversion.imageio import load_photo
from stylepaint.inversion.pipeline import find_face

#: Hand-marked on astronaut.png: image-left eye outer/inner corner, image-right eye inner/outer
#: corner, left/right mouth corner; iBUG-300W points 36, 39, 42, 45, 48, 54.
HAND_MARKED = {36: (192.0, 100.0), 39: (210.5, 101.0), 42: (236.5, 102.5), 45: (257.5, 104.0),
               48: (203.5, 140.0), 54: (244.0, 141.0)}


@pytest.fixture(scope="module")
def astronaut():
    return load_photo(PHOTOS / "astronaut.png").pixels


def test_the_landmark_model_ships_with_the_install():
    # face-recognition-models is a dependency: alignment as FFHQ made it is the normal path
    assert landmarks.model_file(landmarks.SHAPE_68) is not None and landmarks.available()
    assert identity.available()


def test_landmarks_sit_on_hand_marked_corners(astronaut):
    face = pick_face(find_faces(astronaut, "photo"))
    assert face.extra["eyes_refined"] == "landmarks68"
    points = face.landmarks
    assert points.shape == (68, 2)
    errors = {i: math.dist(points[i], p) for i, p in HAND_MARKED.items()}
    assert max(errors.values()) <= 5.0, errors
    # the eyes are the means of the eye contours, the mouth the middle of its corners
    assert np.allclose(face.left_eye, points[36:42].mean(0)) and np.allclose(face.right_eye, points[42:48].mean(0))
    assert np.allclose(face.mouth, (points[48] + points[54]) / 2)


def test_fallback_without_landmarks_still_finds_the_eyes(astronaut):
    with_points = pick_face(DlibDetector().detect(astronaut))
    blobs = pick_face(DlibDetector(use_landmarks=False).detect(astronaut))
    assert blobs.landmarks is None and blobs.extra["eyes_refined"] is not False
    assert math.dist(blobs.left_eye, with_points.left_eye) < 5 and math.dist(blobs.right_eye, with_points.right_eye) < 5


def test_landmarks_follow_a_turned_photo(astronaut):
    h, w = astronaut.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2.0, h / 2.0), 30.0, 1.0)
    turned = cv2.warpAffine(astronaut, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    upright = pick_face(find_faces(astronaut, "photo")).landmarks
    face = pick_face(find_faces(turned, "photo"))
    assert face.landmarks is not None
    expected = upright @ m[:, :2].T + m[:, 2]
    eyes_and_mouth = [36, 39, 42, 45, 48, 54]
    assert np.median(np.linalg.norm(face.landmarks[eyes_and_mouth] - expected[eyes_and_mouth], axis=1)) < 4.0


def test_ffhq_alignment_follows_ffhqs_recipe(astronaut):
    found = find_face(astronaut, spec=FFHQ, size=256)
    face, al = found.aligned.face, found.aligned.alignment
    left, right, ml, mr = (np.array(p) for p in landmarks.eyes_and_mouth(face.landmarks))
    eye_avg, eye_to_mouth = (left + right) / 2, (ml + mr) / 2 - (left + right) / 2
    # the crop's centre is a tenth of the eye-to-mouth vector below the eyes' midpoint ...
    assert np.allclose(al.to_crop([eye_avg + 0.1 * eye_to_mouth])[0], [128, 128], atol=1e-6)
    # ... and its side is twice the larger of 2x the eye distance and 1.8x the eye-to-mouth distance
    side = 2 * max(2 * np.hypot(*(right - left)), 1.8 * np.hypot(*eye_to_mouth))
    assert al.scale == pytest.approx(256 / side)
    # which, for this near-frontal face, puts the eyes close to the FFHQ spec's places
    eyes = al.to_crop([face.left_eye, face.right_eye]) / 256
    assert np.allclose(eyes, [FFHQ.left_eye, FFHQ.right_eye], atol=0.02)
    # the embedded portraits' alignment still puts the eyes exactly (its training data is drawn that way)
    spec = portrait_spec()
    al2 = compute_alignment(face, spec, 128, (512, 512))
    assert np.allclose(al2.to_crop([face.left_eye, face.right_eye]) / 128, [spec.left_eye, spec.right_eye], atol=1e-9)


def test_ffhq_square_is_turned_with_the_face():
    pts = np.zeros((68, 2))
    pts[36:42] = (40.0, 50.0)
    pts[42:48] = (60.0, 50.0)
    pts[48], pts[54] = (42.0, 80.0), (58.0, 80.0)
    c, x = ffhq_square(pts)
    # eye distance 20, eye-to-mouth 30: the half side is max(2 x 20, 1.8 x 30) = 54
    assert np.allclose(c, (50.0, 53.0)) and np.allclose(x, (54.0, 0.0))
    turn = np.array([[0.0, -1.0], [1.0, 0.0]])  # a quarter turn of the whole face
    c2, x2 = ffhq_square(pts @ turn.T)
    assert np.allclose(c2, turn @ c) and np.allclose(x2, turn @ x)


def test_identity_same_person_and_different_person(astronaut):
    from stylepaint.portraits.renderer import render_seed

    crop = find_face(astronaut, spec=FFHQ, size=256).aligned.crop
    box = identity.crop_box(256)
    small = cv2.resize(crop, (64, 64), interpolation=cv2.INTER_AREA)
    same = identity.compare(crop, small, box)
    assert same["distance"] < identity.SAME_PERSON_DISTANCE and same["same_person"]
    spec = portrait_spec()
    drawn, _ = render_seed(10_000_003, 256)
    other = identity.compare(crop, drawn, identity.crop_box(256, spec.left_eye, spec.right_eye))
    assert other["distance"] > identity.SAME_PERSON_DISTANCE and not other["same_person"]
    assert "a different person" in identity.describe(other)
    nothing = identity.compare(crop, np.full((64, 64, 3), 128, np.uint8))
    assert nothing["distance"] is None and "no face" in identity.describe(nothing)


def test_identity_without_dlibs_models_says_what_to_install(monkeypatch):
    monkeypatch.setattr(identity, "_resnet", lambda: None)
    with pytest.raises(InputError, match="pip install dlib-bin face-recognition-models"):
        identity.descriptor(np.zeros((64, 64, 3), np.uint8))
    with pytest.raises(ValueError, match="128-d"):
        identity.distance(np.zeros(128), np.zeros(64))
