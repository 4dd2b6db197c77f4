"""Finding the face of a procedural portrait (the embedded domain), where photo detectors fail.

The portraits' eyes are dark irises and pupils on light sclera, the strongest dark round blobs
of the picture at their scale. Candidates are the local maxima of a scale-normalised Laplacian
of Gaussian over a range of scales; the face is the pair of same-scale candidates whose
distance fits that scale (iris radius about a ninth of the eye distance) with the highest
weaker response, weighted by a skin-like bridge between them and by how much neutral light sclera lies on both sides of each iris
along the eye line, 1.3 iris radii out. The best-scoring pairs are then checked against a mean
portrait's edges: the image warped so that the pair lands on the canonical eyes must correlate with it
(this is what tells irises from lid corners and glasses). Both eyes are then refined at full resolution (sub-pixel centroids), which
is what makes the roll and scale precise enough for alignment.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from stylepaint.inversion.alignment import similarity, to_opencv
from stylepaint.inversion.faces import Detector, Face, _face_from_points, _grey

#: Iris radius over eye distance in the renders (0.025 / 0.22), and how far a pair may stray.
IRIS_RATIO = 0.114
RATIO_RANGE = (0.07, 0.35)
#: Lens radius over eye distance for glasses and sunglasses (dark lenses are blobs too).
LENS_RATIO = 0.26
#: The eye pair spans at least this fraction of the image's shorter side, at most the upper one.
DISTANCE_RANGE = (0.06, 0.6)
#: Largest |roll| of the eye line accepted, degrees.
MAX_ROLL = 60.0


class PortraitDetector(Detector):
    """Eye-pair detector for the procedural portrait domain."""

    name = "portrait"

    def __init__(self, min_response: float = 8.0, work_side: int = 320, verify: int = 300, refine: int = 16,
                 min_fit: float = 0.75):
        self.min_response = min_response
        self.work_side = work_side
        self.verify = verify
        self.refine = refine
        self.min_fit = min_fit

    def detect(self, rgb: np.ndarray) -> list[Face]:
        import cv2

        rgb = np.ascontiguousarray(rgb)
        grey_full = _grey(rgb)
        h, w = grey_full.shape
        k = min(1.0, self.work_side / max(h, w))
        small = cv2.resize(rgb, (max(1, round(w * k)), max(1, round(h * k))), interpolation=cv2.INTER_AREA) if k < 1 else rgb
        grey = _grey(small).astype(np.float32)
        sat = (small.max(axis=2).astype(np.float32) - small.min(axis=2).astype(np.float32))
        side = min(grey.shape)
        d_lo, d_hi = DISTANCE_RANGE[0] * side, DISTANCE_RANGE[1] * side
        radii = np.geomspace(max(1.5, IRIS_RATIO * d_lo), LENS_RATIO * d_hi, 16)
        sharp = cv2.GaussianBlur(grey, (0, 0), 1.0)
        pairs = []
        for r in radii:
            sigma = r / math.sqrt(2.0)
            blur = cv2.GaussianBlur(grey, (0, 0), sigma)
            log = cv2.Laplacian(blur, cv2.CV_32F, ksize=3) * sigma**2
            peaks = _peaks(log, int(max(2, round(r))), self.min_response)
            for i in range(len(peaks)):
                for j in range(i + 1, len(peaks)):
                    (xa, ya, va), (xb, yb, vb) = peaks[i], peaks[j]
                    if xa > xb:
                        xa, ya, va, xb, yb, vb = xb, yb, vb, xa, ya, va
                    d = math.hypot(xb - xa, yb - ya)
                    if not d_lo <= d <= d_hi or not RATIO_RANGE[0] <= r / d <= RATIO_RANGE[1]:
                        continue
                    if abs(math.degrees(math.atan2(yb - ya, xb - xa))) > MAX_ROLL:
                        continue
                    sclera = _sclera_evidence(sharp, sat, (xa, ya), (xb, yb), r)
                    balance = min(va, vb) / max(va, vb)
                    fit = math.exp(-((math.log(r / d / IRIS_RATIO)) ** 2) / 0.5)
                    lens = math.exp(-((math.log(r / d / LENS_RATIO)) ** 2) / 0.3)
                    score = min(va, vb) * (0.5 + 0.5 * balance) * max(fit * (0.05 + sclera**4), 0.5 * lens)
                    score *= _bridge_evidence(sharp, sat, (xa, ya), (xb, yb))
                    if score > 0:
                        pairs.append((score, (xa, ya), (xb, yb), r, d))
        if not pairs:
            return []
        pairs.sort(key=lambda p: -p[0])
        template = _template()
        ranked = sorted(pairs[: self.verify], key=lambda p: -_template_fit(grey, p[1], p[2], template))
        distinct: list = []
        for p in ranked:  # many pairs differ by a pixel: refine distinct hypotheses only
            if all(math.dist(p[1], q[1]) > 0.15 * p[4] or math.dist(p[2], q[2]) > 0.15 * p[4] for q in distinct):
                distinct.append(p)
            if len(distinct) >= self.refine:
                break
        best, best_fit = None, -2.0
        for score, a, b, r, d in distinct:
            a = ((a[0] + 0.5) / k, (a[1] + 0.5) / k)
            b = ((b[0] + 0.5) / k, (b[1] + 0.5) / k)
            for _ in range(3):
                a, b, eye_fit = _refine_eyes(grey_full, a, b)
            face_fit = _template_fit(grey, (a[0] * k - 0.5, a[1] * k - 0.5), (b[0] * k - 0.5, b[1] * k - 0.5), template)
            fit = eye_fit + 0.5 * face_fit
            if fit > best_fit:
                best, best_fit = (a, b, r), fit
        if best is None or best_fit < self.min_fit:
            return []
        a, b, r = best
        eyes = [a, b]
        face = _face_from_points(eyes[0], eyes[1], None, best_fit, self.name)
        face.extra["iris_radius"] = r / k
        face.extra["fit"] = best_fit
        return [face]


def _sclera_evidence(grey: np.ndarray, sat: np.ndarray, a, b, r: float) -> float:
    """Fraction of the four points beside the two irises (along the eye line) that look like sclera:
    nearly colourless and clearly lighter than the iris centre."""
    h, w = grey.shape
    d = math.hypot(b[0] - a[0], b[1] - a[1])
    ux, uy = (b[0] - a[0]) / d, (b[1] - a[1]) / d
    hits = 0
    for cx, cy in (a, b):
        centre = grey[min(h - 1, max(0, int(round(cy)))), min(w - 1, max(0, int(round(cx))))]
        for sgn in (-1.0, 1.0):
            hits += _looks_like_sclera(grey, sat, (cx + sgn * 1.3 * r * ux, cy + sgn * 1.3 * r * uy), centre)
    return hits / 4.0


#: Size of the canonical grey template the candidate pairs are checked against.
TEMPLATE_SIZE = 48


@functools.lru_cache(maxsize=1)
def _template() -> np.ndarray:
    """The mean grey portrait in canonical alignment (zero mean, unit norm), from a few renders."""
    import cv2

    from stylepaint.portraits.renderer import render, sample_portrait

    acc = np.zeros((TEMPLATE_SIZE, TEMPLATE_SIZE), np.float64)
    for seed in range(24):
        rec = sample_portrait(10_000 + seed)
        rec["nuisances"].update(tilt=0.0, shift_x=0.0, shift_y=0.0)
        img = render(rec, 96)
        small = cv2.resize(_grey(img), (TEMPLATE_SIZE, TEMPLATE_SIZE), interpolation=cv2.INTER_AREA)
        acc += _normalise(_edges(small.astype(np.float32)))
    return _normalise(acc * _face_window())


@functools.lru_cache(maxsize=1)
def _face_window() -> np.ndarray:
    """Soft ellipse over the inner face in the canonical frame: hair, body and background vary too much."""
    c = (np.arange(TEMPLATE_SIZE) + 0.5) / TEMPLATE_SIZE
    x = (c[None, :] - 0.5) / 0.24
    y = (c[:, None] - 0.52) / 0.24
    return np.clip(1.5 - np.sqrt(x * x + y * y), 0.0, 1.0)


def _edges(grey: np.ndarray) -> np.ndarray:
    """Gradient magnitude: what the template compares (colour-blind, unlike grey levels)."""
    import cv2

    gx = cv2.Sobel(grey, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(grey, cv2.CV_32F, 0, 1, ksize=3)
    return np.sqrt(gx * gx + gy * gy)


def _normalise(a: np.ndarray) -> np.ndarray:
    a = a.astype(np.float64) - a.mean()
    n = np.linalg.norm(a)
    return a / n if n > 0 else a


def _template_fit(grey: np.ndarray, a, b, template: np.ndarray) -> float:
    """Correlation of the image, aligned by the eye pair (a, b), with the canonical template."""
    import cv2

    from stylepaint.portraits import alignment

    size = template.shape[0]
    half = alignment.EYE_DISTANCE / 2
    dst = np.array([[alignment.EYE_CENTER_X - half, alignment.EYE_LINE_Y], [alignment.EYE_CENTER_X + half, alignment.EYE_LINE_Y]]) * size
    m = similarity(np.array([a, b], np.float64) + 0.5, dst)
    scale = math.hypot(m[0, 0], m[1, 0])
    if scale < 0.5:  # shrink first so the warp does not alias
        k = 2.0 * scale
        grey = cv2.resize(grey, None, fx=k, fy=k, interpolation=cv2.INTER_AREA)
        m = m.copy()
        m[:, :2] /= k
    warped = cv2.warpAffine(grey, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return float((_normalise(_edges(warped) * _face_window()) * template).sum())


#: Side of the canonical crop the eyes are refined in.
REFINE_SIZE = 160


def _canonical_eyes(size: float) -> np.ndarray:
    from stylepaint.portraits import alignment

    half = alignment.EYE_DISTANCE / 2
    return np.array([[alignment.EYE_CENTER_X - half, alignment.EYE_LINE_Y], [alignment.EYE_CENTER_X + half, alignment.EYE_LINE_Y]]) * size


def _refine_eyes(grey: np.ndarray, a, b):
    """Better eye centres (photo pixels, continuous) from rough ones: warp to the canonical frame,
    find each eye where the mean eye patch correlates best near its canonical place, map back.
    Also returns the weaker of the two eyes' correlation peaks (how eye-like the pair is)."""
    import cv2

    size = REFINE_SIZE
    dst = _canonical_eyes(size)
    m = similarity(np.array([a, b], np.float64), dst)
    scale = math.hypot(m[0, 0], m[1, 0])
    src, mm = grey, m.copy()
    if scale < 0.5:  # shrink first so the warp does not alias (continuous coordinates scale exactly)
        f = 2.0 * scale
        src = cv2.resize(grey, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)
        mm[:, :2] /= f
    canon = cv2.warpAffine(src.astype(np.float32), to_opencv(mm), (size, size), flags=cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_REPLICATE)
    inv = cv2.invertAffineTransform(m)
    out, peaks = [], []
    for side, (ex, ey) in enumerate(dst):
        best = None
        for templates in _eye_templates():
            patch = templates[side]
            ph, pw = patch.shape
            reach = int(round(0.045 * size))
            x0, y0 = int(round(ex - pw / 2)) - reach, int(round(ey - ph / 2)) - reach
            window = canon[max(0, y0) : y0 + ph + 2 * reach, max(0, x0) : x0 + pw + 2 * reach]
            if y0 < 0 or x0 < 0 or window.shape[0] < ph + 2 or window.shape[1] < pw + 2:
                continue
            score = cv2.matchTemplate(window, patch, cv2.TM_CCOEFF_NORMED)
            iy, ix = np.unravel_index(int(np.argmax(score)), score.shape)
            if best is None or score[iy, ix] > best[0]:
                dx, dy = _subpixel(score, ix, iy)
                # the template's centre sits on the canonical eye; where it fits best is the eye
                best = (float(score[iy, ix]), x0 + ix + dx + pw / 2, y0 + iy + dy + ph / 2)
        peak, px, py = best if best else (0.0, ex, ey)
        peaks.append(peak)
        out.append((inv[0, 0] * px + inv[0, 1] * py + inv[0, 2], inv[1, 0] * px + inv[1, 1] * py + inv[1, 2]))
    return out[0], out[1], min(peaks)


