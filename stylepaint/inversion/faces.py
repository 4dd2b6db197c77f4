"""Finding faces and their eyes in a photo.

``find_faces(pixels)`` returns every face found, largest first, each with its box and eye
centres (and mouth centre when the detector gives one), in the pixel coordinates of the array
passed in. Detectors, tried in order until one finds a face:

* ``yunet``: OpenCV's ``FaceDetectorYN`` with a YuNet model file, when one is installed
  (``face_detection_yunet*.onnx`` in the models folder or the user's model cache; OpenCV 5's
  wheels ship none). Five landmarks, any roll.
* ``haar``: OpenCV's Haar cascades, when the installed OpenCV still has ``CascadeClassifier`` and
  its ``cv2.data.haarcascades`` files (OpenCV 4.x wheels).
* ``dlib``: dlib's HOG frontal face detector (built into the library, no model file), tried at
  0, ±20 and ±40° so tilted heads are found too. Eyes and mouth come from dlib's 68-point
  landmarks (``stylepaint.inversion.landmarks``, the points FFHQ was aligned with) when the
  ``face-recognition-models`` package is installed; otherwise the eyes are the darkest round
  blobs near where the box puts them.
* ``portrait``: the project's procedural portrait domain (``stylepaint.portraits``), whose
  eyes are drawn as dark irises on light sclera; used when the photo detectors find nothing.

A face too small to invert (eyes closer than ``MIN_EYE_DISTANCE`` pixels) is still returned
(the caller decides), flagged by ``Face.eye_distance``.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from stylepaint.errors import InputError
from stylepaint.inversion import landmarks

#: Eyes closer than this (in photo pixels) make a face too small to invert usefully.
MIN_EYE_DISTANCE = 12.0


@dataclass
class Face:
    """One face: box (x0, y0, x1, y1), detector score, eye centres, optional mouth centre."""

    box: tuple[float, float, float, float]
    score: float
    left_eye: tuple[float, float]  # the eye on the image's left
    right_eye: tuple[float, float]  # the eye on the image's right
    mouth: tuple[float, float] | None = None
    detector: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def area(self) -> float:
        x0, y0, x1, y1 = self.box
        return max(0.0, x1 - x0) * max(0.0, y1 - y0)

    @property
    def eye_distance(self) -> float:
        return float(math.hypot(self.right_eye[0] - self.left_eye[0], self.right_eye[1] - self.left_eye[1]))

    @property
    def roll_deg(self) -> float:
        """Angle of the eye line, degrees; positive when the image-right eye is lower."""
        dx = self.right_eye[0] - self.left_eye[0]
        dy = self.right_eye[1] - self.left_eye[1]
        return float(math.degrees(math.atan2(dy, dx)))

    def scaled(self, factor: float) -> Face:
        """The same face in coordinates multiplied by ``factor`` (detection view -> photo)."""

        def s(p):
            return None if p is None else (p[0] * factor, p[1] * factor)

        x0, y0, x1, y1 = self.box
        extra = dict(self.extra)
        if extra.get("landmarks") is not None:
            extra["landmarks"] = np.asarray(extra["landmarks"], np.float64) * factor
        return Face(
            (x0 * factor, y0 * factor, x1 * factor, y1 * factor),
            self.score,
            s(self.left_eye),
            s(self.right_eye),
            s(self.mouth),
            self.detector,
            extra,
        )

    @property
    def landmarks(self) -> np.ndarray | None:
        """dlib's 68 landmarks [68, 2] when the detector found them, else None."""
        points = self.extra.get("landmarks")
        return None if points is None else np.asarray(points, np.float64)

    def to_dict(self) -> dict:
        return {
            "box": list(map(float, self.box)),
            "score": float(self.score),
            "left_eye": list(map(float, self.left_eye)),
            "right_eye": list(map(float, self.right_eye)),
            "mouth": None if self.mouth is None else list(map(float, self.mouth)),
            "detector": self.detector,
            **({} if self.landmarks is None else {"landmarks": self.landmarks.tolist()}),
        }


