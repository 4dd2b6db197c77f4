"""The favorites store: saved editor states with thumbnails, in the user's data folder.

Pure Python (no Qt, no torch). Each favorite is one folder ``favorites/<id>/`` holding

* ``state.json`` - name, creation time and the plain-data part of the editor state
  (model, model id, seed, truncation, edit stack, ...);
* ``arrays.npz`` - the array part of the state (latent ``ws``, painted masks);
* ``thumb.png`` - a small picture for the favorites dock.

Writes are crash-safe: a new favorite is written into a hidden temporary folder, every file
flushed and fsync'ed, and only then renamed into place in one ``os.replace``; a rename rewrites
``state.json`` through a temporary file and ``os.replace``. A kill in mid-save therefore leaves
either the old favorite or the new one, never half of one, and never touches the others.
A full disk or unwritable folder raises ``StylepaintError`` and leaves every saved favorite as
it was.
"""

from __future__ import annotations

import io
import json
import math
import os
import shutil
import time
import uuid
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from stylepaint import limits, paths
from stylepaint.errors import DataFileError, InputError, StylepaintError
from stylepaint.safe_read import open_zip, parse_json, read_arrays, read_json, read_member
from stylepaint.safe_write import describe_oserror, write_bytes_atomic

FORMAT_VERSION = 1
_STATE = "state.json"
_ARRAYS = "arrays.npz"
_THUMB = "thumb.png"