def _subpixel(score: np.ndarray, ix: int, iy: int) -> tuple[float, float]:
    """Parabolic sub-pixel offset of a correlation peak."""

    def fit(a, b, c):
        den = a - 2 * b + c
        return 0.0 if den >= 0 else float(np.clip(0.5 * (a - c) / den, -0.5, 0.5))

    h, w = score.shape
    dx = fit(score[iy, ix - 1], score[iy, ix], score[iy, ix + 1]) if 0 < ix < w - 1 else 0.0
    dy = fit(score[iy - 1, ix], score[iy, ix], score[iy + 1, ix]) if 0 < iy < h - 1 else 0.0
    return dx, dy


#: Eyewear kinds the eye templates are made for (mean eye patches differ a lot between them).
EYEWEAR = ("none", "glasses", "sunglasses")


@functools.lru_cache(maxsize=1)
def _eye_templates() -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    """Per eyewear kind: mean grey patches of the image-left and image-right eye, canonical frame."""
    from stylepaint.portraits.renderer import render, sample_portrait

    size = REFINE_SIZE
    pw, ph = int(round(0.15 * size)) | 1, int(round(0.1 * size)) | 1
    out = []
    for kind in EYEWEAR:
        acc = np.zeros((size, size), np.float64)
        n = 12
        for seed in range(n):
            rec = sample_portrait(20_000 + seed)
            rec["nuisances"].update(tilt=0.0, shift_x=0.0, shift_y=0.0)
            rec["attributes"]["eyewear"] = kind
            acc += _grey(render(rec, size)).astype(np.float64)
        acc /= n
        patches = []
        for ex, ey in _canonical_eyes(size):
            x0, y0 = int(round(ex - pw / 2)), int(round(ey - ph / 2))
            patches.append(np.ascontiguousarray(acc[y0 : y0 + ph, x0 : x0 + pw], dtype=np.float32))
        out.append((patches[0], patches[1]))
    return tuple(out)


