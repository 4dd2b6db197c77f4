"""Reading files that may be broken or hostile: the one place every loader opens a file.

* Only regular files are opened (a FIFO, ``/dev/zero`` or a symlink to either is refused
  before a byte is read; the open itself never blocks), and only up to the size cap of their
  kind (`limits.FILE_BYTES`).
* JSON is parsed with its nesting depth bounded (`limits.JSON_DEPTH`).
* Zips (``.npz``, favorite bundles) are checked before anything is decompressed: member
  count, declared sizes (which `zipfile` never exceeds while reading), compression method.
* Arrays are rebuilt from plain bytes: the ``.npy`` header is parsed, its dtype must be a
  plain number or text type (never one that can hold Python objects), and the shape must
  match the bytes present exactly -- nothing is allocated for data that is not there.

Every failure is a ``FileError`` subclass (``DataFileError`` unless the caller passes its
own) whose message is one sentence naming the file and the problem.
"""

from __future__ import annotations

import io
import json
import math
import os
import stat
import tokenize
import zipfile
import zlib
from pathlib import Path

import numpy as np

from stylepaint import limits
from stylepaint.errors import DataFileError
from stylepaint.safe_write import describe_oserror

#: dtype kinds an array in a file may have: bool, integers, floats, complex, text.
ARRAY_KINDS = "biufcUS"
_NPY_MAGIC = b"\x93NUMPY"


def _size(n: int) -> str:
    return f"{n / limits.MiB:.1f} MiB" if n >= limits.MiB else f"{n} bytes"


