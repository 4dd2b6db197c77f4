"""Procedural head-and-shoulders portraits: deterministic per seed, with ground-truth attributes.

``sample_portrait(seed)`` draws one record ``{"seed", "attributes", "nuisances"}`` from the
vocabulary's distribution; ``render(record, size)`` paints it (uint8 RGB, ``size`` x ``size``).
Shapes are anti-aliased polygons composited in float; skin, hair and clothes get a light
gradient and darker soft edges. Geometry is written in canonical head coordinates (fractions
of the image, eyes at the alignment of ``alignment.py``) and moved by the head's tilt/shift.
"""

from __future__ import annotations

import colorsys
import functools
import math

import cv2
import numpy as np

from stylepaint.portraits import alignment
from stylepaint.portraits.vocabulary import load_spec

# --------------------------------------------------------------------------- palettes (RGB 0-255)
HAIR = {
    "black": (38, 34, 44), "brown": (112, 68, 40), "blond": (236, 200, 112), "red": (196, 52, 36),
    "white": (236, 236, 242), "blue": (58, 102, 214), "pink": (244, 132, 184), "green": (56, 164, 92),
}
SKIN = {
    "pale": (255, 232, 220), "fair": (242, 202, 170), "tan": (212, 158, 112),
    "brown": (158, 104, 68), "dark": (96, 60, 42),
}
EYES = {
    "brown": (126, 72, 34), "blue": (48, 112, 226), "green": (36, 166, 70),
    "purple": (146, 60, 206), "red": (216, 30, 42), "gold": (230, 172, 28),
}
BACKGROUND = {
    "white": (244, 244, 240), "grey": (148, 150, 156), "blue": (118, 170, 232), "green": (138, 206, 140),
    "yellow": (246, 226, 118), "pink": (246, 180, 206), "purple": (176, 144, 222), "orange": (246, 164, 88),
}
LIPSTICK = [(206, 28, 52), (232, 84, 140), (150, 34, 84)]
METALS = [(236, 190, 64), (206, 212, 224)]
ACCESSORY = [(196, 40, 52), (40, 60, 120), (236, 236, 230), (60, 40, 30), (232, 112, 168), (40, 130, 110)]
FRAMES = [(30, 28, 32), (110, 60, 30), (170, 30, 40), (200, 160, 60)]

#: The renderer's own nuisances beyond the vocabulary's ranges, in the order they are drawn:
#: (name, "uniform", (lo, hi)) or (name, "index", count). ``side`` is drawn as an index in
#: {0, 1} and stored as -1 or +1 (which side the parting, ponytail and bow are on).
NUISANCE_DRAWS = (
    ("clothing_sat", "uniform", (0.25, 0.75)), ("clothing_val", "uniform", (0.35, 0.85)),
    ("neckline", "index", 2), ("hair_tone", "uniform", (-1.0, 1.0)), ("skin_tone", "uniform", (-1.0, 1.0)),
    ("bg_tone", "uniform", (-1.0, 1.0)), ("eye_size", "uniform", (0.92, 1.08)), ("brow", "uniform", (0.85, 1.15)),
    ("lip_color", "index", len(LIPSTICK)), ("metal", "index", len(METALS)), ("earring_style", "index", 2),
    ("hat_color", "index", len(ACCESSORY)), ("bow_color", "index", len(ACCESSORY)),
    ("frame_color", "index", len(FRAMES)), ("side", "index", 2), ("hair_length", "uniform", (0.9, 1.1)),
    ("bokeh", "index", 4), ("bokeh_seed", "index", 2**31),
)

_SPEC = None


def _spec() -> dict:
    global _SPEC
    if _SPEC is None:
        _SPEC = load_spec()
    return _SPEC


def _rgb(c) -> np.ndarray:
    return np.asarray(c, np.float32) / 255.0


# --------------------------------------------------------------------------- sampling
def sample_portrait(seed: int) -> dict:
    """The attributes and nuisances of render ``seed`` (deterministic, JSON-serialisable)."""
    spec = _spec()
    rng = np.random.default_rng([int(seed), 0x5EED])
    attrs = {}
    for group, info in spec["groups"].items():
        values = list(info["values"])
        cdf = np.cumsum([info["values"][v]["p"] for v in values])
        attrs[group] = values[min(int(np.searchsorted(cdf / cdf[-1], rng.random(), side="right")), len(values) - 1)]
    for rule in spec.get("constraints", []):
        if all(attrs[g] == v for g, v in rule["when"].items()):
            attrs.update(rule["force"])
    rng_n = np.random.default_rng([int(seed), 0xA11CE])  # nuisances: own stream
    ranges = spec["nuisances"]
    nuis = {k: float(rng_n.uniform(lo, hi)) for k, (lo, hi) in ranges.items()}
    for name, kind, arg in NUISANCE_DRAWS:  # drawn in this order: same records for every seed
        nuis[name] = float(rng_n.uniform(*arg)) if kind == "uniform" else int(rng_n.integers(arg))
    nuis["side"] = nuis["side"] * 2 - 1
    return {"seed": int(seed), "attributes": attrs, "nuisances": nuis}


