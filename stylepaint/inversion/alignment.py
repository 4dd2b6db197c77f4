"""Aligning a found face the way the generator's training data was aligned, and keeping the transform.

An ``AlignSpec`` says where the two eye centres sit in the square training crops (fractions of
the side). Real face models follow FFHQ: eyes level, centred, about a quarter of the side apart,
a little above the middle (the FFHQ recipe puts the crop centre a tenth of the eye-to-mouth
vector below the eyes and makes the side about 4.1 eye distances; ``FFHQ`` below is what that
gives for an average face). The embedded portraits use ``stylepaint.portraits.alignment``.

Coordinates are continuous everywhere: a W x H image spans [0, W] x [0, H] and pixel ``i``'s
centre is ``i + 0.5`` (the convention of ``stylepaint.portraits.alignment``). The kept
``Alignment.matrix`` maps photo coordinates to crop coordinates.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from stylepaint.inversion.faces import Face


@dataclass(frozen=True)
class AlignSpec:
    """Where the eyes go in the crop: (x, y) fractions for the image-left and image-right eye."""

    name: str
    left_eye: tuple[float, float]
    right_eye: tuple[float, float]
    domain: str = "photo"  # which face detectors suit it: "photo" or "portrait"

    @property
    def eye_distance(self) -> float:
        return math.hypot(self.right_eye[0] - self.left_eye[0], self.right_eye[1] - self.left_eye[1])


#: FFHQ-style alignment (FFHQ, AFHQ-like and MetFaces models).
FFHQ = AlignSpec("ffhq", (0.38, 0.47), (0.62, 0.47), "photo")


def portrait_spec() -> AlignSpec:
    """The embedded procedural portraits' alignment (``stylepaint.portraits.alignment``)."""
    from stylepaint.portraits import alignment as pa

    half = pa.EYE_DISTANCE / 2
    return AlignSpec("portrait", (pa.EYE_CENTER_X - half, pa.EYE_LINE_Y), (pa.EYE_CENTER_X + half, pa.EYE_LINE_Y), "portrait")


def spec_for_model(model) -> AlignSpec:
    """The alignment for a model path: the portrait alignment for the embedded default, else FFHQ."""
    if model is None:
        return portrait_spec()
    try:
        from stylepaint.engine.checkpoints import default_model_path

        if Path(model).resolve() == Path(default_model_path()).resolve():
            return portrait_spec()
    except Exception:  # no embedded model installed: a path given is a real model
        pass
    return FFHQ


def spec_by_name(name: str) -> AlignSpec:
    if name == "ffhq":
        return FFHQ
    if name == "portrait":
        return portrait_spec()
    from stylepaint.errors import InputError

    raise InputError(f"unknown alignment {name!r}; use ffhq or portrait.")