def _what(mode: int) -> str:
    for test, name in ((stat.S_ISFIFO, "a named pipe"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "not a regular file"


def open_regular(path, kind: str, error=DataFileError):
    """Open ``path`` for binary reading if it is a regular file within ``kind``'s size cap.

    Returns ``(file, size)``. A symlink is followed, then what it points to is checked.
    """
    path = Path(path)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise error(path, "no such file") from None
    except IsADirectoryError:
        raise error(path, "is a folder, not a file") from None
    except OSError as exc:
        if path.is_dir():
            raise error(path, "is a folder, not a file") from None
        raise error(path, f"cannot be opened ({describe_oserror(exc)})") from None
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise error(path, "is a folder, not a file")
        if not stat.S_ISREG(st.st_mode):
            raise error(path, f"is {_what(st.st_mode)}; only ordinary files are read")
        limit = limits.FILE_BYTES[kind]
        if st.st_size > limit:
            raise error(path, f"is {_size(st.st_size)}, more than the {_size(limit)} a {kind} file may be")
        return os.fdopen(fd, "rb"), st.st_size
    except BaseException:
        os.close(fd)
        raise


def read_bytes(path, kind: str, error=DataFileError) -> bytes:
    """The whole content of a regular file of at most ``kind``'s size cap."""
    f, _ = open_regular(path, kind, error)
    with f:
        try:
            data = f.read(limits.FILE_BYTES[kind] + 1)
        except OSError as exc:
            raise error(path, f"cannot be read ({describe_oserror(exc)})") from None
    if len(data) > limits.FILE_BYTES[kind]:
        raise error(path, f"grew beyond the {_size(limits.FILE_BYTES[kind])} a {kind} file may be while it was read")
    return data


def model_format(head: bytes) -> str | None:
    """What a model file's first bytes say it is: ``zip`` (torch.save), ``pickle``
    (NVIDIA's pickles, legacy torch.save), ``safetensors``, or None for anything else."""
    if head[:4] == b"PK\x03\x04":
        return "zip"
    if len(head) > 1 and head[0] == 0x80 and head[1] in (2, 3, 4, 5):
        return "pickle"
    if len(head) >= 9 and 0 < int.from_bytes(head[:8], "little") < 100_000_000 and head[8:9] == b"{":
        return "safetensors"
    return None


def describe_head(head: bytes) -> str:
    """'an HTML page', 'JSON text', ... for a body that is not a model file."""
    text = head.lstrip()[:1]
    if text == b"<":
        return "an HTML page"
    if text in (b"{", b"["):
        return "JSON text"
    return f"a file that is not a model (it starts with {head[:8]!r})"


# --------------------------------------------------------------------------- JSON

def _depth(value) -> int:
    """Nesting depth of parsed JSON, without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, depth)
            if depth > limits.JSON_DEPTH:
                return depth
            stack.extend((v, depth + 1) for v in (item.values() if isinstance(item, dict) else item))
    return deepest


def parse_json(data: bytes, path, error=DataFileError):
    """Parse JSON bytes; broken, non-UTF-8 or too deeply nested data is ``error(path, ...)``."""
    try:
        value = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise error(path, "is not UTF-8 text") from None
    except RecursionError:
        raise error(path, f"nests lists or objects more than {limits.JSON_DEPTH} levels deep") from None
    except ValueError as exc:
        raise error(path, f"is not valid JSON ({exc})") from None
    if _depth(value) > limits.JSON_DEPTH:
        raise error(path, f"nests lists or objects more than {limits.JSON_DEPTH} levels deep")
    return value


def read_json(path, kind: str = "json", error=DataFileError):
    return parse_json(read_bytes(path, kind, error), path, error)


# --------------------------------------------------------------------------- zips and arrays

def open_zip(source, path, kind: str, error=DataFileError) -> zipfile.ZipFile:
    """A zip whose members are few, plainly compressed and small enough once unpacked.

    ``source`` is bytes or a path (then read through `read_bytes`). zipfile never returns
    more than a member's declared size, so checking the declared sizes bounds the memory.
    """
    data = source if isinstance(source, (bytes, bytearray)) else read_bytes(source, kind, error)
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        members = zf.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as exc:
        raise error(path, f"is not a readable zip archive ({exc})") from None
    if len(members) > limits.ZIP_MEMBERS:
        raise error(path, f"holds {len(members)} files, more than the {limits.ZIP_MEMBERS} allowed")
    total = 0
    for info in members:
        if info.flag_bits & 0x1:
            raise error(path, f"member {info.filename!r} is encrypted")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise error(path, f"member {info.filename!r} uses an unsupported compression method")
        total += info.file_size
    cap = limits.UNZIPPED_BYTES[kind]
    if total > cap:
        raise error(path, f"would unpack to {_size(total)}, more than the {_size(cap)} allowed")
    return zf


def read_member(zf: zipfile.ZipFile, name: str, path, error=DataFileError) -> bytes:
    try:
        return zf.read(name)
    except KeyError:
        raise error(path, f"has no {name}") from None
    except (zipfile.BadZipFile, zlib.error, OSError, ValueError, EOFError, NotImplementedError) as exc:
        raise error(path, f"member {name} is damaged ({exc})") from None


def check_dtype(dtype: np.dtype, where: str) -> np.dtype:
    """Refuse every dtype that could hold Python objects or is not a plain number/text type."""
    if not isinstance(dtype, np.dtype) or dtype.hasobject or dtype.fields is not None \
            or dtype.subdtype is not None or dtype.kind not in ARRAY_KINDS:
        raise ValueError(f"{where} has the unsupported data type {dtype}")
    return dtype


def array_from_bytes(data, dtype: np.dtype, shape, fortran: bool, where: str) -> np.ndarray:
    """A fresh array from plain bytes, if ``dtype`` is allowed and ``shape`` matches ``len(data)``."""
    check_dtype(dtype, where)
    if not isinstance(shape, tuple) or not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape):
        raise ValueError(f"{where} has an invalid shape {shape!r}")
    count = math.prod(shape)
    if count * dtype.itemsize != len(data):
        raise ValueError(f"{where} claims shape {list(shape)} of {dtype} ({count * dtype.itemsize} bytes) "
                         f"but holds {len(data)} bytes")
    flat = np.frombuffer(data, dtype=dtype, count=count) if count else np.empty(0, dtype)
    return flat.reshape(shape, order="F" if fortran else "C").copy()


def array_from_npy(data: bytes, where: str) -> np.ndarray:
    """Parse one ``.npy`` file's bytes (raises ValueError with the reason)."""
    fh = io.BytesIO(data)
    try:
        version = np.lib.format.read_magic(fh)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(fh)
        elif version in ((2, 0), (3, 0)):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(fh)
        else:
            raise ValueError(f"format version {version}")
    except (ValueError, SyntaxError, TypeError, KeyError, tokenize.TokenError, RecursionError) as exc:
        raise ValueError(f"{where} has a damaged .npy header ({type(exc).__name__}: {str(exc)[:80]})") from None
    return array_from_bytes(memoryview(data)[fh.tell():], dtype, shape, bool(fortran), where)


def read_arrays(source, path, kind: str, error=DataFileError) -> dict[str, np.ndarray]:
    """The arrays of an ``.npz`` (by name) or of a plain ``.npy`` (under the name ``""``)."""
    data = source if isinstance(source, (bytes, bytearray)) else read_bytes(source, kind, error)
    try:
        if data[:6] == _NPY_MAGIC:
            if len(data) > limits.UNZIPPED_BYTES[kind]:
                raise error(path, f"is larger than the {_size(limits.UNZIPPED_BYTES[kind])} allowed")
            return {"": array_from_npy(data, "the array")}
        zf = open_zip(data, path, kind, error)
        arrays = {}
        for name in zf.namelist():
            key = name[:-4] if name.endswith(".npy") else name
            arrays[key] = array_from_npy(read_member(zf, name, path, error), f"array {key!r}")
        return arrays
    except ValueError as exc:
        raise error(path, f"is not a readable array file ({exc})") from None
