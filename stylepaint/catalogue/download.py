"""Downloading one file: a generator job that yields progress and can be stopped at any yield.

``download_file(urls, dest, sha256=...)`` is the whole life of a download:

1. take a lock on ``dest`` (another process or thread downloading the same file makes this
   one wait, then reuse its result), yielding "waiting" progress so it can be cancelled;
2. reuse ``dest`` if it is already there and verified (no request is sent);
3. check free space, then fetch into ``dest.part``, resuming an existing part with an HTTP
   ``Range`` request (``If-Range`` guards against the file having changed on the server);
   without a published sha256 a part is resumed only if it still hashes to what was recorded
   for it and the server gave a validator (ETag or Last-Modified) to resume against;
4. while fetching: refuse a body whose first bytes are not what ``accept`` expects (an HTML
   error page instead of a model), a body larger than ``max_bytes`` (or the published size),
   an invalid Content-Length, and a transfer slower than ``timeouts.min_rate`` on average
   once ``timeouts.grace`` seconds have passed;
5. check the size and the sha256 (or record the first hash where none is published), and
   ``verify(part)`` -- e.g. "is a loadable checkpoint" -- before the file is moved into place;
6. fsync and atomically rename the part into place; write the record beside it.

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

from stylepaint.catalogue.http import Timeouts, describe_network_error, open_url
from stylepaint.catalogue.lockfile import CacheLock
from stylepaint.catalogue.lockfile import Timeout as LockTimeout
from stylepaint.errors import DownloadError, StylepaintError

CHUNK = 1 << 16
SNIFF_BYTES = 64                   # how much of the body ``accept`` sees
CHECKPOINT_EVERY = 8 << 20         # record the part's hash this often, so a killed download can resume
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


def _write_record(dest: Path, sha256: str, url: str | None, checked_against: str, verified: bool = False) -> dict:
    st = dest.stat()
    record = {"sha256": sha256, "size": st.st_size, "mtime_ns": st.st_mtime_ns, "url": url,
              "checked_against": checked_against, "verified": verified,
              "recorded": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    _write_json(record_path(dest), record)
    return record


def _mb(n: int | None) -> str:
    return "?" if n is None else f"{n / 1e6:.1f} MB"


class _Checks:
    """What a body must be: its first bytes, its largest size, the finished file."""

    def __init__(self, max_bytes: int | None, accept, verify):
        self.max_bytes, self.accept, self.verify = max_bytes, accept, verify

    def head(self, state: "_State", url: str, final: bool = False) -> None:
        """Once ``SNIFF_BYTES`` are in the part (or at the end), ask ``accept`` about them."""
        if self.accept is None or state.sniffed or (state.done < SNIFF_BYTES and not final):
            return
        with open(state.part, "rb") as f:
            reason = self.accept(f.read(SNIFF_BYTES))
        if reason:
            state.discard()
            raise DownloadError(f"{url}: the server sent {reason}, not the expected file; nothing was kept")
        state.sniffed = True

    def size(self, state: "_State", url: str, coming: int | None) -> None:
        if self.max_bytes is not None and (coming if coming is not None else state.done) > self.max_bytes:
            state.discard()
            amount = f"{coming} bytes" if coming is not None else f"more than {self.max_bytes} bytes"
            raise DownloadError(f"{url}: the server sent {amount}, but this file is at most {self.max_bytes} bytes; "
                                "nothing was kept")

    def whole(self, path: Path, url: str, state: "_State | None" = None) -> None:
        if self.verify is None:
            return
        try:
            self.verify(path)
        except StylepaintError as exc:
            if state is not None:
                state.discard()
            raise DownloadError(f"{url}: the downloaded file is not usable ({exc}); it was removed") from None


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
        self.sniffed = False

    def reset(self) -> None:
        with open(self.part, "wb"):
            pass
        self.hasher = hashlib.sha256()
        self.done = 0
        self.meta = {}
        self.sniffed = False

    def checkpoint(self) -> None:
        """Record how much of the part is written and its hash, so a later run can trust it."""
        if self.meta:
            self.meta.update(done=self.done, sha256_prefix=self.hasher.copy().hexdigest())
            _write_json(self.meta_path, self.meta)

    def discard(self) -> None:
        for path in (self.part, self.meta_path):
            path.unlink(missing_ok=True)


def download_file(urls, dest, *, sha256: str | None = None, size: int | None = None,
                  estimate: int | None = None, timeouts: Timeouts | None = None,
                  retries: int = 2, chunk_size: int = CHUNK, lock_poll: float = 0.2,
                  max_bytes: int | None = None, accept=None, verify=None):
    """Download ``urls`` (mirrors of one file, tried in order) to ``dest``; a generator job.

    ``max_bytes``: the largest body accepted (default: ``size`` when published).
    ``accept(head: bytes) -> str | None``: a reason to refuse the body from its first bytes.
    ``verify(path)``: raises ``StylepaintError`` if the finished file is not usable.
    """
    urls = [urls] if isinstance(urls, str) else list(urls)
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    sha256 = sha256.lower() if sha256 else None
    timeouts = timeouts or Timeouts()
    check = _Checks(size if size is not None else max_bytes, accept, verify)
    lock = CacheLock(lock_path(dest))          # removed again on release

    waited = False
    while True:
        try:
            lock.acquire(timeout=lock_poll)
            break
        except LockTimeout:
            waited = True
            yield {"stage": "waiting", "done": 0, "total": None, "url": urls[0], "path": str(dest),
                   "message": f"waiting for another download of {dest.name} to finish"}
    try:
        if dest.exists():
            record = yield from _verify_existing(dest, sha256, urls[0], check)
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
                yield from _fetch_with_retries(url, state, sha256, size, timeouts, retries, chunk_size, dest, check)
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
        check.head(state, url, final=True)
        yield {"stage": "verifying", "done": state.done, "total": state.done, "url": url, "path": str(dest),
               "message": f"checking {dest.name}"}
        check.whole(state.part, url, state)
        with open(state.part, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(state.part, dest)
        state.meta_path.unlink(missing_ok=True)
        _write_record(dest, digest, url, "published sha256" if sha256 else "first download",
                      verified=check.verify is not None)
        yield {"stage": "done", "done": state.done, "total": state.done, "url": url, "path": str(dest),
               "reused": False, "sha256": digest, "waited": waited,
               "message": f"downloaded {dest.name} ({_mb(state.done)})"}
    finally:
        lock.release()


def _verify_existing(dest: Path, sha256: str | None, url: str, check: _Checks):
    """Reuse a finished file: trust its record if size and mtime match, else hash it once.
    A file never checked by ``verify`` (an older download, or one placed by hand) is checked once."""
    st = dest.stat()
    record = read_record(dest)
    if record and record.get("size") == st.st_size and record.get("mtime_ns") == st.st_mtime_ns:
        if sha256 is None or record.get("sha256") == sha256:
            if check.verify is None or record.get("verified") or sha256:
                return record
            _verify_in_place(dest, url, check)
            return _write_record(dest, record["sha256"], record.get("url") or url,
                                 record.get("checked_against", "first download"), verified=True)
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
    if not sha256:
        _verify_in_place(dest, url, check)
    return _write_record(dest, digest, (record or {}).get("url") or url,
                         "published sha256" if sha256 else "first hash of an existing file",
                         verified=check.verify is not None)


def _verify_in_place(dest: Path, url: str, check: _Checks) -> None:
    try:
        check.whole(dest, url)
    except DownloadError:
        raise DownloadError(f"{dest} is not a usable file (it may be an error page saved by an older download); "
                            "delete it and download again") from None


def _load_part(state: _State, sha256: str | None):
    """Pick up a part file from an earlier run: hash what is there so the sum covers it."""
    if not state.part.exists():
        return
    try:
        state.meta = json.loads(state.meta_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        state.meta = {}
    if not isinstance(state.meta, dict):
        state.meta = {}
    recorded = state.meta.get("done")
    if not sha256 and not (isinstance(recorded, int) and state.meta.get("sha256_prefix")):
        state.reset()  # unknown origin and nothing to check it against: do not trust it
        return
    total = state.part.stat().st_size
    if not sha256:
        if recorded > total:
            state.reset()
            return
        total = recorded  # bytes after the last recorded point are fetched again
    with open(state.part, "rb") as f:
        while state.done < total and (block := f.read(min(1 << 20, total - state.done))):
            state.hasher.update(block)
            state.done += len(block)
            yield {"stage": "verifying", "done": state.done, "total": total, "url": state.meta.get("url"),
                   "path": str(state.part), "message": f"reading the partial download {state.part.name}"}
    if not sha256 and state.hasher.hexdigest() != state.meta.get("sha256_prefix"):
        state.reset()  # the part changed since it was written: start again
        return
    with open(state.part, "rb+") as f:
        f.truncate(state.done)


def _check_space(folder: Path, total: int | None, have: int) -> None:
    if total is None:
        return
    need = max(total - have, 0) + SPACE_MARGIN
    free = shutil.disk_usage(folder).free
    if free < need:
        raise DownloadError(f"not enough free space in {folder}: the download needs {_mb(need)}, "
                            f"{_mb(free)} is free")


def _fetch_with_retries(url, state, sha256, size, timeouts, retries, chunk_size, dest, check):
    attempts = 0
    restarts = 0
    while True:
        try:
            yield from _fetch(url, state, sha256, size, timeouts, chunk_size, dest, check)
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


def _fetch(url, state: _State, sha256, size, timeouts: Timeouts, chunk_size, dest: Path, check: _Checks):
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
        elif not sha256:
            raise _Restart()  # nothing proves the rest would come from the same file
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
            if length is not None and not length.strip().isdigit():
                raise DownloadError(f"{url}: the server sent an invalid Content-Length ({length[:40]!r})")
            state.total = int(length) if length else None
        if size is not None and state.total is not None and state.total != size:
            raise DownloadError(f"{url}: the server offers {state.total} bytes but the catalogue says {size}")
        check.size(state, url, state.total)
        _check_space(dest.parent, state.total, state.done)
        state.meta = {"url": url, "etag": response.headers.get("ETag"),
                      "last_modified": _http_date(response.headers.get("Last-Modified")),
                      "total": state.total}
        _write_json(state.meta_path, state.meta)
        yield from _copy(response, state, url, chunk_size, dest, timeouts, check)


def _copy(response, state: _State, url, chunk_size, dest: Path, timeouts: Timeouts, check: _Checks):
    start_done, start_time = state.done, time.monotonic()
    last_checkpoint = state.done
    read = getattr(response, "read1", None) or response.read   # read1: return what has arrived
    try:
        with open(state.part, "ab") as out:
            while True:
                block = read(chunk_size)
                if not block:
                    break
                out.write(block)
                state.hasher.update(block)
                state.done += len(block)
                check.size(state, url, None)
                if not state.sniffed and state.done >= SNIFF_BYTES:
                    out.flush()
                    check.head(state, url)
                if state.done - last_checkpoint >= CHECKPOINT_EVERY:
                    out.flush()
                    os.fsync(out.fileno())
                    state.checkpoint()
                    last_checkpoint = state.done
                elapsed = max(time.monotonic() - start_time, 1e-6)
                rate = (state.done - start_done) / elapsed
                if elapsed > timeouts.grace and rate < timeouts.min_rate:
                    raise _Interrupted(f"the server is too slow ({rate:,.0f} bytes/s on average, less than "
                                       f"the {timeouts.min_rate:,.0f} required)", False)
                yield {"stage": "downloading", "done": state.done, "total": state.total, "url": url,
                       "path": str(dest), "bytes_per_s": rate,
                       "message": f"{dest.name}: {_mb(state.done)} of {_mb(state.total)}"}
    except (socket.timeout, TimeoutError):
        raise _Interrupted(f"the server stopped sending data (read timed out after {timeouts.read:g} s)",
                           state.done > start_done) from None
    except (ConnectionError, http.client.HTTPException, OSError) as exc:
        raise _Interrupted(describe_network_error(exc, url), state.done > start_done) from None
    finally:
        if state.part.exists():
            state.checkpoint()
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
