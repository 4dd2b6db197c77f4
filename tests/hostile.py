"""Making hostile files inside the tests (no binary blobs in the repository), and running
loaders on them in a child process with a memory cap (`loader_driver.py`)."""

from __future__ import annotations

import contextlib
import json
import pickle
import pickletools
import signal
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
GiB = 1 << 30


# --------------------------------------------------------------------------- running loaders

def run_loaders(cases: list[dict], workdir: Path, mem_bytes: int = 2 * GiB, case_timeout: int = 20,
                total_timeout: float = 120) -> list[dict]:
    """One result per case (see `loader_driver`). A child killed by a signal or that hangs
    yields ``outcome`` ``signal``/``hang`` for the case it was running, and ``not run`` after.
    After a case that timed out, the child stops and a fresh one runs the remaining cases."""
    from loader_driver import TIMED_OUT

    workdir.mkdir(parents=True, exist_ok=True)
    results: dict[int, dict] = {}
    first, deadline_at = 0, time.monotonic() + total_timeout
    while first < len(cases):
        job = json.dumps({"cases": cases[first:], "mem_bytes": mem_bytes, "case_timeout": case_timeout,
                          "workdir": str(workdir)})
        try:
            proc = subprocess.run([sys.executable, str(HERE / "loader_driver.py")], input=job, capture_output=True,
                                  text=True, timeout=max(1.0, deadline_at - time.monotonic()), cwd=HERE)
            out, rc, err = proc.stdout, proc.returncode, proc.stderr
        except subprocess.TimeoutExpired as exc:
            out = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
            rc, err = None, "hang"
        running, last = None, first - 1
        for line in out.splitlines():
            if line.startswith("START "):
                running = first + int(line.split()[1])
            elif line.startswith("RESULT "):
                r = json.loads(line[7:])
                r["i"] += first
                results[r["i"]] = r
                running, last = None, r["i"]
        if running is not None:
            why = "hang" if rc is None else f"signal {-rc}" if rc < 0 else f"exit {rc}"
            results[running] = {"i": running, "outcome": "hang" if rc is None else "signal", "type": why,
                                "message": err[-2000:], **cases[running]}
        if rc != TIMED_OUT or running is not None:
            break
        first = last + 1
    return [results.get(i, {"i": i, "outcome": "not run", **case}) for i, case in enumerate(cases)]


def one(loader: str, path, workdir: Path, **kwargs) -> dict:
    return run_loaders([{"loader": loader, "path": str(path)}], workdir, **kwargs)[0]


def assert_one_error(result: dict, path, *words: str) -> None:
    """The loader ended in one StylepaintError that names the file (and says ``words``)."""
    assert result["outcome"] == "error", result
    assert str(path) in result["message"] or Path(path).name in result["message"], result
    for word in words:
        assert word in result["message"], result