def similarity(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """The 2x3 similarity (rotation, uniform scale, shift) taking the two points ``src`` onto ``dst``."""
    src = np.asarray(src, np.float64)
    dst = np.asarray(dst, np.float64)
    z = complex(*(dst[1] - dst[0])) / complex(*(src[1] - src[0]))
    m = np.array([[z.real, -z.imag, 0.0], [z.imag, z.real, 0.0]])
    m[:, 2] = dst[0] - m[:, :2] @ src[0]
    return m


def invert(m: np.ndarray) -> np.ndarray:
    a = np.vstack([m, [0.0, 0.0, 1.0]])
    return np.linalg.inv(a)[:2]


def to_opencv(m: np.ndarray) -> np.ndarray:
    """The same map in OpenCV's convention (pixel centres at integers)."""
    return np.array([[1, 0, -0.5], [0, 1, -0.5]]) @ np.vstack([m, [0, 0, 1]]) @ np.array([[1, 0, 0.5], [0, 1, 0.5], [0, 0, 1]])


@dataclass
class Alignment:
    """The kept transform: photo coordinates -> ``size`` x ``size`` crop coordinates."""

    matrix: np.ndarray  # [2, 3] float64
    size: int
    spec: str
    photo_size: tuple[int, int]  # (width, height) of the photo it refers to

    @property
    def scale(self) -> float:
        """Crop pixels per photo pixel."""
        return float(math.hypot(self.matrix[0, 0], self.matrix[1, 0]))

    @property
    def angle_deg(self) -> float:
        """Rotation the alignment applies (degrees, positive turns the photo clockwise on screen)."""
        return float(math.degrees(math.atan2(self.matrix[1, 0], self.matrix[0, 0])))

    @property
    def inverse(self) -> np.ndarray:
        return invert(self.matrix)

    def crop_corners(self) -> np.ndarray:
        """The crop's four corners in photo coordinates, [4, 2]."""
        inv = self.inverse
        s = float(self.size)
        pts = np.array([[0, 0], [s, 0], [s, s], [0, s]], np.float64)
        return pts @ inv[:, :2].T + inv[:, 2]

    def to_photo(self, points) -> np.ndarray:
        p = np.asarray(points, np.float64)
        inv = self.inverse
        return p @ inv[:, :2].T + inv[:, 2]

    def to_crop(self, points) -> np.ndarray:
        p = np.asarray(points, np.float64)
        return p @ self.matrix[:, :2].T + self.matrix[:, 2]

    def to_dict(self) -> dict:
        return {"matrix": self.matrix.tolist(), "size": int(self.size), "spec": self.spec, "photo_size": list(self.photo_size)}

    @classmethod
    def from_dict(cls, d: dict) -> Alignment:
        return cls(np.asarray(d["matrix"], np.float64), int(d["size"]), str(d["spec"]), tuple(int(v) for v in d["photo_size"]))


def ffhq_square(points68) -> tuple[np.ndarray, np.ndarray]:
    """FFHQ's crop square from 68 landmarks: (centre, half-side vector along the crop's x axis).

    The recipe of the FFHQ dataset: the crop's x axis is the eye line bent by the eye-to-mouth
    vector turned a quarter; its half side is the larger of twice the eye distance and 1.8 times
    the eye-to-mouth distance; the centre sits a tenth of the eye-to-mouth vector below the
    eyes' midpoint. So a face turned or with a long chin is framed as FFHQ framed it.
    """
    from stylepaint.inversion import landmarks

    left, right, mouth_l, mouth_r = (np.asarray(p, np.float64) for p in landmarks.eyes_and_mouth(points68))
    eye_avg, eye_to_eye = (left + right) / 2, right - left
    eye_to_mouth = (mouth_l + mouth_r) / 2 - eye_avg
    x = eye_to_eye - np.array([-eye_to_mouth[1], eye_to_mouth[0]])
    x /= np.hypot(*x)
    x *= max(np.hypot(*eye_to_eye) * 2.0, np.hypot(*eye_to_mouth) * 1.8)
    return eye_avg + 0.1 * eye_to_mouth, x


def compute_alignment(face: Face, spec: AlignSpec, size: int, photo_size: tuple[int, int]) -> Alignment:
    """The similarity that frames ``face`` in a ``size`` crop as ``spec``'s training data was framed.

    FFHQ-style specs with a face that has 68 landmarks use FFHQ's own recipe (``ffhq_square``);
    otherwise the eyes are put exactly where ``spec`` wants them.
    """
    photo_size = (int(photo_size[0]), int(photo_size[1]))
    if spec.domain == "photo" and face.landmarks is not None:
        centre, x = ffhq_square(face.landmarks)
        src = np.array([centre - x, centre + x])
        dst = np.array([[0.0, size / 2.0], [float(size), size / 2.0]])
        return Alignment(similarity(src, dst), int(size), spec.name, photo_size)
    src = np.array([face.left_eye, face.right_eye], np.float64)
    dst = np.array([spec.left_eye, spec.right_eye], np.float64) * float(size)
    return Alignment(similarity(src, dst), int(size), spec.name, photo_size)


def warp_to_crop(pixels: np.ndarray, alignment: Alignment) -> np.ndarray:
    """The aligned crop (uint8 [size, size, 3]); outside the photo is mirrored, as FFHQ pads.

    When the crop is much smaller than the face in the photo, the photo region is shrunk with
    area averaging first, so the crop does not alias (a 40-megapixel photo gives a clean crop).
    """
    import cv2

    m = alignment.matrix.copy()
    src = pixels
    scale = alignment.scale
    if scale < 0.8:
        corners = alignment.crop_corners()
        h, w = pixels.shape[:2]
        pad = 2.0 / scale
        x0 = int(max(0, math.floor(corners[:, 0].min() - pad)))
        y0 = int(max(0, math.floor(corners[:, 1].min() - pad)))
        x1 = int(min(w, math.ceil(corners[:, 0].max() + pad)))
        y1 = int(min(h, math.ceil(corners[:, 1].max() + pad)))
        if x1 - x0 >= 2 and y1 - y0 >= 2:
            region = pixels[y0:y1, x0:x1]
            f = min(1.0, scale * 1.25)
            rw, rh = max(2, round((x1 - x0) * f)), max(2, round((y1 - y0) * f))
            src = cv2.resize(region, (rw, rh), interpolation=cv2.INTER_AREA)
            fx, fy = rw / (x1 - x0), rh / (y1 - y0)
            # photo coords -> region coords: p' = (p - (x0, y0)) * (fx, fy); crop = m p = m (p'/f + origin)
            back = np.array([[1 / fx, 0, x0], [0, 1 / fy, y0], [0, 0, 1]])
            m = m @ back
    return cv2.warpAffine(
        np.ascontiguousarray(src), to_opencv(m), (alignment.size, alignment.size),
        flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101,
    )


@dataclass
class AlignedFace:
    """A face ready for inversion: the crop, the transform that made it, the face it came from."""

    crop: np.ndarray  # uint8 [size, size, 3]
    alignment: Alignment
    face: Face


def align_face(pixels: np.ndarray, face: Face, spec: AlignSpec, size: int) -> AlignedFace:
    """Compute the alignment for ``face`` and cut the crop from the full-resolution ``pixels``."""
    h, w = pixels.shape[:2]
    alignment = compute_alignment(face, spec, size, (w, h))
    return AlignedFace(warp_to_crop(pixels, alignment), alignment, face)
