"""Loading photos robustly: any file Pillow reads becomes an 8-bit RGB array, upright.

Handled: EXIF orientation (phones store rotated JPEGs), 16-bit and 32-bit integer or float
images (scaled to 8 bits by their range), CMYK, palette and grey images, transparency
(composited over white), and huge photos (kept at full size for paste-back; ``detection_view``
gives a downscaled copy for face finding). Everything else raises ``InputError`` with one
sentence that names the file and the problem.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from stylepaint import limits
from stylepaint.errors import InputError
from stylepaint.safe_read import read_bytes

#: Largest photo accepted, in pixels (a 40-megapixel photo is fine; 200 MP is 600 MB as RGB).
MAX_PIXELS = limits.PHOTO_PIXELS
# Pillow refuses images above twice its own MAX_IMAGE_PIXELS (89.5 MP by default, so 179 MP):
# raise it to ours, so our documented limit is the one that applies (Pillow then refuses only
# above 2 x 200 MP, before reading pixels; we refuse above 200 MP with the size in the message).
if Image.MAX_IMAGE_PIXELS is not None and Image.MAX_IMAGE_PIXELS < MAX_PIXELS:
    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
#: Smallest side accepted: below this there is no face worth inverting.
MIN_SIDE = 16


@dataclass
class Photo:
    """A photo as loaded: full-resolution upright RGB pixels and where they came from."""

    pixels: np.ndarray  # uint8 [H, W, 3] RGB, EXIF orientation applied
    name: str = "photo"  # file name (or "photo") for messages
    orientation: int = 1  # the EXIF orientation tag that was applied (1 = none)
    source_mode: str = "RGB"  # the Pillow mode of the file before conversion

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) in pixels."""
        return int(self.pixels.shape[1]), int(self.pixels.shape[0])

    def detection_view(self, max_side: int = 1024) -> tuple[np.ndarray, float]:
        """A copy no larger than ``max_side`` for detection, and its scale (view px per photo px)."""
        h, w = self.pixels.shape[:2]
        scale = min(1.0, max_side / max(h, w))
        if scale >= 1.0:
            return self.pixels, 1.0
        import cv2

        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        small = cv2.resize(self.pixels, size, interpolation=cv2.INTER_AREA)
        return small, size[0] / w


def load_photo(source, name: str | None = None) -> Photo:
    """Read a photo from a path, bytes, a PIL image or an array into an upright 8-bit RGB ``Photo``."""
    if isinstance(source, Photo):
        return source
    if isinstance(source, np.ndarray):
        label = name or "array"
        return Photo(_check_size(to_rgb8(source, label), label), label)
    if isinstance(source, Image.Image):
        label = name or "image"
        return _from_pil(source, label)
    if isinstance(source, (bytes, bytearray)):
        label = name or "image data"
        return _from_pil(_open(io.BytesIO(source), label), label)
    path = Path(source)
    label = name or path.name
    data = read_bytes(path, "photo")
    if not data:
        raise InputError(f"{label}: the file is empty.")
    return _from_pil(_open(io.BytesIO(data), label), label)


def _open(fh, label: str) -> Image.Image:
    try:
        with warnings.catch_warnings():
            # Pillow warns above MAX_IMAGE_PIXELS; our own check below gives the reason.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(fh)
            w, h = img.size
            if w * h > MAX_PIXELS:
                raise InputError(
                    f"{label}: {w}x{h} is {w * h / 1e6:.0f} megapixels, more than the "
                    f"{MAX_PIXELS / 1e6:.0f} supported; downscale it first."
                )
            img.load()
    except InputError:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        if isinstance(exc, UnidentifiedImageError):
            raise InputError(f"{label}: not an image file that can be read (PNG, JPEG, TIFF, WebP, BMP...).") from None
        raise InputError(f"{label}: the image is too large to open safely.") from None
    except (OSError, ValueError, SyntaxError) as exc:
        raise InputError(f"{label}: the image file is damaged or truncated ({exc}).") from None
    return img


