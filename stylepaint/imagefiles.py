"""Image and latent files: PNG with text metadata (optionally 2x/4x Lanczos), latents as .npz.

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


def _oserror(path, exc: OSError) -> StylepaintError:
    return StylepaintError(f"cannot write {path}: {describe_oserror(exc)}")


def png_bytes(image: np.ndarray, metadata: dict | None = None, scale: int = 1) -> bytes:
    """Encode an RGB uint8 image as PNG with ``metadata`` as text chunks (non-str values as JSON)."""
    if scale not in SCALES:
        raise InputError(f"export scale must be one of {SCALES}, got {scale}")
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise InputError("nothing to export: there is no rendered image")
    pil = Image.fromarray(image, "RGB")
    if scale != 1:
        pil = pil.resize((pil.width * scale, pil.height * scale), Image.Resampling.LANCZOS)
    info = PngInfo()
    info.add_text("Software", "stylepaint")
    for key, value in (metadata or {}).items():
        text = value if isinstance(value, str) else json.dumps(value)
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


def export_png_job(path, image: np.ndarray, metadata: dict | None = None, scale: int = 1):
    """Job generator for the worker: encode, then write; returns the written path."""
    yield {"done": 0, "total": 2, "message": f"Encoding {Path(path).name}"}
    data = png_bytes(image, metadata, scale)
    yield {"done": 1, "total": 2, "message": f"Writing {Path(path).name}"}
    return str(write_file(path, data))


def read_png_metadata(path) -> dict:
    """The ``stylepaint:*`` text chunks of a PNG written by ``save_png``."""
    with Image.open(path) as im:
        text = dict(getattr(im, "text", {}) or {})
    return {k.split(":", 1)[1]: v for k, v in text.items() if k.startswith("stylepaint:")}


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
