"""The lock a download holds on its destination, removed again when it is released.

``filelock`` keeps a Unix lock file forever (deleting it is unsafe with a plain flock: a
process that opened the file just before the unlink would lock a file nobody else sees), so
every failed or finished download left a ``.lock`` in the cache (issue 14, item 11). Here the
holder unlinks the file while it still holds the lock, and a locker checks, once it holds the
lock, that the path still names the file it locked; if not it starts again on the new one.
Without ``fcntl`` (Windows) filelock is used, which removes its file on release there.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import filelock

try:
    import fcntl
except ImportError:                 # Windows
    fcntl = None

Timeout = filelock.Timeout


class CacheLock:
    def __init__(self, path):
        self.path = str(path)
        self._fd: int | None = None
        self._fallback = None if fcntl is not None else filelock.FileLock(self.path, thread_local=False)

    def acquire(self, timeout: float = -1) -> None:
        """Take the lock, waiting up to ``timeout`` seconds (< 0: for ever); raises ``Timeout``."""
        if self._fallback is not None:
            self._fallback.acquire(timeout=timeout)
            return
        end = None if timeout < 0 else time.monotonic() + timeout
        while not self._try():
            if end is not None and time.monotonic() >= end:
                raise Timeout(self.path)
            time.sleep(0.05 if end is None else max(0.0, min(0.05, end - time.monotonic())))

    def _try(self) -> bool:
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                return False
            try:
                same = os.path.samestat(os.fstat(fd), os.stat(self.path))
            except FileNotFoundError:
                same = False
            if same:
                self._fd = fd
                return True
            os.close(fd)                     # its holder removed it meanwhile: lock the current one

    def release(self) -> None:
        if self._fallback is not None:
            self._fallback.release()
            return
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            os.unlink(self.path)             # while still held, so no one can be inside on this file
        except FileNotFoundError:
            pass
        finally:
            os.close(fd)


def sweep(folder: Path) -> None:
    """Remove lock files nobody holds (left by older versions, or by a killed process)."""
    for path in Path(folder).glob("*.lock") if Path(folder).is_dir() else []:
        lock = CacheLock(path)
        try:
            lock.acquire(timeout=0)
        except (Timeout, OSError):
            continue
        lock.release()
