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


def stroke(mask: np.ndarray, p0: tuple, p1: tuple, radius: float, value: float = 1.0) -> None:
    """Stamp dabs along the segment p0 -> p1, spaced a quarter radius apart."""
    (x0, y0), (x1, y1) = p0, p1
    n = max(int(np.hypot(x1 - x0, y1 - y0) / max(radius / 4, 0.5)), 1)
    for t in np.linspace(0.0, 1.0, n + 1)[1:] if n > 1 or (x0, y0) != (x1, y1) else [1.0]:
        stamp(mask, x0 + (x1 - x0) * t, y0 + (y1 - y0) * t, radius, value)