# --------------------------------------------------------------------------- geometry helpers
@functools.lru_cache(maxsize=256)
def _unit_arc(n: int, a0: float, a1: float) -> tuple[np.ndarray, np.ndarray]:
    t = np.linspace(a0, a1, n)
    return np.cos(t), np.sin(t)


@functools.lru_cache(maxsize=64)
def _bernstein(k: int, n: int) -> np.ndarray:
    t = np.linspace(0, 1, n)
    return np.stack([math.comb(k, i) * t**i * (1 - t) ** (k - i) for i in range(k + 1)], 1)


def _ellipse(cx, cy, rx, ry, n=40, a0=0.0, a1=2 * math.pi):
    c, s = _unit_arc(n, a0, a1)
    out = np.empty((n, 2))
    out[:, 0] = cx + rx * c
    out[:, 1] = cy + ry * s
    return out


def _bezier(*ctrl, n=24):
    """Points along the Bezier curve with these control points."""
    return _bernstein(len(ctrl) - 1, n) @ np.asarray(ctrl, np.float64)


def _stroke(pts, w0, w1=None, wmid=None):
    """A polygon around a polyline with a half-width tapering w0 -> (wmid) -> w1."""
    pts = np.asarray(pts, np.float64)
    n = len(pts)
    t = np.linspace(0, 1, n)
    w1 = w0 if w1 is None else w1
    w = w0 + (w1 - w0) * t
    if wmid is not None:
        w = w + (wmid - (w0 + w1) / 2) * np.sin(np.pi * t)
    d = np.empty_like(pts)
    d[1:-1] = pts[2:] - pts[:-2]
    d[0], d[-1] = pts[1] - pts[0], pts[-1] - pts[-2]
    d /= np.sqrt((d * d).sum(1, keepdims=True)) + 1e-9
    nrm = np.stack([-d[:, 1], d[:, 0]], 1)
    return np.vstack([pts + nrm * w[:, None], (pts - nrm * w[:, None])[::-1]])


# --------------------------------------------------------------------------- canvas
class _Canvas:
    """Float RGB image with anti-aliased, optionally shaded and soft-edged polygon fills."""

    def __init__(self, size: int, light_angle: float, head: np.ndarray, body: np.ndarray):
        self.s = size
        self.img = np.zeros((size, size, 3), np.float32)
        a = math.radians(light_angle)
        g = (np.arange(size, dtype=np.float32) + 0.5) / size - 0.5
        self.light = np.clip((g[None, :] * math.cos(a) + g[:, None] * math.sin(a)) * 2.0, -1, 1)
        self.head, self.body = head, body

    def px(self, pts, frame="head"):
        pts = np.asarray(pts, np.float64)
        m = self.head if frame == "head" else self.body
        return (pts @ m[:, :2].T + m[:, 2]) * self.s

    def mask(self, polys, frame="head", blur=0.0, box=None):
        """Coverage mask (float, [0,1]) of the polygons and its box (y0, y1, x0, x1)."""
        polys = [self.px(p, frame) for p in polys]
        if box is None:
            allp = np.vstack(polys)
            pad = 2 + int(3 * blur * self.s)
            x0, y0 = np.floor(allp.min(0)).astype(int) - pad
            x1, y1 = np.ceil(allp.max(0)).astype(int) + pad
            box = (max(y0, 0), min(y1, self.s), max(x0, 0), min(x1, self.s))
        y0, y1, x0, x1 = box
        if y1 <= y0 or x1 <= x0:
            return None, box
        m = np.zeros((y1 - y0, x1 - x0), np.uint8)
        pts = [np.round((p - [x0 + 0.5, y0 + 0.5]) * 16).astype(np.int32) for p in polys]
        cv2.fillPoly(m, pts, 255, cv2.LINE_AA, shift=4)
        mf = m.astype(np.float32) * (1 / 255)
        if blur > 0:
            mf = cv2.GaussianBlur(mf, (0, 0), max(blur * self.s, 0.3))
        return mf, box

    def paint(self, m, box, color, alpha=1.0, shade=0.0, soft=0.0, soft_width=0.02):
        if m is None:
            return
        y0, y1, x0, x1 = box
        region = self.img[y0:y1, x0:x1]
        col = color if isinstance(color, np.ndarray) else _rgb(color)
        if shade or soft:
            f = np.ones(m.shape, np.float32)
            if shade:
                f += shade * self.light[y0:y1, x0:x1]
            if soft:
                mb = cv2.GaussianBlur(m, (0, 0), max(soft_width * self.s, 0.4))
                f *= 1 - soft + soft * np.minimum(mb * 1.6, 1)
            col = f[..., None] * col
        w = m if alpha == 1.0 else m * alpha
        region += (col - region) * w[..., None]

    def fill(self, polys, color, frame="head", alpha=1.0, shade=0.0, soft=0.0, blur=0.0, soft_width=0.02):
        m, box = self.mask(polys, frame, blur)
        self.paint(m, box, color, alpha, shade, soft, soft_width)
        return m, box


