"""``stylepaint/resources/models/manifest.json``: what each shipped model file is and how it was made.

A dict of file name -> entry: ``sha256``, ``bytes``, ``config`` (architecture), ``command``
(the exact command that trained it), ``metrics`` (what it scored, on what), plus free-form
keys (``train_seconds``, ``data``, ``notes``...). Other trainers add their own entries.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from stylepaint.paths import MODELS_DIR

MANIFEST_FILE = MODELS_DIR / "manifest.json"


def sha256_of(path: Path | str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def read_manifest(path: Path | str = MANIFEST_FILE) -> dict:
    path = Path(path)
    if not path.exists():
        return {}
    return json.loads(path.read_text(encoding="utf-8"))


def update_entry(model_file: Path | str, manifest: Path | str | None = None, **info) -> dict:
    """Add or refresh the entry of ``model_file`` (hash and size measured now; ``info`` merged in)."""
    model_file = Path(model_file)
    manifest = Path(manifest) if manifest else model_file.parent / "manifest.json"
    data = read_manifest(manifest)
    entry = dict(data.get(model_file.name, {}))
    entry.update(info)
    entry["sha256"] = sha256_of(model_file)
    entry["bytes"] = model_file.stat().st_size
    data[model_file.name] = entry
    manifest.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return entry


def verify(manifest: Path | str = MANIFEST_FILE) -> list[str]:
    """Names of listed files whose size or sha256 does not match (missing files included)."""
    manifest = Path(manifest)
    bad = []
    for name, entry in read_manifest(manifest).items():
        f = manifest.parent / name
        if not f.exists() or f.stat().st_size != entry.get("bytes") or sha256_of(f) != entry.get("sha256"):
            bad.append(name)
    return bad
