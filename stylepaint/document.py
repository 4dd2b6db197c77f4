"""A ``.stylepaint`` document: what a user made, in one versioned file.

A zip holding ``document.json`` (the schema version, what made it, and the editor's picture
state as plain JSON), the painted masks as 8-bit greyscale PNGs under ``masks/``, the other
arrays (latents, pinned edit shifts) as ``.npy`` under ``arrays/``, and ``preview.png``.
The state and arrays are exactly the favorites' form (``EditorState.to_favorite``), so a
document re-creates the picture: the face or photo latent, the edit stack with its masks and
resolved shifts, blend, morph, model and CLIP.

Masks are stored as PNG, so they are kept at 8-bit precision: ``quantize_mask`` rounds a mask
to the values a PNG holds, and the editor quantizes every painted mask, so what is saved is
what was shown. No Qt, no torch.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import re
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

from stylepaint.errors import DataFileError, InputError
from stylepaint.imagefiles import write_file
from stylepaint.safe_read import array_from_npy, open_zip, parse_json, read_bytes, read_member

SCHEMA_VERSION = 1
SUFFIX = ".stylepaint"
FORMAT = "stylepaint-document"
_NAME = re.compile(r"^[A-Za-z0-9_.\-]{1,120}$")


def quantize_mask(mask: np.ndarray) -> np.ndarray:
    """A [H, W] mask in [0, 1] rounded to 1/255 steps: exactly what an 8-bit PNG keeps."""
    m = np.clip(np.asarray(mask, np.float32), 0.0, 1.0)
    return (np.round(m * 255.0).astype(np.uint8)).astype(np.float32) / np.float32(255.0)


def mask_png(mask: np.ndarray) -> bytes:
    """A quantized mask as an 8-bit greyscale PNG (exact: see ``quantize_mask``)."""
    png = io.BytesIO()
    Image.fromarray(np.round(quantize_mask(mask) * 255).astype(np.uint8), "L").save(png, "PNG")
    return png.getvalue()


def mask_from_png(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as im:
        return np.asarray(im.convert("L"), np.uint8).astype(np.float32) / np.float32(255.0)


def _is_png_mask(name: str, a: np.ndarray) -> bool:
    a = np.asarray(a)
    return (name.startswith("mask_") and a.ndim == 2 and a.dtype == np.float32 and a.size > 0
            and np.array_equal(quantize_mask(a), a))


def document_bytes(state: dict, arrays: dict, preview: np.ndarray | None = None, made_by: str = "stylepaint") -> bytes:
    """The document as zip bytes (``state``/``arrays`` as ``EditorState.to_favorite`` makes them)."""
    index, buf = {}, io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, value in arrays.items():
            if not _NAME.match(name):
                raise InputError(f"cannot save an array named {name!r} in a document")
            a = np.asarray(value)
            if _is_png_mask(name, a):
                member = f"masks/{name}.png"
                zf.writestr(member, mask_png(a))
            else:
                member = f"arrays/{name}.npy"
                npy = io.BytesIO()
                np.save(npy, a, allow_pickle=False)
                zf.writestr(member, npy.getvalue())
            index[name] = member
        if preview is not None:
            png = io.BytesIO()
            Image.fromarray(np.asarray(preview, np.uint8)).save(png, "PNG")
            zf.writestr("preview.png", png.getvalue())
        doc = {"format": FORMAT, "version": SCHEMA_VERSION, "made_by": made_by, "state": state, "arrays": index}
        zf.writestr("document.json", json.dumps(doc, indent=1))
    return buf.getvalue()


def save_document(path, state: dict, arrays: dict, preview: np.ndarray | None = None) -> Path:
    """Write crash-safely (a kill mid-save leaves the previous file)."""
    return write_file(path, document_bytes(state, arrays, preview))


def read_document(data: bytes, name: str = "document") -> tuple[dict, dict]:
    """(state, arrays) from document bytes; every problem is one ``DataFileError`` sentence
    (an ``InputError``) naming ``name``. Read through ``safe_read``: bounded zip members and
    sizes, bounded JSON depth, arrays rebuilt from plain bytes."""
    if data[:4] != b"PK\x03\x04":
        raise DataFileError(name, "is not a stylepaint document (not a zip file)")
    zf = open_zip(data, name, "document")
    with zf:
        doc = parse_json(read_member(zf, "document.json", name), f"{name} (document.json)")
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise DataFileError(name, "is not a stylepaint document")
        version = doc.get("version")
        if not isinstance(version, int) or version > SCHEMA_VERSION:
            raise DataFileError(name, f"was saved by a newer stylepaint (document version {version}); "
                                      f"this one reads version {SCHEMA_VERSION}: update stylepaint to open it")
        if version < SCHEMA_VERSION:
            raise DataFileError(name, f"was saved by an older stylepaint (document version {version}), "
                                      f"which this one no longer reads (version {SCHEMA_VERSION})")
        state, index = doc.get("state"), doc.get("arrays")
        if not isinstance(state, dict) or not isinstance(index, dict) \
                or not all(isinstance(m, str) for m in index.values()):
            raise DataFileError(name, "is damaged: its state is missing")
        arrays = {}
        for key, member in index.items():
            raw = read_member(zf, member, name)
            try:
                if member.endswith(".png"):
                    arrays[key] = mask_from_png(raw)
                else:
                    arrays[key] = array_from_npy(raw, member)
            except (OSError, ValueError, Image.DecompressionBombError) as exc:
                raise DataFileError(name, f"is damaged: {member} cannot be read ({exc})") from None
    return state, arrays


PNG_KEY = "document"                      # the exported PNG's ``stylepaint:document`` text chunk


def document_text(state: dict, arrays: dict) -> str:
    """The document (without preview) as base64 text, for an exported PNG's metadata."""
    return base64.b64encode(document_bytes(state, arrays)).decode("ascii")


def load_document(path) -> tuple[dict, dict]:
    """Read a ``.stylepaint`` file, or the document inside a PNG that stylepaint exported."""
    path = Path(path)
    data = read_bytes(path, "document")
    if data.startswith(b"\x89PNG"):
        from stylepaint.imagefiles import read_png_metadata

        text = read_png_metadata(path).get(PNG_KEY)
        if not text:
            raise DataFileError(path.name, "holds no stylepaint document (not exported by this version of stylepaint)")
        try:
            data = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise DataFileError(path.name, "holds a damaged stylepaint document") from None
    return read_document(data, path.name)