def _jitter(base, tone, amount=0.08):
    c = _rgb(base)
    return np.clip(c * (1 + amount * tone), 0, 1)


# --------------------------------------------------------------------------- the painter
def render(record: dict, size: int = 256) -> np.ndarray:
    """Paint one portrait record as uint8 RGB ``[size, size, 3]``."""
    a, n = record["attributes"], record["nuisances"]
    head = alignment.head_transform(n["tilt"], n["shift_x"], n["shift_y"])
    body = alignment.head_transform(0.0, n["shift_x"], n["shift_y"] * 0.5)
    cv = _Canvas(size, n["light_angle"], head, body)
    hair = _jitter(HAIR[a["hair_color"]], n["hair_tone"], 0.07)
    skin = _jitter(SKIN[a["skin_tone"]], n["skin_tone"], 0.04)
    dark_hair = hair * 0.62 + 0.02
    _background(cv, a, n)

    cx, ey = alignment.EYE_CENTER_X, alignment.EYE_LINE_Y
    fw = 0.205 * n["face_width"]
    style = a["hair_style"]
    _hair_back(cv, style, hair, dark_hair, fw, n)
    _body(cv, skin, n)
    # ears
    for s in (-1, 1):
        cv.fill([_ellipse(cx + s * (fw + 0.004), ey + 0.035, 0.03, 0.05)], skin * 0.93, shade=0.12)
        cv.fill([_ellipse(cx + s * (fw + 0.008), ey + 0.037, 0.013, 0.028)], skin * 0.78, alpha=0.6)
    # face
    face = _face_outline(cx, fw, n["jaw"])
    fm, fbox = cv.fill([face], skin, shade=0.14, soft=0.22, soft_width=0.035)
    if a["blush"] == "yes":
        for s in (-1, 1):
            cv.fill([_ellipse(cx + s * 0.125, ey + 0.085, 0.042, 0.022)], (238, 76, 98), alpha=0.55, blur=0.008)
    # nose
    cv.fill([_stroke(_bezier((cx + 0.004, ey + 0.075), (cx + 0.012, ey + 0.098), (cx - 0.002, ey + 0.104), n=10), 0.002, 0.005)],
            skin * 0.7, alpha=0.7)
    _eyes(cv, a, n, cx, ey)
    _facial_hair(cv, a["facial_hair"], hair, fw, n, cx)
    _mouth(cv, a, n, skin, cx)
    _hair_front(cv, style, a["bangs"] == "yes", hair, fw, n, cx)
    _brows(cv, a, n, dark_hair if a["hair_color"] not in ("black",) else hair * 0.8, cx, ey)
    if a["earrings"] == "yes":
        _earrings(cv, n, fw, cx, ey)
    if a["eyewear"] != "none":
        _eyewear(cv, a["eyewear"], n, cx, ey, fw)
    if a["headwear"] == "hat":
        _hat(cv, n, fw, cx)
    elif a["headwear"] == "bow":
        _bow(cv, n, fw, cx)
    out = np.clip(cv.img, 0, 1) * 255 + 0.5
    return out.astype(np.uint8)


def render_seed(seed: int, size: int = 256) -> tuple[np.ndarray, dict]:
    """``(image, record)`` for one seed."""
    rec = sample_portrait(seed)
    return render(rec, size), rec


