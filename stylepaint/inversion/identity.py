"""Is it still the same person? dlib's face-recognition ResNet, as a reported measure.

``descriptor(rgb)`` is dlib's 128-d face embedding of the largest face in an image (found by
dlib's HOG detector, shaped by the 68 landmarks); two embeddings closer than
``SAME_PERSON_DISTANCE`` (0.6, dlib's own threshold, 99.38 % on LFW) are the same person. This
is the figure the StyleCLIP and e4e papers report for inversions and edits. dlib runs outside
torch: it measures and selects (the best of several inversion runs), it is never a gradient loss.

Generator crops are small (64-256 px) and, on the embedded default, drawn: when the detector
finds no face in a crop, the face is taken where the crop's alignment puts it (``crop_box``).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from stylepaint.errors import InputError
from stylepaint.inversion import landmarks

#: dlib's same-person threshold on the Euclidean distance of two descriptors.
SAME_PERSON_DISTANCE = 0.6
#: Faces are looked for on a copy at least this large (HOG finds faces of about 80 px and up).
MIN_SIDE = 256


@functools.lru_cache(maxsize=1)
def _resnet():
    path = landmarks.model_file(landmarks.FACE_RESNET)
    if path is None or not landmarks.available():
        return None
    try:
        import dlib

        return dlib.face_recognition_model_v1(str(path))
    except (ImportError, RuntimeError):
        return None


def available() -> bool:
    """Whether identity can be measured here (dlib and the face-recognition-models files)."""
    return _resnet() is not None


def _require():
    model = _resnet()
    if model is None:
        raise InputError("identity similarity needs dlib and its face models: pip install dlib-bin face-recognition-models")
    return model


def crop_box(size: int, left_eye=(0.38, 0.47), right_eye=(0.62, 0.47)) -> tuple[float, float, float, float]:
    """Where a face sits in an aligned ``size`` crop whose eyes are at the given fractions, as a
    dlib-style box (the HOG detector's box spans about 2.2 eye distances, eyes at 31 % of its height)."""
    d = (right_eye[0] - left_eye[0]) * size
    cx = (left_eye[0] + right_eye[0]) / 2 * size
    ey = (left_eye[1] + right_eye[1]) / 2 * size
    side = 2.2 * d
    top = ey - 0.31 * side
    return (cx - side / 2, top, cx + side / 2, top + side)


@dataclass
class Embedding:
    """A 128-d face descriptor and where its face was (in the image passed in)."""

    vector: np.ndarray
    box: tuple[float, float, float, float]
    found: bool  # False: the box was assumed (``crop_box``), not detected


def descriptor(rgb: np.ndarray, fallback_box=None) -> Embedding | None:
    """dlib's descriptor of the largest face in ``rgb`` (uint8 RGB); ``fallback_box`` (x0, y0, x1, y1)
    is used when no face is detected; None when neither gives a face."""
    import cv2

    from stylepaint.inversion.faces import hog_detector

    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"descriptor wants an RGB uint8 image, got {rgb.dtype} {rgb.shape}")
    model = _require()
    factor = max(1.0, MIN_SIDE / min(rgb.shape[:2]))
    view = rgb if factor == 1.0 else cv2.resize(rgb, None, fx=factor, fy=factor, interpolation=cv2.INTER_CUBIC)
    view = np.ascontiguousarray(view)
    rects = hog_detector()(view, 1)
    found = bool(rects)
    if found:
        r = max(rects, key=lambda r: r.area())
        box = (float(r.left()), float(r.top()), float(r.right() + 1), float(r.bottom() + 1))
    elif fallback_box is not None:
        box = tuple(float(v) * factor for v in fallback_box)
    else:
        return None
    s = landmarks.shape(view, box)
    vector = np.asarray(model.compute_face_descriptor(view, s), np.float64)
    return Embedding(vector, tuple(v / factor for v in box), found)


def distance(a: Embedding | np.ndarray, b: Embedding | np.ndarray) -> float:
    """Euclidean distance of two descriptors (below ``SAME_PERSON_DISTANCE``: the same person)."""
    va = a.vector if isinstance(a, Embedding) else np.asarray(a, np.float64)
    vb = b.vector if isinstance(b, Embedding) else np.asarray(b, np.float64)
    if va.shape != (128,) or vb.shape != (128,):
        raise ValueError(f"face descriptors are 128-d, got {va.shape} and {vb.shape}")
    return float(np.linalg.norm(va - vb))


def compare(a: np.ndarray, b: np.ndarray, fallback_box=None) -> dict:
    """Identity of two images of one face (photo crop vs inversion, before vs after an edit):
    ``{"distance", "same_person", "found": (bool, bool)}``; distance None when a face is missing."""
    ea, eb = descriptor(a, fallback_box), descriptor(b, _scaled(fallback_box, a, b))
    if ea is None or eb is None:
        return {"distance": None, "same_person": None, "found": (ea is not None and ea.found, eb is not None and eb.found)}
    d = distance(ea, eb)
    return {"distance": d, "same_person": d < SAME_PERSON_DISTANCE, "found": (ea.found, eb.found)}


def _scaled(box, a: np.ndarray, b: np.ndarray):
    """``box`` given in ``a``'s pixels, in ``b``'s (crops of one face at two resolutions)."""
    if box is None:
        return None
    f = b.shape[1] / a.shape[1]
    return tuple(v * f for v in box)


def describe(result: dict) -> str:
    """One line for a person: the distance and what dlib's threshold says of it."""
    if result["distance"] is None:
        return "identity: no face found to compare"
    verdict = "the same person" if result["same_person"] else "a different person"
    assumed = "" if all(result["found"]) else " (no face detected in one image: its position was taken from the alignment)"
    return (f"identity distance {result['distance']:.2f}: {verdict} by dlib's threshold "
            f"(same person below {SAME_PERSON_DISTANCE}){assumed}")
