"""Where the eyes of a procedural portrait are: the alignment every render follows.

Renders are aligned the way FFHQ is: the eyes sit on a fixed horizontal line, centred
left/right, at a fixed distance apart. All constants are fractions of the image size, in
continuous image coordinates where the image spans ``[0, 1] x [0, 1]``, x to the right,
y downwards (pixel ``i`` covers ``[i, i + 1) / size``, so its centre is ``(i + 0.5) / size``).

Each render then moves its head by two small nuisances, stored with its attributes:

* ``tilt`` (degrees, within ±10): the head rotates about the midpoint between the nominal
  eyes ``(EYE_CENTER_X, EYE_LINE_Y)``; a positive tilt turns it clockwise on screen (the
  image-right eye moves down).
* ``shift_x``, ``shift_y`` (fractions of the size, within ±``MAX_SHIFT``): then the whole
  head moves by this offset.

Neck and shoulders are not tilted. Face width and jaw shape change the face outline only:
the eyes stay where this module says.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

#: y of the eye line (centre of both eyes) before tilt and shift.
EYE_LINE_Y = 0.46
#: x of the midpoint between the eyes.
EYE_CENTER_X = 0.5
#: distance between the two eye centres.
EYE_DISTANCE = 0.22
#: largest |tilt| in degrees.
MAX_TILT_DEG = 10.0
#: largest |shift_x|, |shift_y| as a fraction of the size.
MAX_SHIFT = 0.02


def head_transform(tilt: float, shift_x: float, shift_y: float) -> np.ndarray:
    """The 2x3 affine matrix taking canonical head coordinates (fractions) to the render's."""
    t = math.radians(tilt)
    c, s = math.cos(t), math.sin(t)
    px, py = EYE_CENTER_X, EYE_LINE_Y
    return np.array(
        [
            [c, -s, px - c * px + s * py + shift_x],
            [s, c, py - s * px - c * py + shift_y],
        ],
        dtype=np.float64,
    )


def _nuisances(attrs: Mapping) -> Mapping:
    """Accept a flat dict, or a per-image record holding a ``nuisances`` dict."""
    if "nuisances" in attrs and isinstance(attrs["nuisances"], Mapping):
        return attrs["nuisances"]
    return attrs


def eye_positions(attrs: Mapping | None = None, size: int = 1) -> np.ndarray:
    """The true eye centres of a render, in pixels of a ``size`` x ``size`` image.

    ``attrs`` is the per-image record written by ``stylepaint dataset render`` (or its
    ``nuisances`` dict, or any mapping with ``tilt``/``shift_x``/``shift_y``; missing keys
    count as 0; ``None`` gives the nominal alignment). Returns a float array ``[[x, y], [x, y]]``:
    row 0 is the eye on the image's left (the subject's right eye), row 1 the image-right eye.
    Coordinates are continuous: the image spans ``[0, size]``, pixel centres at ``i + 0.5``.
    """
    nuis = _nuisances(attrs or {})
    m = head_transform(
        float(nuis.get("tilt", 0.0)), float(nuis.get("shift_x", 0.0)), float(nuis.get("shift_y", 0.0))
    )
    half = EYE_DISTANCE / 2
    eyes = np.array([[EYE_CENTER_X - half, EYE_LINE_Y, 1.0], [EYE_CENTER_X + half, EYE_LINE_Y, 1.0]])
    return (eyes @ m.T) * float(size)
