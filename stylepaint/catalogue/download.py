"""Downloading one file: a generator job that yields progress and can be stopped at any yield.

``download_file(urls, dest, sha256=...)`` is the whole life of a download:

1. take a lock on ``dest`` (another process or thread downloading the same file makes this
   one wait, then reuse its result), yielding "waiting" progress so it can be cancelled;
2. reuse ``dest`` if it is already there and verified (no request is sent);
3. check free space, then fetch into ``dest.part``, resuming an existing part with an HTTP
   ``Range`` request (``If-Range`` guards against the file having changed on the server);
4. check the size and the sha256 (or record the first hash where none is published);
5. fsync and atomically rename the part into place; write the record beside it.

Closing the generator (``job.close()``) stops it at once; the part file stays for a later
resume. Failures raise ``DownloadError`` with one sentence naming the URL and the problem.
Progress dicts: ``{"stage", "done", "total", "message", "url", "path", ...}`` where stage is
``waiting | verifying | connecting | downloading | done``; the last one has ``"path"`` and
``"reused"``.
"""

from __future__ import annotations

import email.utils
import hashlib
import http.client
import json
import os
import re
import shutil
import socket
import time
from contextlib import closing
from pathlib import Path

import filelock

from stylepaint.catalogue.http import Timeouts, describe_network_error, open_url
from stylepaint.errors import DownloadError

CHUNK = 1 << 16
SPACE_MARGIN = 16 << 20  # keep this much free beyond the file itself
_CONTENT_RANGE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)")


def part_path(dest: Path) -> Path:
    return dest.with_name(dest.name + ".part")


def record_path(dest: Path) -> Path:
    """Beside each finished file: its sha256, size and mtime, so reuse needs no re-hashing."""
    return dest.with_name(dest.name + ".json")


def lock_path(dest: Path) -> Path:
    return dest.with_name(dest.name + ".lock")


def read_record(dest: Path) -> dict | None:
    try:
        record = json.loads(record_path(dest).read_text(encoding="utf-8"))
        return record if isinstance(record, dict) else None
    except (OSError, ValueError):
        return None


def _write_json(path: Path, data: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1), encoding="utf-8")
    os.replace(tmp, path)