@contextlib.contextmanager
def deadline(seconds: int):
    """Raise TimeoutError in this (main) thread after ``seconds``: a loader that blocks on a
    FIFO fails its test instead of hanging the run."""
    def expire(signum, frame):
        raise TimeoutError(f"still blocked after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


# --------------------------------------------------------------------------- pickle opcodes

def ops(value) -> bytes:
    """The opcodes that push ``value`` (protocol 3), without PROTO and STOP."""
    return pickletools.optimize(pickle.dumps(value, 3))[2:-1]


def glob(module: str, name: str) -> bytes:
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def call(func: bytes, *args: bytes) -> bytes:
    """``func(*args)`` where each piece is opcodes that push one value."""
    return func + b"(" + b"".join(args) + b"tR"


def build(obj: bytes, state: bytes) -> bytes:
    return obj + state + b"b"


def tup(*items: bytes) -> bytes:
    return b"(" + b"".join(items) + b"t"


def program(body: bytes) -> bytes:
    return b"\x80\x03" + body + b"."


def np_dtype(spec: str, byteorder: str = "|") -> bytes:
    """``numpy.dtype(spec)`` with the BUILD state numpy writes for a plain number type."""
    return build(call(glob("numpy", "dtype"), ops(spec), ops(False), ops(True)),
                 tup(ops(3), ops(byteorder), ops(None), ops(None), ops(None), ops(-1), ops(-1), ops(0)))


def np_array(shape: tuple, dtype: bytes, data: bytes, base_shape=(0,)) -> bytes:
    """``_reconstruct(ndarray, base_shape, b'b')`` then BUILD ``(1, shape, dtype, False, data)``."""
    rec = call(glob("numpy.core.multiarray", "_reconstruct"), glob("numpy", "ndarray"), ops(base_shape), ops(b"b"))
    return build(rec, tup(ops(1), ops(shape), dtype, ops(False), ops(data)))


# --------------------------------------------------------------------------- NVIDIA-style records

class Persistent:
    """Pickles like a `torch_utils.persistence` object (without needing NVIDIA's code)."""

    def __init__(self, class_name: str, state: dict):
        self.class_name, self.state = class_name, state

    def __reduce__(self):
        meta = dict(type="class", version=6, module_src="", class_name=self.class_name, state=self.state)
        return (_reconstruct_persistent_obj, (meta,))


def _reconstruct_persistent_obj(meta):  # stands in for NVIDIA's function while pickling
    raise AssertionError("never called at load time")


_reconstruct_persistent_obj.__module__ = "torch_utils.persistence"


def module(class_name: str, params: dict | None = None, modules: dict | None = None, **attrs) -> Persistent:
    return Persistent(class_name, {"_parameters": params or {}, "_buffers": {}, "_modules": modules or {}, **attrs})


def nvidia_pickle(G: Persistent) -> bytes:
    """``{"G_ema": G}`` pickled the way NVIDIA's files are (protocol 4)."""
    import sys as _sys
    import types

    saved = {k: _sys.modules.get(k) for k in ("torch_utils", "torch_utils.persistence")}
    fake = types.ModuleType("torch_utils.persistence")
    fake._reconstruct_persistent_obj = _reconstruct_persistent_obj
    _sys.modules["torch_utils"], _sys.modules["torch_utils.persistence"] = types.ModuleType("torch_utils"), fake
    _reconstruct_persistent_obj.__qualname__ = "_reconstruct_persistent_obj"
    try:
        return pickle.dumps({"G_ema": G}, 4)
    finally:
        for k, v in saved.items():
            if v is None:
                _sys.modules.pop(k, None)
            else:
                _sys.modules[k] = v


# --------------------------------------------------------------------------- zip bombs

def deflate_zeros(n_mib: int, prefix: bytes = b"") -> bytes:
    """A raw deflate stream of ``prefix`` + ``n_mib`` MiB of zeros, made in milliseconds:
    after a full flush the compressor forgets its history, so every MiB of zeros compresses
    to the same bytes and the stream is that block repeated."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = c.compress(prefix) + c.flush(zlib.Z_FULL_FLUSH)
    block = c.compress(bytes(1 << 20)) + c.flush(zlib.Z_FULL_FLUSH)
    again = c.compress(bytes(1 << 20)) + c.flush(zlib.Z_FULL_FLUSH)
    assert block == again
    return head + block * n_mib + c.flush()


def zip_with(members: dict[str, tuple[bytes, int, int]]) -> bytes:
    """A zip of deflated members given as ``name: (deflate stream, uncompressed size, crc32)``."""
    local, central, offset = b"", b"", 0
    for name, (stream, size, crc) in members.items():
        n = name.encode()
        header = struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0, crc, len(stream), size, len(n), 0) + n
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 8, 0, 0, crc, len(stream), size,
                               len(n), 0, 0, 0, 0, 0, offset) + n
        local += header + stream
        offset += len(header) + len(stream)
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(members), len(members), len(central), offset, 0)
    return local + central + end


def npy_header(shape: tuple, dtype: str = "<f4") -> bytes:
    import io

    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": dtype, "fortran_order": False, "shape": shape})
    return buf.getvalue()


def npz_bomb(n_mib: int, name: str = "ws.npy") -> bytes:
    """An .npz whose one float32 array unpacks to ``n_mib`` MiB of zeros (CRC left 0: a loader
    that decompresses before checking sizes runs out of memory long before it checks it)."""
    header = npy_header((n_mib << 18,))
    return zip_with({name: (deflate_zeros(n_mib, header), len(header) + (n_mib << 20), 0)})
