"""Image and latent files: PNG, JPEG, WebP or TIFF with the picture's metadata (optionally
2x/4x Lanczos), latents as .npz.

PNG keeps every key as an iTXt chunk; TIFF keeps them all as JSON in its ImageDescription tag;
JPEG and WebP keep them as JSON in the EXIF ImageDescription (JPEG's EXIF holds under 64 KB, so
the largest values, e.g. the whole document, are left out there and named in ``omitted``).

Plain Python (Pillow + numpy), shared by the CLI and the editor; the GUI worker runs them
off the GUI thread as job generators; every failure is a ``StylepaintError`` with one sentence.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from stylepaint.errors import DataFileError, InputError, StylepaintError
from stylepaint.safe_read import parse_json, read_arrays
from stylepaint.safe_write import describe_oserror, write_bytes_atomic

SCALES = (1, 2, 4)
#: format -> (Pillow name, file suffix)
FORMATS = {"png": ("PNG", ".png"), "jpeg": ("JPEG", ".jpg"), "webp": ("WEBP", ".webp"), "tiff": ("TIFF", ".tif")}
SUFFIXES = {".png": "png", ".jpg": "jpeg", ".jpeg": "jpeg", ".webp": "webp", ".tif": "tiff", ".tiff": "tiff"}
EXIF_LIMIT = {"jpeg": 60_000, "webp": 4_000_000, "tiff": 64_000_000}   # bytes of metadata JSON
_DESCRIPTION, _SOFTWARE = 0x010E, 0x0131                                 # EXIF/TIFF tags


def _oserror(path, exc: OSError) -> StylepaintError:
    return StylepaintError(f"cannot write {path}: {describe_oserror(exc)}")


def format_of(path) -> str:
    """The export format a file name asks for (its suffix); PNG when it names none we write."""
    return SUFFIXES.get(Path(str(path)).suffix.lower(), "png")


def _scaled(image: np.ndarray, scale: int) -> Image.Image:
    if scale not in SCALES:
        raise InputError(f"export scale must be one of {SCALES}, got {scale}")
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise InputError("nothing to export: there is no rendered image")
    pil = Image.fromarray(image, "RGB")
    if scale != 1:
        pil = pil.resize((pil.width * scale, pil.height * scale), Image.Resampling.LANCZOS)
    return pil


def _texts(metadata: dict | None) -> dict:
    return {key: value if isinstance(value, str) else json.dumps(value) for key, value in (metadata or {}).items()}


def _description(metadata: dict | None, limit: int) -> str:
    """The metadata as one JSON text of at most ``limit`` bytes: the largest values left out
    (and named under ``omitted``) until it fits."""
    texts = _texts(metadata)
    omitted = []
    while True:
        text = json.dumps(dict(texts, **({"omitted": json.dumps(omitted)} if omitted else {})))
        if len(text) <= limit or not texts:
            return text
        largest = max(texts, key=lambda k: len(texts[k]))
        omitted.append(largest)
        del texts[largest]


def image_bytes(image: np.ndarray, metadata: dict | None = None, scale: int = 1, fmt: str = "png",
                quality: int = 92) -> bytes:
    """Encode an RGB uint8 image in ``fmt`` (see FORMATS) with ``metadata`` where the format
    holds it; ``quality`` (1-100) for JPEG and WebP."""
    if fmt not in FORMATS:
        raise InputError(f"export format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    if fmt == "png":
        return png_bytes(image, metadata, scale)
    pil = _scaled(image, scale)
    text = _description(metadata, EXIF_LIMIT[fmt])
    buf = io.BytesIO()
    if fmt == "tiff":
        pil.save(buf, "TIFF", compression="tiff_lzw", tiffinfo={_DESCRIPTION: text, _SOFTWARE: "stylepaint"})
    else:
        exif = Image.Exif()
        exif[_DESCRIPTION], exif[_SOFTWARE] = text, "stylepaint"
        pil.save(buf, FORMATS[fmt][0], quality=int(min(max(quality, 1), 100)), exif=exif.tobytes())
    return buf.getvalue()


def png_bytes(image: np.ndarray, metadata: dict | None = None, scale: int = 1) -> bytes:
    """Encode an RGB uint8 image as PNG with ``metadata`` as text chunks (non-str values as JSON)."""
    pil = _scaled(image, scale)
    info = PngInfo()
    info.add_text("Software", "stylepaint")
    for key, text in _texts(metadata).items():
        info.add_itxt(f"stylepaint:{key}", text)
    buf = io.BytesIO()
    pil.save(buf, "PNG", pnginfo=info)
    return buf.getvalue()


def write_file(path, data: bytes) -> Path:
    """Write bytes crash-safely (an interrupted export leaves no stub); errors as one sentence."""
    try:
        return write_bytes_atomic(path, data)
    except OSError as exc:
        raise _oserror(path, exc) from exc


def save_png(path, image: np.ndarray, metadata: dict | None = None, scale: int = 1) -> Path:
    return write_file(path, png_bytes(image, metadata, scale))


def export_png_job(path, image: np.ndarray, metadata: dict | None = None, scale: int = 1,
                   fmt: str = "png", quality: int = 92):
    """Job generator for the worker: encode (``fmt``, see FORMATS), then write; returns the written path."""
    yield {"done": 0, "total": 2, "message": f"Encoding {Path(path).name}"}
    data = image_bytes(image, metadata, scale, fmt, quality)
    yield {"done": 1, "total": 2, "message": f"Writing {Path(path).name}"}
    return str(write_file(path, data))


def read_png_metadata(path) -> dict:
    """The ``stylepaint:*`` text chunks of a PNG written by ``save_png``."""
    with Image.open(path) as im:
        text = dict(getattr(im, "text", {}) or {})
    return {k.split(":", 1)[1]: v for k, v in text.items() if k.startswith("stylepaint:")}


def read_image_metadata(path) -> dict:
    """The metadata ``image_bytes`` wrote, in any of FORMATS: key -> text (non-text values as JSON)."""
    with Image.open(path) as im:
        if im.format == "PNG":
            text = dict(getattr(im, "text", {}) or {})
            return {k.split(":", 1)[1]: v for k, v in text.items() if k.startswith("stylepaint:")}
        exif = im.getexif()
        if exif.get(_SOFTWARE) != "stylepaint":
            return {}
        description = exif.get(_DESCRIPTION)
    try:
        meta = json.loads(description)
    except (TypeError, ValueError) as exc:
        raise DataFileError(path, "has stylepaint metadata that is not valid JSON") from exc
    return meta if isinstance(meta, dict) else {}


def save_latent(path, ws: np.ndarray, metadata: dict | None = None) -> Path:
    if ws is None:
        raise InputError("nothing to save: no latent has been rendered yet")
    buf = io.BytesIO()
    np.savez(buf, ws=np.asarray(ws, np.float32), metadata=np.array(json.dumps(metadata or {})))
    return write_file(path, buf.getvalue())


def load_latent(path) -> tuple[np.ndarray, dict]:
    """Read a latent saved by ``save_latent`` (or any .npz with a ``ws``/``w`` array, or a plain
    ``.npy`` array): finite float32 ``[num_ws, w_dim]`` or ``[w_dim]``, and its metadata."""
    arrays = read_arrays(path, path, "latent")
    key = next((k for k in ("ws", "w", "") if k in arrays), None)
    if key is None:
        raise DataFileError(path, "holds no 'ws' array, so it is not a latent file")
    ws = arrays[key]
    if ws.dtype.kind not in "iuf":
        raise DataFileError(path, f"holds a latent of {ws.dtype} values, not numbers")
    ws = ws.astype(np.float32)
    if ws.ndim == 3 and ws.shape[0] == 1:
        ws = ws[0]
    if ws.ndim not in (1, 2) or ws.size == 0:
        raise DataFileError(path, f"holds a latent of shape {list(ws.shape)}; expected [num_ws, w_dim] or [w_dim]")
    if not np.isfinite(ws).all():
        raise DataFileError(path, "holds a latent with NaN or infinite values")
    meta = {}
    if "metadata" in arrays:
        text = arrays["metadata"]
        meta = parse_json(str(text).encode("utf-8"), path) if text.dtype.kind == "U" and text.ndim == 0 else {}
    return ws, meta if isinstance(meta, dict) else {}