def _write_record(dest: Path, sha256: str, url: str | None, checked_against: str) -> dict:
    st = dest.stat()
    record = {"sha256": sha256, "size": st.st_size, "mtime_ns": st.st_mtime_ns, "url": url,
              "checked_against": checked_against, "recorded": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    _write_json(record_path(dest), record)
    return record


def _mb(n: int | None) -> str:
    return "?" if n is None else f"{n / 1e6:.1f} MB"


class _Interrupted(Exception):
    """The transfer stopped part-way (reset, short body, read timeout): maybe retry."""

    def __init__(self, reason: str, progressed: bool):
        super().__init__(reason)
        self.progressed = progressed


class _Restart(Exception):
    """The part file cannot be resumed (server ignored Range, file changed): start over."""


class _State:
    """What is on disk in the part file, plus the running hash of those bytes."""

    def __init__(self, part: Path):
        self.part = part
        self.meta_path = part.with_name(part.name + ".json")
        self.hasher = hashlib.sha256()
        self.done = 0
        self.total: int | None = None
        self.meta: dict = {}

    def reset(self) -> None:
        with open(self.part, "wb"):
            pass
        self.hasher = hashlib.sha256()
        self.done = 0
        self.meta = {}

    def discard(self) -> None:
        for path in (self.part, self.meta_path):
            path.unlink(missing_ok=True)


def download_file(urls, dest, *, sha256: str | None = None, size: int | None = None,
                  estimate: int | None = None, timeouts: Timeouts | None = None,
                  retries: int = 2, chunk_size: int = CHUNK, lock_poll: float = 0.2):
    """Download ``urls`` (mirrors of one file, tried in order) to ``dest``; a generator job."""
    urls = [urls] if isinstance(urls, str) else list(urls)
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    sha256 = sha256.lower() if sha256 else None
    timeouts = timeouts or Timeouts()
    lock = filelock.FileLock(str(lock_path(dest)), thread_local=False)

    waited = False
    while True:
        try:
            lock.acquire(timeout=lock_poll)
            break
        except filelock.Timeout:
            waited = True
            yield {"stage": "waiting", "done": 0, "total": None, "url": urls[0], "path": str(dest),
                   "message": f"waiting for another download of {dest.name} to finish"}
    try:
        if dest.exists():
            record = yield from _verify_existing(dest, sha256, urls[0])
            yield {"stage": "done", "done": record["size"], "total": record["size"], "url": urls[0],
                   "path": str(dest), "reused": True, "sha256": record["sha256"], "waited": waited,
                   "message": f"{dest.name} is already downloaded"}
            return
        state = _State(part_path(dest))
        yield from _load_part(state, sha256)
        _check_space(dest.parent, (size or estimate), state.done)
        last_error: DownloadError | None = None
        for url in urls:
            try:
                yield from _fetch_with_retries(url, state, sha256, size, timeouts, retries, chunk_size, dest)
                last_error = None
                break
            except DownloadError as exc:
                last_error = exc
        if last_error is not None:
            raise last_error
        digest = state.hasher.hexdigest()
        if state.total is not None and state.done != state.total:
            raise DownloadError(f"{url}: got {state.done} bytes, expected {state.total}")
        if size is not None and state.done != size:
            state.discard()
            raise DownloadError(f"{url}: got {state.done} bytes but the catalogue says {size}; "
                                "the downloaded file was removed")
        if sha256 and digest != sha256:
            state.discard()
            raise DownloadError(f"{url}: checksum mismatch (sha256 {digest}, expected {sha256}); "
                                "the downloaded file was removed")
        with open(state.part, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(state.part, dest)
        state.meta_path.unlink(missing_ok=True)
        _write_record(dest, digest, url, "published sha256" if sha256 else "first download")
        yield {"stage": "done", "done": state.done, "total": state.done, "url": url, "path": str(dest),
               "reused": False, "sha256": digest, "waited": waited,
               "message": f"downloaded {dest.name} ({_mb(state.done)})"}
    finally:
        lock.release()


def _verify_existing(dest: Path, sha256: str | None, url: str):
    """Reuse a finished file: trust its record if size and mtime match, else hash it once."""
    st = dest.stat()
    record = read_record(dest)
    if record and record.get("size") == st.st_size and record.get("mtime_ns") == st.st_mtime_ns:
        if sha256 is None or record.get("sha256") == sha256:
            return record
    expected = sha256 or (record or {}).get("sha256")
    hasher = hashlib.sha256()
    done = 0
    with open(dest, "rb") as f:
        while block := f.read(1 << 20):
            hasher.update(block)
            done += len(block)
            yield {"stage": "verifying", "done": done, "total": st.st_size, "url": url, "path": str(dest),
                   "message": f"checking {dest.name}"}
    digest = hasher.hexdigest()
    if expected and digest != expected:
        why = "the published checksum" if sha256 else "the checksum recorded when it was downloaded"
        raise DownloadError(f"{dest} does not match {why} (sha256 {digest}, expected {expected}); "
                            "delete it and download again")
    return _write_record(dest, digest, (record or {}).get("url") or url,
                         "published sha256" if sha256 else "first hash of an existing file")


def _load_part(state: _State, sha256: str | None):
    """Pick up a part file from an earlier run: hash what is there so the sum covers it."""
    if not state.part.exists():
        return
    try:
        state.meta = json.loads(state.meta_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        state.meta = {}
    if not state.meta and not sha256:
        state.reset()  # unknown origin and nothing to check it against: do not trust it
        return
    total = state.part.stat().st_size
    with open(state.part, "rb") as f:
        while block := f.read(1 << 20):
            state.hasher.update(block)
            state.done += len(block)
            yield {"stage": "verifying", "done": state.done, "total": total, "url": state.meta.get("url"),
                   "path": str(state.part), "message": f"reading the partial download {state.part.name}"}


def _check_space(folder: Path, total: int | None, have: int) -> None:
    if total is None:
        return
    need = max(total - have, 0) + SPACE_MARGIN
    free = shutil.disk_usage(folder).free
    if free < need:
        raise DownloadError(f"not enough free space in {folder}: the download needs {_mb(need)}, "
                            f"{_mb(free)} is free")


def _fetch_with_retries(url, state, sha256, size, timeouts, retries, chunk_size, dest):
    attempts = 0
    restarts = 0
    while True:
        try:
            yield from _fetch(url, state, sha256, size, timeouts, chunk_size, dest)
            return
        except _Restart:
            restarts += 1
            if restarts > 2:
                raise DownloadError(f"{url}: the server keeps refusing to resume; try again later") from None
            state.reset()
        except _Interrupted as exc:
            attempts += 1
            kept = f"{_mb(state.done)} of {_mb(state.total)} kept in {state.part}"
            if not exc.progressed or attempts > retries:
                raise DownloadError(f"{url}: {exc} ({kept}); run the download again to resume") from None
            yield {"stage": "connecting", "done": state.done, "total": state.total, "url": url,
                   "path": str(dest), "message": f"{exc}; resuming at {_mb(state.done)}"}


def _fetch(url, state: _State, sha256, size, timeouts: Timeouts, chunk_size, dest: Path):
    """One HTTP request: resume from ``state.done`` if possible and append to the part file."""
    headers = {}
    if state.done:
        same_origin = state.meta.get("url") == url
        if not same_origin and not sha256:
            raise _Restart()
        headers["Range"] = f"bytes={state.done}-"
        validator = state.meta.get("etag") if same_origin else None
        if validator and not validator.startswith("W/"):
            headers["If-Range"] = validator
        elif same_origin and state.meta.get("last_modified"):
            headers["If-Range"] = state.meta["last_modified"]
    yield {"stage": "connecting", "done": state.done, "total": state.total, "url": url, "path": str(dest),
           "message": f"connecting to {url}"}
    response = open_url(url, headers, timeouts)
    with closing(response):
        status = getattr(response, "status", None) or response.code
        if status == 416:
            total = _content_range_total(response.headers.get("Content-Range"))
            if total is not None and total == state.done:
                state.total = total
                return  # the part already holds the whole file
            raise _Restart()
        if status == 206:
            match = _CONTENT_RANGE.match(response.headers.get("Content-Range", ""))
            if not match or int(match.group(1)) != state.done:
                raise _Restart()
            state.total = None if match.group(3) == "*" else int(match.group(3))
        else:
            if state.done:
                state.reset()  # the server sent the whole file: start the part again
            length = response.headers.get("Content-Length")
            state.total = int(length) if length and length.isdigit() else None
        if size is not None and state.total is not None and state.total != size:
            raise DownloadError(f"{url}: the server offers {state.total} bytes but the catalogue says {size}")
        _check_space(dest.parent, state.total, state.done)
        state.meta = {"url": url, "etag": response.headers.get("ETag"),
                      "last_modified": _http_date(response.headers.get("Last-Modified")),
                      "total": state.total}
        _write_json(state.meta_path, state.meta)
        yield from _copy(response, state, url, chunk_size, dest, timeouts.read)


def _copy(response, state: _State, url, chunk_size, dest: Path, read_timeout: float):
    start_done, start_time = state.done, time.monotonic()
    try:
        with open(state.part, "ab") as out:
            while True:
                block = response.read(chunk_size)
                if not block:
                    break
                out.write(block)
                state.hasher.update(block)
                state.done += len(block)
                elapsed = max(time.monotonic() - start_time, 1e-6)
                rate = (state.done - start_done) / elapsed
                yield {"stage": "downloading", "done": state.done, "total": state.total, "url": url,
                       "path": str(dest), "bytes_per_s": rate,
                       "message": f"{dest.name}: {_mb(state.done)} of {_mb(state.total)}"}
    except (socket.timeout, TimeoutError):
        raise _Interrupted(f"the server stopped sending data (read timed out after {read_timeout:g} s)",
                           state.done > start_done) from None
    except (ConnectionError, http.client.HTTPException, OSError) as exc:
        raise _Interrupted(describe_network_error(exc, url), state.done > start_done) from None
    if state.total is not None and state.done < state.total:
        raise _Interrupted(f"the connection closed after {state.done} of {state.total} bytes",
                           state.done > start_done)


def _content_range_total(value: str | None) -> int | None:
    match = re.match(r"bytes\s+\*/(\d+)", value or "")
    return int(match.group(1)) if match else None


def _http_date(value: str | None) -> str | None:
    """Keep Last-Modified only if it parses (If-Range needs an exact HTTP date)."""
    try:
        return value if value and email.utils.parsedate_to_datetime(value) else None
    except (TypeError, ValueError):
        return None