def _background(cv, a, n):
    s = cv.s
    base = _jitter(BACKGROUND[a["background"]], n["bg_tone"], 0.05)
    y = ((np.arange(s, dtype=np.float32) + 0.5) / s)[:, None, None]
    cv.img[:] = base * (1.08 - 0.16 * y)
    # a soft glow behind the head, from the light's side
    ang = math.radians(n["light_angle"])
    gx, gy = 0.5 + 0.18 * math.cos(ang), 0.4 + 0.12 * math.sin(ang)
    g = (np.arange(s, dtype=np.float32) + 0.5) / s
    glow = np.outer(np.exp(-((g - gy) ** 2) / 0.08), np.exp(-((g - gx) ** 2) / 0.08) * 0.45)  # separable
    cv.img += (np.clip(base * 1.15 + 0.05, 0, 1) - cv.img) * glow[..., None]
    rng = np.random.default_rng(n["bokeh_seed"])
    for _ in range(n["bokeh"]):
        x, yy, r = rng.uniform(0.02, 0.98), rng.uniform(0.02, 0.6), rng.uniform(0.03, 0.08)
        cv.fill([_ellipse(x, yy, r, r, 24)], np.clip(base * 1.2 + 0.08, 0, 1), frame="body", alpha=0.35, blur=0.006)


def _face_outline(cx, fw, jaw):
    ey = alignment.EYE_LINE_Y
    top = 0.24
    t = np.linspace(math.pi, 2 * math.pi, 24)  # upper half: left -> top -> right
    upper = np.stack([cx + fw * np.cos(t), ey + 0.04 + (ey + 0.04 - top) * np.sin(t)], 1)
    t = np.linspace(0, math.pi, 28)  # lower half: right -> chin -> left
    chin = 0.715
    xs = fw * np.cos(t) * (1 - (0.18 + 0.22 * jaw) * np.sin(t) ** 2)
    ys = ey + 0.04 + (chin - ey - 0.04) * np.sin(t) ** (1.0 - 0.25 * jaw)
    lower = np.stack([cx + xs, ys], 1)
    return np.vstack([upper, lower])


def _body(cv, skin, n):
    cx = 0.5
    neck = np.array([[cx - 0.07, 0.58], [cx + 0.07, 0.58], [cx + 0.08, 0.84], [cx - 0.08, 0.84]])
    cv.fill([neck], skin * 0.8, frame="body", shade=0.1, soft=0.25)
    cloth = np.array(colorsys.hsv_to_rgb(n["clothing_hue"] / 360, n["clothing_sat"], n["clothing_val"]), np.float32)
    left = _bezier((cx - 0.085, 0.8), (cx - 0.16, 0.84), (cx - 0.38, 0.85), (cx - 0.44, 0.96), (cx - 0.46, 1.05), n=20)
    right = left[::-1] * [-1, 1] + [2 * cx, 0]
    torso = np.vstack([left, [[cx - 0.46, 1.05], [cx + 0.46, 1.05]], right])
    cv.fill([torso], cloth, frame="body", shade=0.22, soft=0.3, soft_width=0.05)
    if n["neckline"]:
        v = np.array([[cx - 0.085, 0.795], [cx + 0.085, 0.795], [cx, 0.9]])
    else:
        v = _ellipse(cx, 0.8, 0.095, 0.05, 24)
    cv.fill([v], skin * 0.78, frame="body", shade=0.1)