@dataclass
class Favorite:
    """One saved state. ``state`` is plain JSON data, ``arrays`` maps names to numpy arrays."""

    id: str
    name: str
    created: float
    state: dict = field(default_factory=dict)
    arrays: dict = field(default_factory=dict)
    thumbnail_path: Path | None = None


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # Windows cannot open folders; rename is atomic there anyway
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class FavoritesStore:
    """Favorites in ``root`` (default: ``<user data dir>/favorites``).

    A damaged or foreign favorite never stops the store: ``list()`` skips it and says why in
    ``problems`` (one sentence each), and never deletes or rewrites it. Temporary folders a
    killed save or delete left behind are removed when a store is opened.
    """

    #: A hidden ``.new-*``/``.trash-*`` folder older than this (seconds) belongs to no running save.
    LEFTOVER_AGE_S = 600

    def __init__(self, root: Path | str | None = None):
        self.root = Path(root) if root is not None else paths.user_data_dir() / "favorites"
        self.problems: list[str] = []
        self._remove_leftovers()

    def _remove_leftovers(self) -> None:
        if not self.root.is_dir():
            return
        now = time.time()
        for entry in self.root.iterdir():
            if not entry.name.startswith((".new-", ".trash-")):
                continue
            try:
                old = now - entry.lstat().st_mtime > self.LEFTOVER_AGE_S
            except OSError:
                continue
            if old and entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)

    # -- reading ---------------------------------------------------------------------------
    def list(self) -> list[Favorite]:
        """All readable favorites, oldest first (arrays are not loaded: see ``get``).

        Each one that cannot be read is skipped and described in ``self.problems``."""
        self.problems = []
        if not self.root.is_dir():
            return []
        favorites = []
        for folder in self.root.iterdir():
            if folder.name.startswith(".") or not folder.is_dir():
                continue
            try:
                favorites.append(self._read(folder, with_arrays=False))
            except StylepaintError as exc:
                self.problems.append(f"Skipped a damaged favorite: {exc}")  # skipped, never deleted
        favorites.sort(key=lambda f: (f.created, f.id))
        return favorites

    def get(self, fav_id: str) -> Favorite:
        folder = self.root / fav_id
        if not fav_id or "/" in fav_id or "\\" in fav_id or fav_id.startswith(".") or not folder.is_dir():
            raise InputError(f"no favorite with id {fav_id!r}")
        return self._read(folder, with_arrays=True)

    def _read(self, folder: Path, with_arrays: bool) -> Favorite:
        meta = read_json(folder / _STATE, "favorite-state")
        _check_meta(meta, folder / _STATE)
        arrays = {}
        if with_arrays and (folder / _ARRAYS).exists():
            arrays = read_arrays(folder / _ARRAYS, folder / _ARRAYS, "favorite-arrays")
        thumb = folder / _THUMB
        return Favorite(
            id=folder.name,
            name=str(meta.get("name", folder.name)),
            created=float(meta.get("created", 0.0)),
            state=meta["state"],
            arrays=arrays,
            thumbnail_path=thumb if thumb.is_file() else None,
        )

    # -- writing ---------------------------------------------------------------------------
    def add(self, name: str, state: dict, arrays: dict | None = None, thumbnail_png: bytes | None = None) -> Favorite:
        """Save a new favorite; returns it. Raises StylepaintError when it cannot be written."""
        name = (name or "").strip() or "Untitled"
        try:
            json.dumps(state)
        except (TypeError, ValueError) as exc:
            raise InputError(f"favorite state is not plain data ({exc})") from exc
        fav_id = time.strftime("%Y%m%d-%H%M%S") + "-" + uuid.uuid4().hex[:6]
        created = time.time()
        tmp = self.root / f".new-{fav_id}"
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            tmp.mkdir()
            meta = {"version": FORMAT_VERSION, "name": name, "created": created, "state": state}
            write_bytes_atomic(tmp / _STATE, json.dumps(meta, indent=1).encode("utf-8"))
            if arrays:
                buf = io.BytesIO()
                np.savez_compressed(buf, **{k: np.asarray(v) for k, v in arrays.items()})
                write_bytes_atomic(tmp / _ARRAYS, buf.getvalue())
            if thumbnail_png:
                write_bytes_atomic(tmp / _THUMB, thumbnail_png)
            _fsync_dir(tmp)
            os.replace(tmp, self.root / fav_id)
            _fsync_dir(self.root)
        except OSError as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            raise StylepaintError(f"cannot save the favorite in {self.root}: {describe_oserror(exc)}") from exc
        return self.get(fav_id)

    def rename(self, fav_id: str, name: str) -> Favorite:
        name = (name or "").strip()
        if not name:
            raise InputError("a favorite needs a non-empty name")
        folder = self.root / fav_id
        fav = self.get(fav_id)
        meta = {"version": FORMAT_VERSION, "name": name, "created": fav.created, "state": fav.state}
        try:
            write_bytes_atomic(folder / _STATE, json.dumps(meta, indent=1).encode("utf-8"))
        except OSError as exc:
            raise StylepaintError(f"cannot rename the favorite: {describe_oserror(exc)}") from exc
        return self.get(fav_id)

    def delete(self, fav_id: str) -> None:
        folder = self.root / fav_id
        if not folder.is_dir():
            raise InputError(f"no favorite with id {fav_id!r}")
        trash = self.root / f".trash-{fav_id}-{uuid.uuid4().hex[:6]}"
        try:
            os.replace(folder, trash)  # one atomic step: the favorite is gone or still whole
        except OSError as exc:
            raise StylepaintError(f"cannot delete the favorite: {describe_oserror(exc)}") from exc
        shutil.rmtree(trash, ignore_errors=True)

    # -- exchange --------------------------------------------------------------------------
    def export(self, fav_id: str, dest: Path | str) -> Path:
        """Write the favorite as one ``.zip`` bundle (state.json, arrays.npz, thumb.png)."""
        folder = self.root / fav_id
        self.get(fav_id)  # validates
        dest = Path(dest)
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            for name in (_STATE, _ARRAYS, _THUMB):
                if (folder / name).exists():
                    zf.write(folder / name, name)
        try:
            write_bytes_atomic(dest, buf.getvalue())
        except OSError as exc:
            raise StylepaintError(f"cannot export to {dest}: {describe_oserror(exc)}") from exc
        return dest

    def import_bundle(self, src: Path | str) -> Favorite:
        """Add a favorite from a bundle written by ``export``."""
        zf = open_zip(src, src, "favorite-bundle")
        for info in zf.infolist():
            kind = _MEMBER_KINDS.get(info.filename)
            if kind and info.file_size > limits.FILE_BYTES[kind]:
                raise DataFileError(src, f"its {info.filename} would unpack to {info.file_size} bytes, "
                                         f"more than the {limits.FILE_BYTES[kind]} allowed")
        meta = parse_json(read_member(zf, _STATE, src), src)
        _check_meta(meta, src)
        arrays = read_arrays(read_member(zf, _ARRAYS, src), src, "favorite-arrays") if _ARRAYS in zf.namelist() else {}
        thumb = read_member(zf, _THUMB, src) if _THUMB in zf.namelist() else None
        return self.add(meta.get("name", "Imported"), meta["state"], arrays, thumb)


_MEMBER_KINDS = {_STATE: "favorite-state", _ARRAYS: "favorite-arrays", _THUMB: "favorite-thumb"}


def _check_meta(meta, path) -> None:
    """A favorite's ``state.json``: an object with a ``state`` object, a text name and a finite time."""
    if not isinstance(meta, dict) or not isinstance(meta.get("state"), dict):
        raise DataFileError(path, "is not a stylepaint favorite (no 'state')")
    if not isinstance(meta.get("name", ""), str):
        raise DataFileError(path, f"has a name that is not text ({meta['name']!r:.40})")
    created = meta.get("created", 0.0)
    if not isinstance(created, (int, float)) or isinstance(created, bool) or not math.isfinite(created):
        raise DataFileError(path, f"has a creation time that is not a number ({created!r:.40})")
