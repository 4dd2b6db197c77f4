"""dlib's 68-point face landmarks, the points FFHQ's own alignment was made from.

The model files come with the ``face-recognition-models`` package (dlib's 68-point shape
predictor, its 5-point one, the CNN face detector and the face-recognition ResNet), installed
as plain files, so they work offline. That package's ``__init__`` imports ``pkg_resources``,
which recent setuptools no longer ship, so its folder is found without importing it.

Points follow the iBUG 300-W numbering (0-based): 36-41 the image-left eye (the person's right),
42-47 the image-right eye, 48 and 54 the mouth corners. Coordinates are continuous (a pixel
``i`` spans [i, i + 1]; dlib's integer pixel indices get + 0.5).
"""

from __future__ import annotations

import functools
import importlib.util
import sys
from pathlib import Path

import numpy as np

PACKAGE = "face_recognition_models"
SHAPE_68 = "shape_predictor_68_face_landmarks.dat"
FACE_RESNET = "dlib_face_recognition_resnet_model_v1.dat"

LEFT_EYE = slice(36, 42)
RIGHT_EYE = slice(42, 48)
MOUTH_LEFT, MOUTH_RIGHT = 48, 54


def model_file(name: str) -> Path | None:
    """A model file of the ``face-recognition-models`` package, or None when it is not installed.

    The installer bundles the files it uses as data (``installer/pyinstaller.spec``), found
    beside the frozen program."""
    folders: list[str] = []
    try:
        spec = importlib.util.find_spec(PACKAGE)
    except (ImportError, ValueError):
        spec = None
    if spec is not None and spec.submodule_search_locations:
        folders.extend(spec.submodule_search_locations)
    if getattr(sys, "frozen", False):
        folders.append(str(Path(getattr(sys, "_MEIPASS", Path(sys.executable).parent)) / PACKAGE))
    for folder in folders:
        path = Path(folder) / "models" / name
        if path.is_file():
            return path
    return None


@functools.lru_cache(maxsize=1)
def _predictor():
    path = model_file(SHAPE_68)
    if path is None:
        return None
    try:
        import dlib

        return dlib.shape_predictor(str(path))
    except (ImportError, RuntimeError):  # no dlib, or a damaged model file: the fallback is used
        return None


def available() -> bool:
    """Whether 68-point landmarks can be found on this installation (loads the model once)."""
    return _predictor() is not None


def shape(rgb: np.ndarray, box):
    """dlib's ``full_object_detection`` for the face in ``box`` (x0, y0, x1, y1), or None."""
    import dlib

    predictor = _predictor()
    if predictor is None:
        return None
    x0, y0, x1, y1 = (int(round(v)) for v in box)
    return predictor(np.ascontiguousarray(rgb), dlib.rectangle(x0, y0, x1 - 1, y1 - 1))


def landmarks68(rgb: np.ndarray, box) -> np.ndarray | None:
    """The 68 landmarks [68, 2] (continuous coordinates) of the face in ``box``, or None."""
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"landmarks68 wants an RGB uint8 image, got {rgb.dtype} {rgb.shape}")
    s = shape(rgb, box)
    if s is None:
        return None
    return np.array([(s.part(i).x + 0.5, s.part(i).y + 0.5) for i in range(s.num_parts)], np.float64)


def eyes_and_mouth(points: np.ndarray) -> tuple[tuple, tuple, tuple, tuple]:
    """(image-left eye centre, image-right eye centre, left mouth corner, right mouth corner)."""
    points = np.asarray(points, np.float64)
    if points.shape != (68, 2):
        raise ValueError(f"expected 68 landmarks [68, 2], got {points.shape}")
    left, right = points[LEFT_EYE].mean(0), points[RIGHT_EYE].mean(0)
    return tuple(left), tuple(right), tuple(points[MOUTH_LEFT]), tuple(points[MOUTH_RIGHT])
