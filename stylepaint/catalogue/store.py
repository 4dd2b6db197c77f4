"""The local model store: which catalogue entries are on disk, and getting or removing them.

Files live in ``paths.user_cache_dir() / "models"`` under the entry's ``filename``. Each
finished file has a small JSON record beside it (its sha256, size and mtime), written by the
downloader; a part file (``.part``) means an interrupted download that will resume.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

from stylepaint import limits, paths
from stylepaint.catalogue import download as dl
from stylepaint.catalogue.http import Timeouts
from stylepaint.catalogue.lockfile import CacheLock, sweep
from stylepaint.catalogue.lockfile import Timeout as LockTimeout
from stylepaint.catalogue.registry import Catalogue, Entry, load_catalogue
from stylepaint.errors import DownloadError, StylepaintError
from stylepaint.safe_read import describe_head, model_format


def models_dir() -> Path:
    folder = paths.user_cache_dir() / "models"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def manual_hint(entry: Entry, path: Path) -> str:
    return f"to install it by hand, download {entry.url} and save it as {path}"


def max_download(entry: Entry) -> int:
    """The largest body accepted for ``entry``: its published size, else its approximate size
    with a margin (`limits.DOWNLOAD_SIZE_FACTOR`), else the largest checkpoint read at all."""
    if entry.size is not None:
        return entry.size
    if entry.approx_size_mb is not None:
        return int(entry.approx_size_mb * 1e6 * limits.DOWNLOAD_SIZE_FACTOR)
    return limits.FILE_BYTES["checkpoint"]


def _not_a_model(head: bytes) -> str | None:
    """Why a body cannot be model weights (an HTML error page, JSON), from its first bytes."""
    return None if model_format(head) else describe_head(head)


def _check_generator(path: Path) -> None:
    from stylepaint.engine.checkpoints import check_checkpoint  # torch: only when a download finishes

    check_checkpoint(path)


class ModelStore:
    """Catalogue entries joined with what is in the models folder."""

    def __init__(self, catalogue: Catalogue | None = None, folder: str | os.PathLike | None = None,
                 clip_folder: str | os.PathLike | None = None):
        self.catalogue = catalogue if catalogue is not None else load_catalogue()
        self.folder = Path(folder) if folder else models_dir()
        self.clip_folder = Path(clip_folder) if clip_folder else paths.clip_url_cache_dir()

    def path(self, name: str) -> Path:
        """Where the entry's file is, or will be once downloaded (CLIP weights: open_clip's cache)."""
        entry = self.catalogue.get(name)
        return (self.clip_folder if entry.kind == "clip" else self.folder) / entry.filename

    def status(self, name: str) -> str:
        """``installed``, ``partial`` (an interrupted download) or ``available``."""
        path = self.path(name)
        if path.is_file():
            return "installed"
        if dl.part_path(path).is_file():
            return "partial"
        return "available"

    def directions_path(self, name: str) -> Path | None:
        """Where the entry's precomputed directions go, if the catalogue points to a file."""
        entry = self.catalogue.get(name)
        if not entry.directions_url:
            return None
        suffix = Path(urlsplit(entry.directions_url).path).suffix or ".bin"
        return self.folder / f"{entry.filename}.directions{suffix}"

    def installed_size(self, name: str) -> int | None:
        path = self.path(name)
        return path.stat().st_size if path.is_file() else None

    def require(self, name: str) -> Path:
        """The path of an installed entry, or an error saying how to get it."""
        path = self.path(name)
        if not path.is_file():
            entry = self.catalogue.get(name)
            raise DownloadError(f"model '{name}' is not downloaded: run `stylepaint models download {name}`, "
                                f"or {manual_hint(entry, path)}")
        return path

    def download(self, name: str, timeouts: Timeouts | None = None, **kwargs):
        """Generator job: download (or reuse) the entry's file; see ``download.download_file``.

        Network failures name the URL and the manual alternative (the exact path to save to).
        """
        entry = self.catalogue.get(name)
        path = self.path(name)
        job = dl.download_file(entry.urls, path, sha256=entry.sha256, size=entry.size,
                               estimate=entry.expected_bytes, timeouts=timeouts, max_bytes=max_download(entry),
                               accept=_not_a_model, verify=_check_generator if entry.kind == "generator" else None,
                               **kwargs)
        try:
            final = None
            for final in job:
                if final["stage"] != "done":
                    yield {**final, "name": name}
        except DownloadError as exc:
            if "checksum" in str(exc) or "free space" in str(exc):
                raise
            hint = f"to install it by hand, download {entry.url} and save it as {path}"
            if entry.url in str(exc):
                hint = f"to install it by hand, download that URL and save it as {path}"
            raise DownloadError(f"{exc}; {hint}") from None
        finally:
            job.close()
        directions = self.directions_path(name)
        if directions is not None:  # optional extra: precomputed directions for this model
            try:
                for progress in dl.download_file(entry.directions_url, directions, sha256=entry.directions_sha256,
                                                 timeouts=timeouts, max_bytes=limits.FILE_BYTES["directions"],
                                                 **kwargs):
                    if progress["stage"] != "done":
                        yield {**progress, "name": name, "message": f"directions: {progress['message']}"}
            except DownloadError as exc:
                raise DownloadError(f"{exc}; the model itself is installed; to add its precomputed directions "
                                    f"by hand, save that file as {directions}") from None
            final = {**final, "directions_path": str(directions)}
        yield {**final, "name": name}

    def remove(self, name: str) -> list[Path]:
        """Delete the entry's file, its record and any partial download; returns what was removed."""
        path = self.path(name)
        lock = CacheLock(dl.lock_path(path))
        try:
            lock.acquire(timeout=0)
        except LockTimeout:
            raise StylepaintError(f"{path.name} is being downloaded right now; cancel that first") from None
        try:
            removed = []
            files = [path]
            if self.directions_path(name) is not None:
                files.append(self.directions_path(name))
            candidates = [f for p in files for f in (p, dl.record_path(p), dl.part_path(p),
                                                      dl.part_path(p).with_name(dl.part_path(p).name + ".json"))]
            for p in candidates:
                if p.is_file():
                    p.unlink()
                    removed.append(p)
            return removed
        finally:
            lock.release()  # and its lock file goes (lockfile.py says why that is safe)

    def clip_spec(self, name: str) -> str:
        """For an installed CLIP entry, the spec to pass as ``--clip`` (its weights are then found
        in open_clip's cache, so the spec is simply the catalogue name, ``MODEL:TAG``)."""
        entry = self.catalogue.get(name)
        if entry.kind != "clip":
            raise StylepaintError(f"'{name}' is a generator, not CLIP weights")
        self.require(name)
        return entry.name

    def rows(self) -> list[dict]:
        """Plain dicts for lists and dialogs (no objects from this package leak out)."""
        for folder in {self.path(entry.name).parent for entry in self.catalogue}:
            sweep(folder)                        # lock files an older version or a killed process left
        rows = []
        for entry in self.catalogue:
            status = self.status(entry.name)
            size = self.installed_size(entry.name) or entry.size
            rows.append({
                "name": entry.name, "title": entry.title, "kind": entry.kind,
                "domain": entry.domain, "resolution": entry.resolution, "status": status,
                "size_bytes": size, "approx_size_mb": entry.approx_size_mb,
                "size_text": size_text(size, entry.approx_size_mb),
                "licence": entry.licence.name, "licence_url": entry.licence.url,
                "licence_notice": entry.licence.notice, "commercial_use": entry.licence.commercial_use,
                "url": entry.url, "path": str(self.path(entry.name)),
                "neutral_prompt": entry.neutral_prompt, "clip": entry.clip,
                "sha256": entry.sha256,
            })
        return rows


def size_text(size: int | None, approx_mb: float | None) -> str:
    if size is not None:
        return f"{size / 1e6:,.1f} MB" if size < 1e9 else f"{size / 1e9:,.2f} GB"
    if approx_mb is not None:
        return f"~{approx_mb:,.0f} MB"
    return "size unknown"


def resolve_model(spec: str, catalogue: Catalogue | None = None) -> Path:
    """A model argument as the user typed it: an existing file, or an installed catalogue name."""
    path = Path(spec).expanduser()
    if path.is_file():
        return path
    store = ModelStore(catalogue)
    if spec in store.catalogue:
        return store.require(spec)
    raise StylepaintError(f"{spec}: no such file, and not a name in the model catalogue "
                          "(see `stylepaint models list`)")
