"""Putting an edited crop back into the full-resolution photo.

The crop is warped back through the inverse of the kept alignment and blended in with a
feathered face mask (an ellipse around the face and hair, soft over its outer band). The mask is
exactly zero outside that band, and there the result is the photo's own pixels, bit for bit:
background, framing and resolution stay the photo's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from stylepaint.inversion.alignment import Alignment, to_opencv


@dataclass(frozen=True)
class MaskSpec:
    """An ellipse in crop fractions (centre, radii) and the feather width as a fraction of the radii."""

    cx: float = 0.5
    cy: float = 0.52
    rx: float = 0.40
    ry: float = 0.46
    feather: float = 0.25


DEFAULT_MASK = MaskSpec()


def face_mask(size: int, spec: MaskSpec = DEFAULT_MASK) -> np.ndarray:
    """Float32 [size, size] in [0, 1]: 1 inside the inner ellipse, a smooth ramp over the feather, 0 beyond."""
    c = (np.arange(size, dtype=np.float64) + 0.5) / size
    x = (c[None, :] - spec.cx) / spec.rx
    y = (c[:, None] - spec.cy) / spec.ry
    r = np.sqrt(x * x + y * y)
    inner = 1.0 - spec.feather
    t = np.clip((1.0 - r) / max(spec.feather, 1e-6), 0.0, 1.0)
    m = t * t * (3.0 - 2.0 * t)  # smoothstep: 1 for r <= inner, 0 for r >= 1
    m[r <= inner] = 1.0
    return m.astype(np.float32)


def paste_back(photo: np.ndarray, crop: np.ndarray, alignment: Alignment, mask: np.ndarray | None = None) -> np.ndarray:
    """The photo with ``crop`` (any square size; resized to the alignment's) blended in where the mask is > 0.

    ``photo`` is the full-resolution uint8 [H, W, 3] the alignment was computed on; ``mask`` is a
    crop-sized float mask (default: ``face_mask``). Returns a new uint8 array; pixels where the
    warped mask is 0 are copied from ``photo`` unchanged.
    """
    import cv2

    h, w = photo.shape[:2]
    if (w, h) != tuple(alignment.photo_size):
        raise ValueError(f"the alignment was made for a {alignment.photo_size} photo, not {(w, h)}")
    size = alignment.size
    crop = np.ascontiguousarray(crop)
    if crop.shape[:2] != (size, size):
        interp = cv2.INTER_AREA if crop.shape[0] > size else cv2.INTER_CUBIC
        crop = cv2.resize(crop, (size, size), interpolation=interp)
    if mask is None:
        mask = face_mask(size)
    # Work only on the photo region the crop covers.
    corners = alignment.crop_corners()
    x0 = int(max(0, math.floor(corners[:, 0].min()) - 1))
    y0 = int(max(0, math.floor(corners[:, 1].min()) - 1))
    x1 = int(min(w, math.ceil(corners[:, 0].max()) + 1))
    y1 = int(min(h, math.ceil(corners[:, 1].max()) + 1))
    out = photo.copy()
    if x1 <= x0 or y1 <= y0:
        return out
    # region pixel -> crop: crop = M (p + origin)
    m = alignment.matrix @ np.array([[1, 0, x0], [0, 1, y0], [0, 0, 1]], np.float64)
    mcv = to_opencv(m)
    rw, rh = x1 - x0, y1 - y0
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    # When the photo is coarser than the crop, smooth the crop first so the warp does not alias.
    scale = alignment.scale
    src = crop
    if scale > 1.5:
        sigma = 0.5 * scale
        src = cv2.GaussianBlur(crop.astype(np.float32), (0, 0), sigma)
    warped = cv2.warpAffine(src.astype(np.float32), mcv, (rw, rh), flags=flags, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    wmask = cv2.warpAffine(mask.astype(np.float32), mcv, (rw, rh), flags=flags, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    wmask[wmask < 1.0 / 1024] = 0.0
    region = photo[y0:y1, x0:x1].astype(np.float32)
    blended = region + (warped - region) * wmask[:, :, None]
    blended = np.clip(np.rint(blended), 0, 255).astype(np.uint8)
    inside = wmask > 0
    out[y0:y1, x0:x1][inside] = blended[inside]
    return out


def pasted_region(alignment: Alignment, mask: np.ndarray | None = None) -> np.ndarray:
    """Bool [H, W]: the photo pixels ``paste_back`` may change (where the warped mask is > 0)."""
    import cv2

    w, h = alignment.photo_size
    size = alignment.size
    mask = face_mask(size) if mask is None else mask
    mcv = to_opencv(alignment.matrix)
    wmask = cv2.warpAffine(mask.astype(np.float32), mcv, (w, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                           borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return wmask >= 1.0 / 1024