def _bridge_evidence(grey: np.ndarray, sat: np.ndarray, a, b) -> float:
    """1 when the point between the eyes is skin-like (lighter than both irises, not sclera), else 0.2.

    Rejects pairs made of two features of one eye (lid corners around an iris)."""
    h, w = grey.shape
    mx, my = int(round((a[0] + b[0]) / 2)), int(round((a[1] + b[1]) / 2))
    if not (0 <= mx < w and 0 <= my < h):
        return 0.2
    level = max(grey[int(a[1]), int(a[0])], grey[int(b[1]), int(b[0])])
    if grey[my, mx] < level + 20 or _looks_like_sclera(grey, sat, (mx, my), level):
        return 0.2
    return 1.0


def _looks_like_sclera(grey: np.ndarray, sat: np.ndarray, p, iris_level: float) -> bool:
    h, w = grey.shape
    x, y = int(round(p[0])), int(round(p[1]))
    if not (0 <= x < w and 0 <= y < h):
        return False
    x0, x1, y0, y1 = max(0, x - 1), min(w, x + 2), max(0, y - 1), min(h, y + 2)
    return bool(sat[y0:y1, x0:x1].mean() < 28 and grey[y0:y1, x0:x1].mean() > iris_level + 25)


def _peaks(resp: np.ndarray, radius: int, floor: float, limit: int = 12) -> list[tuple[float, float, float]]:
    """Local maxima (x, y, value) of ``resp`` above ``floor``, strongest first, at most ``limit``."""
    import cv2

    kernel = np.ones((2 * radius + 1, 2 * radius + 1), np.uint8)
    dil = cv2.dilate(resp, kernel)
    ys, xs = np.nonzero((resp >= dil) & (resp > floor))
    vals = resp[ys, xs]
    order = np.argsort(-vals)[:limit]
    return [(float(xs[i]), float(ys[i]), float(vals[i])) for i in order]