def _hair_back(cv, style, hair, dark, fw, n):
    cx, ey = alignment.EYE_CENTER_X, alignment.EYE_LINE_Y
    col = hair * 0.8
    L = n["hair_length"]
    if style == "long":
        w = fw + 0.075
        top = _ellipse(cx, ey - 0.04, w, 0.3, 30, math.pi, 2 * math.pi)
        bottom_y = 0.98 * L
        right = _bezier((cx + w, ey - 0.04), (cx + w + 0.05, 0.7), (cx + w + 0.03, bottom_y), n=16)
        tips = np.stack([np.linspace(cx + w + 0.03, cx - w - 0.03, 9),
                         bottom_y - 0.03 * (np.arange(9) % 2)], 1)
        left = _bezier((cx - w - 0.03, bottom_y), (cx - w - 0.05, 0.7), (cx - w, ey - 0.04), n=16)
        cv.fill([np.vstack([top, right, tips, left])], col, shade=0.15, soft=0.3, soft_width=0.04)
    elif style == "bob":
        w = fw + 0.065
        top = _ellipse(cx, ey - 0.04, w, 0.29, 30, math.pi, 2 * math.pi)
        by = 0.69 * (0.97 + 0.03 * L)
        right = _bezier((cx + w, ey - 0.04), (cx + w + 0.02, by - 0.06), (cx + w - 0.03, by), n=12)
        left = right[::-1] * [-1, 1] + [2 * cx, 0]
        cv.fill([np.vstack([top, right, [[cx, by + 0.01]], left])], col, shade=0.15, soft=0.3, soft_width=0.04)
    elif style == "curly":
        t = np.linspace(math.pi * 0.78, math.pi * 2.22, 150)
        r = 1 + 0.07 * np.abs(np.sin(t * 7))
        outline = np.stack([cx + (fw + 0.085) * r * np.cos(t), ey + 0.05 + 0.33 * r * np.sin(t) * np.where(np.sin(t) > 0, 0.9 * L, 1)], 1)
        cv.fill([outline], col, shade=0.15, soft=0.35, soft_width=0.035)
    elif style == "ponytail":
        s = n["side"]
        tail = _stroke(_bezier((cx + s * (fw - 0.02), 0.24), (cx + s * (fw + 0.2), 0.33), (cx + s * (fw + 0.1), 0.6 * L + 0.2), n=24),
                       0.035, 0.006, 0.06)
        cv.fill([tail], col, shade=0.15, soft=0.35, soft_width=0.025)
        cv.fill([_ellipse(cx + s * (fw + 0.01), 0.255, 0.02, 0.024)], (216, 50, 76), alpha=0.9)
    elif style == "short":
        cv.fill([_ellipse(cx, ey - 0.03, fw + 0.03, 0.26, 30, math.pi, 2 * math.pi)], col, shade=0.15, soft=0.3)


def _hair_front(cv, style, bangs, hair, fw, n, cx):
    ey = alignment.EYE_LINE_Y
    if style == "bald":  # a horseshoe fringe around the back of the head, above the ears
        for s in (-1, 1):
            t = np.linspace(0.12, 0.62, 14)
            ry = ey + 0.04 - 0.24
            outer = np.stack([cx + s * (fw + 0.016) * np.cos(t), ey + 0.04 - ry * np.sin(t)], 1)
            inner = np.stack([cx + s * (fw - 0.012 + 0.02 * t / 0.62) * np.cos(t), ey + 0.04 - ry * np.sin(t)], 1)
            cv.fill([np.vstack([outer, inner[::-1]])], hair * 0.85, shade=0.1, soft=0.3, soft_width=0.008)
        cv.fill([_ellipse(cx - 0.06, 0.29, 0.05, 0.022)], (255, 255, 255), alpha=0.3, blur=0.01)  # scalp shine
        return
    outer_w = {"short": fw + 0.03, "ponytail": fw + 0.018, "long": fw + 0.05, "bob": fw + 0.05, "curly": fw + 0.06}[style]
    side_y = {"short": ey - 0.02, "ponytail": ey - 0.03, "long": 0.6, "bob": 0.62, "curly": 0.57}[style]
    top_y = 0.17 if style != "curly" else 0.15
    t = np.linspace(math.pi, 2 * math.pi, 40)
    if style == "curly":
        r = 1 + 0.05 * np.abs(np.sin(t * 9))
    else:
        r = np.ones_like(t)
    cap = np.stack([cx + outer_w * r * np.cos(t), ey - 0.01 + (ey - 0.01 - top_y) * r * np.sin(t)], 1)
    right_side = np.array([[cx + outer_w, side_y]])
    inner_x = fw - 0.01
    # inner edge, right to left: down the right side of the face, across the forehead, up and down left
    if bangs:
        xs = np.linspace(cx + inner_x, cx - inner_x, 13)
        ys = 0.345 + 0.03 * (np.arange(13) % 2) - 0.02 * ((xs - cx) / inner_x) ** 4
        forehead = np.stack([xs, ys], 1)
    else:
        part = n["side"] * 0.06
        forehead = np.vstack([
            _bezier((cx + inner_x, 0.37), (cx + inner_x * 0.9, 0.26), (cx + part, 0.245), n=12),
            _bezier((cx + part, 0.245), (cx - inner_x * 0.9, 0.26), (cx - inner_x, 0.37), n=12)])
    inner_side_r = np.array([[cx + inner_x + 0.005, side_y - 0.01], [cx + inner_x, 0.4]])
    inner_side_l = np.array([[cx - inner_x, 0.4], [cx - inner_x - 0.005, side_y - 0.01]])
    poly = np.vstack([cap, right_side, inner_side_r, forehead, inner_side_l, [[cx - outer_w, side_y]]])
    cv.fill([poly], hair, shade=0.18, soft=0.3, soft_width=0.03)
    if style in ("long", "bob", "curly"):  # locks falling over the shoulders/cheeks
        for s in (-1, 1):
            lock = _stroke(_bezier((cx + s * (fw + 0.0), 0.42), (cx + s * (fw + 0.025), side_y - 0.05), (cx + s * (fw - 0.01), side_y + 0.03), n=14),
                           0.022, 0.004)
            cv.fill([lock], hair * 0.95, shade=0.18, soft=0.3, soft_width=0.015)
    # the anime shine band
    shine = _stroke(_bezier((cx - 0.12, 0.235), (cx, 0.195), (cx + 0.12, 0.235), n=20), 0.004, 0.004, 0.012)
    cv.fill([shine], np.clip(hair * 0.5 + 0.5, 0, 1), alpha=0.55, blur=0.003)