def _from_pil(img: Image.Image, label: str) -> Photo:
    mode = img.mode
    orientation = 1
    try:
        orientation = int(img.getexif().get(0x0112, 1) or 1)
    except Exception:  # a broken EXIF block is no reason to refuse the pixels
        orientation = 1
    if orientation != 1:
        try:
            img = ImageOps.exif_transpose(img)
        except Exception:
            orientation = 1
    try:
        pixels = _pil_to_rgb8(img)
    except (OSError, ValueError) as exc:
        raise InputError(f"{label}: cannot convert the {mode} image to RGB ({exc}).") from None
    return Photo(_check_size(pixels, label), label, orientation, mode)


def _check_size(pixels: np.ndarray, label: str) -> np.ndarray:
    h, w = pixels.shape[:2]
    if min(w, h) < MIN_SIDE:
        raise InputError(f"{label}: {w}x{h} pixels is too small to hold a face.")
    return pixels


def _pil_to_rgb8(img: Image.Image) -> np.ndarray:
    mode = img.mode
    if mode in ("RGB",):
        return np.asarray(img, dtype=np.uint8).copy()
    if mode == "P" or mode == "PA":
        img = img.convert("RGBA")
        mode = "RGBA"
    if mode in ("RGBA", "LA", "La", "RGBa"):
        base = img.convert("RGBA")
        white = Image.new("RGBA", base.size, (255, 255, 255, 255))
        return np.asarray(Image.alpha_composite(white, base).convert("RGB"), dtype=np.uint8).copy()
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        return to_rgb8(np.asarray(img), "image", high_bits=True)
    # CMYK, YCbCr, LAB, HSV, L, 1 ... Pillow knows how to make RGB of them.
    return np.asarray(img.convert("RGB"), dtype=np.uint8).copy()


def to_rgb8(array: np.ndarray, label: str = "array", high_bits: bool = False) -> np.ndarray:
    """Any [H, W], [H, W, 1|3|4] integer or float array as uint8 [H, W, 3] RGB.

    uint8 passes through; uint16 and wider integers are scaled by 65535 (or by their maximum
    when ``high_bits`` says the values may not span 16 bits); floats are taken as [0, 1]
    unless their range says [0, 255]. Alpha is composited over white.
    """
    a = np.asarray(array)
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] not in (3, 4)):
        raise InputError(f"{label}: expected an image array [H, W] or [H, W, 3|4], got shape {list(a.shape)}.")
    if a.dtype == np.bool_:
        a = a.astype(np.uint8) * 255
    if a.dtype != np.uint8:
        f = a.astype(np.float64)
        if not np.isfinite(f).all():
            raise InputError(f"{label}: the image holds NaN or infinite values.")
        if np.issubdtype(a.dtype, np.floating):
            top = 255.0 if f.max(initial=0) > 1.5 else 1.0
        elif high_bits and a.dtype.itemsize > 2:  # Pillow's 32-bit "I" mode of a 16-bit file
            top = 65535.0 if f.max(initial=0) > 255 else 255.0
        else:
            top = float(np.iinfo(a.dtype).max)
        a = np.clip(np.rint(f / top * 255.0), 0, 255).astype(np.uint8)
    if a.ndim == 2:
        a = np.repeat(a[:, :, None], 3, axis=2)
    if a.shape[2] == 4:
        alpha = a[:, :, 3:4].astype(np.float32) / 255.0
        a = np.rint(a[:, :, :3] * alpha + 255.0 * (1.0 - alpha)).astype(np.uint8)
    return np.ascontiguousarray(a)


def save_image(pixels: np.ndarray, path, name: str = "image") -> Path:
    """Write an RGB uint8 array as PNG/JPEG/... by the file's extension."""
    path = Path(path)
    try:
        Image.fromarray(to_rgb8(pixels, name)).save(path)
    except (OSError, ValueError, KeyError) as exc:
        raise InputError(f"{path}: cannot write the image ({exc}).") from None
    return path


def megapixels(photo: Photo) -> float:
    w, h = photo.size
    return w * h / 1e6