# --------------------------------------------------------------------------- helpers


def _grey(pixels: np.ndarray) -> np.ndarray:
    import cv2

    if pixels.ndim == 2:
        return pixels
    return cv2.cvtColor(np.ascontiguousarray(pixels), cv2.COLOR_RGB2GRAY)


def _rotation(angle_deg: float, w: int, h: int) -> tuple[np.ndarray, tuple[int, int]]:
    """Affine matrix rotating an image by ``angle_deg`` (counter-clockwise) into an expanded canvas."""
    import cv2

    m = cv2.getRotationMatrix2D((w / 2.0, h / 2.0), angle_deg, 1.0)
    c, s = abs(m[0, 0]), abs(m[0, 1])
    nw, nh = int(math.ceil(h * s + w * c)), int(math.ceil(h * c + w * s))
    m[0, 2] += nw / 2.0 - w / 2.0
    m[1, 2] += nh / 2.0 - h / 2.0
    return m, (nw, nh)


def _apply(m: np.ndarray, p):
    return (m[0, 0] * p[0] + m[0, 1] * p[1] + m[0, 2], m[1, 0] * p[0] + m[1, 1] * p[1] + m[1, 2])


def _invert_affine(m: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.invertAffineTransform(m)


def _face_from_points(left, right, mouth, score, detector, box=None) -> Face:
    if left[0] > right[0]:
        left, right = right, left
    d = math.hypot(right[0] - left[0], right[1] - left[1])
    if box is None:
        cx = (left[0] + right[0]) / 2
        cy = (left[1] + right[1]) / 2
        box = (cx - d, cy - 0.8 * d, cx + d, cy + 1.6 * d)
    return Face(tuple(map(float, box)), float(score), tuple(map(float, left)), tuple(map(float, right)),
                None if mouth is None else tuple(map(float, mouth)), detector)


def _iou(a, b) -> float:
    x0, y0 = max(a[0], b[0]), max(a[1], b[1])
    x1, y1 = min(a[2], b[2]), min(a[3], b[3])
    inter = max(0.0, x1 - x0) * max(0.0, y1 - y0)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


# --------------------------------------------------------------------------- eye finding


def dark_blob(grey: np.ndarray, region, radius: float) -> tuple[float, float, float] | None:
    """Centre (x, y) and strength of the strongest dark round blob of about ``radius`` px in a region.

    ``region`` is (x0, y0, x1, y1) in pixels of ``grey``. The response is a Laplacian of Gaussian
    at the blob's scale (positive on dark blobs), refined to sub-pixel by a weighted centroid.
    """
    import cv2

    h, w = grey.shape
    x0, y0, x1, y1 = (int(round(v)) for v in region)
    x0, y0 = max(0, x0), max(0, y0)
    x1, y1 = min(w, x1), min(h, y1)
    if x1 - x0 < 3 or y1 - y0 < 3:
        return None
    pad = int(math.ceil(3 * radius)) + 1
    px0, py0, px1, py1 = max(0, x0 - pad), max(0, y0 - pad), min(w, x1 + pad), min(h, y1 + pad)
    patch = grey[py0:py1, px0:px1].astype(np.float32)
    sigma = max(0.7, radius / math.sqrt(2.0))
    blur = cv2.GaussianBlur(patch, (0, 0), sigma)
    log = cv2.Laplacian(blur, cv2.CV_32F, ksize=3) * sigma**2
    sub = log[y0 - py0 : y1 - py0, x0 - px0 : x1 - px0]
    iy, ix = np.unravel_index(int(np.argmax(sub)), sub.shape)
    peak = float(sub[iy, ix])
    r = max(1, int(round(radius)))
    ya, yb = max(0, iy - r), min(sub.shape[0], iy + r + 1)
    xa, xb = max(0, ix - r), min(sub.shape[1], ix + r + 1)
    wts = np.clip(sub[ya:yb, xa:xb], 0, None)
    if wts.sum() > 0:
        yy, xx = np.mgrid[ya:yb, xa:xb]
        cy, cx = float((yy * wts).sum() / wts.sum()), float((xx * wts).sum() / wts.sum())
    else:
        cy, cx = float(iy), float(ix)
    return cx + x0 + 0.5, cy + y0 + 0.5, peak


#: Where dlib's HOG box puts the eyes and mouth, as fractions of the box (measured on frontal faces).
_DLIB_LEFT_EYE = (0.30, 0.31)
_DLIB_RIGHT_EYE = (0.70, 0.31)
_DLIB_MOUTH = (0.50, 0.76)


def _eyes_in_box(grey: np.ndarray, box) -> tuple[tuple, tuple, bool]:
    """Eye centres inside a frontal face box: dark blobs near the expected places, else the places."""
    x0, y0, x1, y1 = box
    bw, bh = x1 - x0, y1 - y0
    guesses = []
    for ex, ey in (_DLIB_LEFT_EYE, _DLIB_RIGHT_EYE):
        gx, gy = x0 + ex * bw, y0 + ey * bh
        region = (gx - 0.13 * bw, gy - 0.09 * bh, gx + 0.13 * bw, gy + 0.10 * bh)
        blob = dark_blob(grey, region, radius=0.045 * bw)
        guesses.append(((gx, gy), blob))
    (gl, bl), (gr, br) = guesses
    if bl is None or br is None:
        return gl, gr, False
    left, right = (bl[0], bl[1]), (br[0], br[1])
    d = math.hypot(right[0] - left[0], right[1] - left[1])
    angle = math.degrees(math.atan2(right[1] - left[1], right[0] - left[0]))
    if not (0.25 * bw <= d <= 0.6 * bw) or abs(angle) > 20:
        return gl, gr, False
    return left, right, True


# --------------------------------------------------------------------------- detectors


@functools.lru_cache(maxsize=1)
def hog_detector():
    """dlib's HOG frontal face detector, built once (raises ImportError without dlib)."""
    import dlib

    return dlib.get_frontal_face_detector()


class Detector:
    """A face detector: ``detect(rgb) -> list[Face]`` in the array's pixel coordinates."""

    name = ""

    def detect(self, rgb: np.ndarray) -> list[Face]:  # pragma: no cover - interface
        raise NotImplementedError


class DlibDetector(Detector):
    """dlib's HOG frontal face detector, run on the photo turned by a few angles.

    HOG finds faces within about ±30° of upright, so the photo is also searched turned by ±20°
    and ±40°; each face keeps the turn where an upright sub-detector found it (else where it
    scored best), its eyes are refined there as dark blobs and everything is mapped back.
    """

    name = "dlib"

    def __init__(self, threshold: float = 0.3, angles=(0.0, 20.0, -20.0, 40.0, -40.0), use_landmarks: bool = True):
        self._detector = hog_detector()
        self.threshold = threshold
        self.angles = tuple(angles)
        self.use_landmarks = use_landmarks and landmarks.available()

    def _run(self, rgb: np.ndarray) -> list[Face]:
        grey = _grey(rgb)
        upsample = 1 if max(rgb.shape[:2]) <= 1024 else 0
        rects, scores, kinds = self._detector.run(rgb, upsample, self.threshold)
        faces = []
        for r, score, kind in zip(rects, scores, kinds):
            box = (float(r.left()), float(r.top()), float(r.right() + 1), float(r.bottom() + 1))
            points = None
            if self.use_landmarks:
                points = landmarks.landmarks68(rgb, box)
            if points is not None:
                left, right, mouth_l, mouth_r = landmarks.eyes_and_mouth(points)
                mouth = ((mouth_l[0] + mouth_r[0]) / 2, (mouth_l[1] + mouth_r[1]) / 2)
                refined = "landmarks68"
            else:
                left, right, refined = _eyes_in_box(grey, box)
                bw, bh = box[2] - box[0], box[3] - box[1]
                mouth = (box[0] + _DLIB_MOUTH[0] * bw, box[1] + _DLIB_MOUTH[1] * bh)
            face = _face_from_points(left, right, mouth, score, self.name, box)
            face.extra["eyes_refined"] = refined
            face.extra["landmarks"] = points
            # dlib's sub-detectors 0-2 look for upright faces, 3-4 for faces turned ~20-30 degrees
            face.extra["upright"] = int(kind) <= 2
            faces.append(face)
        return faces

    def detect(self, rgb: np.ndarray) -> list[Face]:
        import cv2

        rgb = np.ascontiguousarray(rgb)
        h, w = rgb.shape[:2]
        found: list[Face] = []
        for angle in self.angles:
            if angle == 0.0:
                found.extend(self._run(rgb))
                continue
            m, size = _rotation(angle, w, h)
            rotated = cv2.warpAffine(rgb, m, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            back = _invert_affine(m)
            for f in self._run(rotated):
                left, right = _apply(back, f.left_eye), _apply(back, f.right_eye)
                mouth = _apply(back, f.mouth) if f.mouth else None
                corners = [_apply(back, (x, y)) for x in f.box[::2] for y in f.box[1::2]]
                xs, ys = [c[0] for c in corners], [c[1] for c in corners]
                face = _face_from_points(left, right, mouth, f.score, self.name, (min(xs), min(ys), max(xs), max(ys)))
                face.extra = dict(f.extra, searched_angle=angle)
                if f.landmarks is not None:
                    face.extra["landmarks"] = f.landmarks @ back[:, :2].T + back[:, 2]
                found.append(face)
        return _same_face_suppress(found)


def _same_face_suppress(faces: list[Face]) -> list[Face]:
    """Keep the best detection of each face (same face: eye midpoints closer than half the eye
    distance): one found by an upright sub-detector first (its eyes are refined in an upright
    frame), then the highest score."""
    kept: list[Face] = []
    for f in sorted(faces, key=lambda f: (not f.extra.get("upright", True), -f.score)):
        mx, my = (f.left_eye[0] + f.right_eye[0]) / 2, (f.left_eye[1] + f.right_eye[1]) / 2
        same = False
        for k in kept:
            kx, ky = (k.left_eye[0] + k.right_eye[0]) / 2, (k.left_eye[1] + k.right_eye[1]) / 2
            if math.hypot(mx - kx, my - ky) < 0.5 * max(f.eye_distance, k.eye_distance) or _iou(f.box, k.box) > 0.3:
                same = True
                break
        if not same:
            kept.append(f)
    return kept


class YuNetDetector(Detector):
    """OpenCV's YuNet (``cv2.FaceDetectorYN``) with an installed ONNX model: box + five landmarks."""

    name = "yunet"

    def __init__(self, model_path: str | Path, score_threshold: float = 0.8):
        import cv2

        self._det = cv2.FaceDetectorYN.create(str(model_path), "", (320, 320), score_threshold, 0.3, 5000)

    def detect(self, rgb: np.ndarray) -> list[Face]:
        import cv2

        h, w = rgb.shape[:2]
        self._det.setInputSize((w, h))
        _, rows = self._det.detect(cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2BGR))
        faces = []
        for row in [] if rows is None else rows:
            x, y, bw, bh = row[:4]
            # landmarks: right eye (image-left), left eye (image-right), nose, mouth right, mouth left
            e1, e2 = (row[4], row[5]), (row[6], row[7])
            mouth = ((row[10] + row[12]) / 2, (row[11] + row[13]) / 2)
            faces.append(_face_from_points(e1, e2, mouth, float(row[14]), self.name, (x, y, x + bw, y + bh)))
        return faces


class HaarDetector(Detector):
    """OpenCV's Haar cascades (OpenCV 4.x wheels): frontal faces, then eyes inside each face."""

    name = "haar"

    def __init__(self, folder: str | Path):
        import cv2

        folder = Path(folder)
        self._faces = cv2.CascadeClassifier(str(folder / "haarcascade_frontalface_default.xml"))
        if self._faces.empty():
            raise OSError("no frontal face cascade")

    def detect(self, rgb: np.ndarray) -> list[Face]:
        grey = _grey(rgb)
        boxes = self._faces.detectMultiScale(grey, scaleFactor=1.1, minNeighbors=5, minSize=(24, 24))
        faces = []
        for x, y, bw, bh in [] if boxes is None else boxes:
            box = (float(x), float(y), float(x + bw), float(y + bh))
            left, right, _ = _eyes_in_box(grey, box)
            faces.append(_face_from_points(left, right, None, 1.0, self.name, box))
        return faces


def yunet_model_path() -> Path | None:
    """An installed YuNet ONNX model, if any (packaged models folder, then the user's cache)."""
    from stylepaint.paths import MODELS_DIR, user_cache_dir

    for folder in (MODELS_DIR, user_cache_dir() / "models"):
        if folder.is_dir():
            hits = sorted(folder.glob("**/face_detection_yunet*.onnx"))
            if hits:
                return hits[-1]
    return None


@functools.lru_cache(maxsize=1)
def photo_detectors() -> tuple[Detector, ...]:
    """The photo face detectors available on this installation, best first."""
    import cv2

    found: list[Detector] = []
    model = yunet_model_path()
    if model is not None and hasattr(cv2, "FaceDetectorYN"):
        try:
            found.append(YuNetDetector(model))
        except Exception:  # a broken model file: fall through to the others
            pass
    haar = getattr(getattr(cv2, "data", None), "haarcascades", None)
    if haar and hasattr(cv2, "CascadeClassifier"):
        try:
            found.append(HaarDetector(haar))
        except Exception:
            pass
    try:
        found.append(DlibDetector())
    except ImportError:
        pass
    return tuple(found)


def detectors_for(domain: str) -> list[Detector]:
    """Detectors for ``domain``: "photo", "portrait" (the procedural domain) or "auto" (photo, then portrait)."""
    if domain not in ("photo", "portrait", "auto"):
        raise InputError(f"unknown face domain {domain!r}; use photo, portrait or auto.")
    chain: list[Detector] = []
    if domain in ("photo", "auto"):
        chain.extend(photo_detectors())
    if domain in ("portrait", "auto"):
        from stylepaint.inversion.portrait_faces import PortraitDetector

        chain.append(PortraitDetector())
    if not chain:
        raise InputError(
            "no face detector is available: OpenCV 5 ships no face model; install dlib-bin "
            "(pip install dlib-bin) or a YuNet model through the model catalogue."
        )
    return chain


def find_faces(rgb: np.ndarray, domain: str = "auto") -> list[Face]:
    """Every face in an RGB uint8 array, largest first (empty list when none)."""
    for detector in detectors_for(domain):
        faces = detector.detect(rgb)
        if faces:
            return rank_faces(faces)
    return []


def rank_faces(faces: list[Face]) -> list[Face]:
    """Largest first among the confident faces (score at least half the best), then the rest."""
    best = max(f.score for f in faces)
    confident = [f for f in faces if f.score >= 0.5 * best]
    doubtful = [f for f in faces if f.score < 0.5 * best]
    return sorted(confident, key=lambda f: -f.area) + sorted(doubtful, key=lambda f: -f.area)


def pick_face(faces: list[Face], index: int | None = None, name: str = "photo") -> Face:
    """The face to edit: ``index`` into the list (largest first), the largest by default."""
    if not faces:
        raise InputError(f"{name}: no face found; use a photo with a clearly visible, roughly frontal face.")
    if index is None:
        index = 0
    if not 0 <= index < len(faces):
        raise InputError(f"{name}: face {index} asked for, but only {len(faces)} found (0..{len(faces) - 1}).")
    face = faces[index]
    if face.eye_distance < MIN_EYE_DISTANCE:
        raise InputError(
            f"{name}: the face is too small ({face.eye_distance:.0f} px between the eyes, at least "
            f"{MIN_EYE_DISTANCE:.0f} needed); use a larger photo or crop closer to the face."
        )
    return face