def _eyes(cv, a, n, cx, ey):
    expr = a["expression"]
    es = n["eye_size"]
    iris_c = _rgb(EYES[a["eye_color"]])
    for s in (-1, 1):
        ex = cx + s * alignment.EYE_DISTANCE / 2
        hw = 0.052 * es
        up, lo = 0.032 * es, 0.026 * es
        tilt_in, tilt_out = 0.0, 0.0
        if expr == "surprised":
            up, lo = up * 1.35, lo * 1.35
        elif expr == "smiling":
            lo *= 0.45
        elif expr == "angry":  # narrowed, the lid pressed down at the inner corner
            up, tilt_in = up * 0.8, 0.02
        elif expr == "sad":  # drooping outer corners
            tilt_out = 0.02
        inner = (ex - s * hw, ey + 0.002)
        outer = (ex + s * hw, ey - 0.002)
        upper = _bezier(inner, (ex - s * hw * 0.5, ey - up * 1.5 + tilt_in), (ex + s * hw * 0.5, ey - up * 1.5 + tilt_out), outer, n=20)
        lower = _bezier(outer, (ex + s * hw * 0.4, ey + lo * 1.3), (ex - s * hw * 0.4, ey + lo * 1.3), inner, n=20)
        sclera = np.vstack([upper, lower])
        m, box = cv.mask([sclera])
        cv.paint(m, box, (250, 248, 246))
        # iris (clipped to the eye), pupil and highlights
        ir = 0.027 * es * (0.9 if expr == "surprised" else 1.0)
        mi, _ = cv.mask([_ellipse(ex, ey + 0.003, ir * 0.85, ir)], box=box)
        cv.paint(mi * m, box, iris_c * 0.75)
        mi2, _ = cv.mask([_ellipse(ex, ey + 0.008, ir * 0.62, ir * 0.6)], box=box)
        cv.paint(mi2 * m, box, np.clip(iris_c * 1.25 + 0.08, 0, 1), alpha=0.8)
        mp, _ = cv.mask([_ellipse(ex, ey + 0.002, ir * 0.36, ir * 0.45)], box=box)
        cv.paint(mp * m, box, (20, 16, 24))
        mh, _ = cv.mask([_ellipse(ex - 0.008, ey - 0.008, ir * 0.28, ir * 0.28, 16)], box=box)
        cv.paint(mh * m, box, (255, 255, 255), alpha=0.95)
        # upper lid with lashes, lower lid
        cv.fill([_stroke(np.vstack([upper, [outer[0] + s * 0.012, outer[1] - 0.01]]), 0.003, 0.002, 0.0065)], (34, 24, 28))
        cv.fill([_stroke(lower[3:-3], 0.001, 0.001, 0.0022)], (120, 70, 70), alpha=0.6)


def _brows(cv, a, n, col, cx, ey):
    expr = a["expression"]
    for s in (-1, 1):
        ex = cx + s * alignment.EYE_DISTANCE / 2
        y = ey - 0.07
        inner_dy, outer_dy, arch, weight = 0.0, 0.0, 0.012, 1.0
        if expr == "surprised":  # high, round
            y -= 0.024
            arch = 0.024
        elif expr == "angry":  # a heavy V, low at the nose
            inner_dy, outer_dy, arch, weight = 0.03, -0.014, -0.004, 1.35
        elif expr == "sad":  # raised at the nose, falling outwards
            inner_dy, outer_dy, arch = -0.03, 0.016, 0.002
        p0 = (ex - s * 0.045, y + inner_dy)
        p2 = (ex + s * 0.05, y + outer_dy + 0.006)
        p1 = ((p0[0] + p2[0]) / 2, (p0[1] + p2[1]) / 2 - arch)
        cv.fill([_stroke(_bezier(p0, p1, p2, n=16), 0.0075 * n["brow"] * weight, 0.003 * weight)], col)


