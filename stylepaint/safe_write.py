"""Crash-safe file writes and one-sentence reasons for OS errors.

A write goes to a uniquely named temporary file beside the target, is flushed and fsync'ed,
then renamed over the target with ``os.replace``: a kill or a full disk in mid-write leaves
the old file (or none), never half a file. Used by image/latent export and the favorites store.
"""

from __future__ import annotations

import errno
import os
import uuid
from pathlib import Path

_REASONS = {
    errno.ENOSPC: "the disk is full",
    errno.EACCES: "the folder is not writable",
    errno.EPERM: "the folder is not writable",
    errno.EROFS: "the disk is read-only",
    errno.ENOENT: "the folder does not exist",
    errno.ENOTDIR: "the folder does not exist",
}


def describe_oserror(exc: OSError) -> str:
    """'the disk is full', 'the folder is not writable', ... or the system's own words."""
    return _REASONS.get(exc.errno, exc.strerror or str(exc))


def write_bytes_atomic(path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically; raises OSError (nothing left behind) on failure."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass
        raise
    return path
