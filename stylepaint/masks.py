"""Mask helpers in plain numpy: half-plane masks with a feathered seam, brush stamps.

Masks are float32 ``[H, W]`` arrays in ``[0, 1]``; for blending 0 = face A, 1 = face B.
``feather`` is a fraction of the image width (0 = hard seam).
"""

from __future__ import annotations

import numpy as np


def _ramp(n: int, feather: float) -> np.ndarray:
    x = (np.arange(n, dtype=np.float32) + 0.5) / n - 0.5          # -0.5 .. 0.5
    if feather <= 0:
        return (x >= 0).astype(np.float32)
    return np.clip(x / feather + 0.5, 0.0, 1.0).astype(np.float32)


def left_right(h: int, w: int, feather: float = 0.05) -> np.ndarray:
    """0 on the left half, 1 on the right half."""
    return np.broadcast_to(_ramp(w, feather)[None, :], (h, w)).copy()


def top_bottom(h: int, w: int, feather: float = 0.05) -> np.ndarray:
    """0 on the top half, 1 on the bottom half."""
    return np.broadcast_to(_ramp(h, feather)[:, None], (h, w)).copy()


def feathered(mask: np.ndarray, feather: float) -> np.ndarray:
    """Soften a painted mask with a separable box blur of about ``feather`` * width."""
    mask = np.asarray(mask, np.float32)
    r = int(round(feather * mask.shape[1] / 2))
    if r < 1:
        return mask.copy()
    k = np.ones(2 * r + 1, np.float32) / (2 * r + 1)
    out = np.apply_along_axis(lambda v: np.convolve(np.pad(v, r, mode="edge"), k, "valid"), 1, mask)
    out = np.apply_along_axis(lambda v: np.convolve(np.pad(v, r, mode="edge"), k, "valid"), 0, out)
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def stamp(mask: np.ndarray, cx: float, cy: float, radius: float, value: float = 1.0, hardness: float = 0.5) -> None:
    """Paint a soft round dab into ``mask`` in place at pixel (cx, cy); value 1 paints, 0 erases."""
    h, w = mask.shape
    r = max(float(radius), 0.5)
    x0, x1 = max(int(cx - r - 1), 0), min(int(cx + r + 2), w)
    y0, y1 = max(int(cy - r - 1), 0), min(int(cy + r + 2), h)
    if x0 >= x1 or y0 >= y1:
        return
    yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    d = np.sqrt((xx + 0.5 - cx) ** 2 + (yy + 0.5 - cy) ** 2) / r
    inner = np.clip(hardness, 0.0, 0.99)
    weight = np.clip((1.0 - d) / (1.0 - inner), 0.0, 1.0)
    region = mask[y0:y1, x0:x1]
    region += (value - region) * weight
    np.clip(region, 0.0, 1.0, out=region)


def stroke(mask: np.ndarray, p0: tuple, p1: tuple, radius: float, value: float = 1.0, hardness: float = 0.5) -> None:
    """Stamp dabs along the segment p0 -> p1, spaced a quarter radius apart."""
    (x0, y0), (x1, y1) = p0, p1
    n = max(int(np.hypot(x1 - x0, y1 - y0) / max(radius / 4, 0.5)), 1)
    for t in np.linspace(0.0, 1.0, n + 1)[1:] if n > 1 or (x0, y0) != (x1, y1) else [1.0]:
        stamp(mask, x0 + (x1 - x0) * t, y0 + (y1 - y0) * t, radius, value, hardness)


def apply_stroke(base: np.ndarray, coverage: np.ndarray, value: float, opacity: float) -> np.ndarray:
    """The mask after a stroke: ``base`` moved towards ``value`` (1 paints, 0 erases) by the
    stroke's ``coverage`` [0, 1] times ``opacity``, so one stroke never goes past its opacity
    however often it crosses itself."""
    weight = np.clip(coverage, 0.0, 1.0) * float(np.clip(opacity, 0.0, 1.0))
    return np.clip(base + (value - base) * weight, 0.0, 1.0).astype(np.float32)


#: quick-mask overlay colours to choose from (RGB): red, cyan, green, magenta, yellow, blue
OVERLAY_COLOURS = ((255, 40, 40), (40, 220, 255), (60, 255, 60), (255, 40, 255), (255, 230, 0), (40, 80, 255))


def contrast_colour(image: np.ndarray | None) -> tuple[int, int, int]:
    """The overlay colour that stands out most from ``image`` ([H, W, 3] uint8): the candidate
    whose nearest tenth of the picture's pixels is farthest away in RGB."""
    if image is None:
        return OVERLAY_COLOURS[0]
    img = np.asarray(image)[..., :3]
    step = max(1, max(img.shape[:2]) // 64)                 # 64 x 64 samples are plenty
    px = img[::step, ::step].reshape(-1, 3).astype(np.float32)
    scores = [np.percentile(np.linalg.norm(px - np.float32(c), axis=1), 10) for c in OVERLAY_COLOURS]
    return OVERLAY_COLOURS[int(np.argmax(scores))]