def _mouth(cv, a, n, skin, cx):
    """Each expression has a mouth shape that stays readable at 64 px: a flat closed line
    (neutral), a wide upturned open D (smiling), a tall O (surprised), a strong frown (sad),
    a flat wide grimace of clenched teeth (angry)."""
    expr = a["expression"]
    y = 0.625
    lips = _rgb(LIPSTICK[n["lip_color"]]) if a["lipstick"] == "yes" else np.clip(skin * 0.72 + [0.1, -0.03, -0.03], 0, 1)
    inside = (92, 26, 36)
    if expr == "surprised":
        cv.fill([_ellipse(cx, y + 0.008, 0.032, 0.045)], lips)
        cv.fill([_ellipse(cx, y + 0.009, 0.021, 0.033)], inside)
        return
    if expr == "angry":
        outer = np.array([[cx - 0.058, y - 0.004], [cx + 0.058, y - 0.004], [cx + 0.05, y + 0.024], [cx - 0.05, y + 0.024]])
        cv.fill([outer], lips)
        teeth = np.array([[cx - 0.047, y + 0.002], [cx + 0.047, y + 0.002], [cx + 0.042, y + 0.018], [cx - 0.042, y + 0.018]])
        cv.fill([teeth], (248, 246, 240))
        cv.fill([_stroke(np.array([[cx - 0.045, y + 0.01], [cx + 0.045, y + 0.01]]), 0.0018, 0.0018)], (150, 140, 140))
        return
    if expr == "smiling":  # open smile: a wide D with teeth under the upper lip, corners up
        w = 0.062
        top = _bezier((cx - w, y - 0.024), (cx, y + 0.006), (cx + w, y - 0.024), n=20)
        low = _bezier((cx + w, y - 0.024), (cx + w * 0.6, y + 0.06), (cx - w * 0.6, y + 0.06), (cx - w, y - 0.024), n=24)
        cv.fill([np.vstack([top, low])], lips)
        itop = _bezier((cx - w * 0.8, y - 0.017), (cx, y + 0.01), (cx + w * 0.8, y - 0.017), n=20)
        ilow = _bezier((cx + w * 0.8, y - 0.017), (cx + w * 0.5, y + 0.046), (cx - w * 0.5, y + 0.046), (cx - w * 0.8, y - 0.017), n=24)
        m, box = cv.mask([np.vstack([itop, ilow])])
        cv.paint(m, box, (112, 30, 42))
        mt, _ = cv.mask([np.vstack([itop, itop[::-1] + [0, 0.011]])], box=box)
        cv.paint(mt * m, box, (250, 248, 242))
        return
    w, bend = {"neutral": (0.042, 0.0), "sad": (0.046, 0.034)}[expr]
    line = _bezier((cx - w, y + bend), (cx, y - bend * 1.1), (cx + w, y + bend), n=24)
    cv.fill([_stroke(line, 0.004, 0.004, 0.014)], lips)
    cv.fill([_stroke(line, 0.0017, 0.0017, 0.0025)], lips * 0.5)


def _facial_hair(cv, kind, hair, fw, n, cx):
    col = hair * 0.9
    if kind == "beard":
        face = _face_outline(cx, fw * 1.03, n["jaw"])
        lower = face[24:]  # right -> chin -> left
        lower = lower[lower[:, 1] > 0.5]
        inner = _bezier((cx - fw + 0.03, 0.52), (cx - fw * 0.5, 0.69), (cx + fw * 0.5, 0.69), (cx + fw - 0.03, 0.52), n=24)
        poly = np.vstack([[[cx + fw + 0.006, 0.5]], lower, [[cx - fw - 0.006, 0.5]], inner])
        cv.fill([poly], col, shade=0.12, soft=0.35, soft_width=0.015)
    if kind in ("beard", "moustache"):
        for s in (-1, 1):
            m = _stroke(_bezier((cx + s * 0.004, 0.598), (cx + s * 0.04, 0.59), (cx + s * 0.065, 0.625), n=14), 0.011, 0.003)
            cv.fill([m], col * 0.95, shade=0.1)


def _earrings(cv, n, fw, cx, ey):
    """Hoops or drops, with a dark rim so that they read on light hair and skin too."""
    metal = METALS[n["metal"]]
    rim = (60, 40, 30)
    for s in (-1, 1):
        x, y = cx + s * (fw + 0.006), ey + 0.085
        if n["earring_style"] == 0:  # hoop
            cv.fill([_ellipse(x, y + 0.026, 0.025, 0.03), _ellipse(x, y + 0.026, 0.013, 0.018)], rim)
            cv.fill([_ellipse(x, y + 0.026, 0.021, 0.026), _ellipse(x, y + 0.026, 0.016, 0.021)], metal, shade=0.2)
        else:  # drop
            cv.fill([_ellipse(x, y + 0.004, 0.008, 0.008, 16)], metal)
            cv.fill([_ellipse(x, y + 0.032, 0.02, 0.024, 24)], rim)
            cv.fill([_ellipse(x, y + 0.032, 0.016, 0.02, 24)], metal, shade=0.3)
        cv.fill([_ellipse(x - 0.005, y + 0.02, 0.004, 0.004, 12)], (255, 255, 255), alpha=0.7)


def _eyewear(cv, kind, n, cx, ey, fw):
    frame = FRAMES[n["frame_color"]] if kind == "glasses" else (20, 20, 24)
    th = 0.0065 if kind == "glasses" else 0.009
    for s in (-1, 1):
        ex = cx + s * alignment.EYE_DISTANCE / 2
        lens = _ellipse(ex, ey + 0.006, 0.066, 0.05, 40)
        lens = np.stack([ex + np.sign(lens[:, 0] - ex) * np.abs(lens[:, 0] - ex) ** 0.85 * 0.066 ** 0.15,
                         ey + 0.006 + np.sign(lens[:, 1] - ey - 0.006) * np.abs(lens[:, 1] - ey - 0.006) ** 0.85 * 0.05 ** 0.15], 1)
        inner = (lens - [ex, ey + 0.006]) * [1 - th / 0.066, 1 - th / 0.05] + [ex, ey + 0.006]
        if kind == "sunglasses":
            cv.fill([inner], (16, 16, 26), alpha=0.45)
        cv.fill([_stroke(np.array([[ex + s * 0.1, ey + 0.006], [ex + s * 0.066, ey - 0.005]]), th * 0.6)], frame)
        cv.fill([lens, inner], frame, shade=0.2)
        glare = _stroke(np.array([[ex - 0.03, ey + 0.02], [ex - 0.005, ey - 0.02]]), 0.004)
        cv.fill([glare], (255, 255, 255), alpha=0.22 if kind == "glasses" else 0.35)
    bridge = _stroke(_bezier((cx - 0.045, ey - 0.005), (cx, ey - 0.02), (cx + 0.045, ey - 0.005), n=12), th * 0.7)
    cv.fill([bridge], frame)


def _hat(cv, n, fw, cx):
    col = _rgb(ACCESSORY[n["hat_color"]])
    band = _rgb(ACCESSORY[(n["hat_color"] + 1 + n["bow_color"] % (len(ACCESSORY) - 1)) % len(ACCESSORY)])
    crown = np.vstack([_bezier((cx - fw + 0.02, 0.215), (cx - fw + 0.0, 0.04), (cx + fw - 0.0, 0.04), (cx + fw - 0.02, 0.215), n=28)])
    cv.fill([_ellipse(cx, 0.215, fw + 0.13, 0.04)], col * 0.85, shade=0.25, soft=0.3, soft_width=0.02)
    cv.fill([crown], col, shade=0.25, soft=0.3, soft_width=0.03)
    cv.fill([np.vstack([_bezier((cx - fw + 0.02, 0.21), (cx, 0.225), (cx + fw - 0.02, 0.21), n=16),
                        _bezier((cx + fw - 0.015, 0.17), (cx, 0.185), (cx - fw + 0.015, 0.17), n=16)])], band, shade=0.2)


def _bow(cv, n, fw, cx):
    col = _rgb(ACCESSORY[n["bow_color"]])
    s = -n["side"]
    kx, ky = cx + s * (fw - 0.04), 0.2
    for d in (-1, 1):
        loop = np.vstack([[[kx, ky]], _bezier((kx, ky), (kx + d * 0.06, ky - 0.07), (kx + d * 0.085, ky - 0.005), (kx + d * 0.07, ky + 0.045), (kx, ky), n=20)])
        cv.fill([loop], col, shade=0.25, soft=0.35, soft_width=0.015)
        tail = np.array([[kx, ky], [kx + d * 0.03, ky + 0.07], [kx + d * 0.012, ky + 0.065]])
        cv.fill([tail], col * 0.85)
    cv.fill([_ellipse(kx, ky, 0.016, 0.018, 20)], col * 0.8, shade=0.2)
