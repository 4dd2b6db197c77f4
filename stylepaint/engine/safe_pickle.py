"""A restricted unpickler for official StyleGAN2-ADA pickles and legacy ``torch.save`` files.

NVIDIA's pickles store every network through `torch_utils.persistence`: the class's module
*source code* is embedded, and the usual unpickling `exec`s it. Here the embedded source is
never run: each persistent object comes back as a `PersistentRecord` (class name + state dict)
and `checkpoints.py` rebuilds the network from the record's tensors and attributes.

What a file can make this unpickler do, and nothing more:

* resolve one of the globals in `_ALLOWED`, each of which is our own function or record type
  (never numpy's or torch's reconstructors): anything else (``os.system``, ``builtins.eval``
  ...) raises `UnsafePickleError` before it can run;
* build plain containers (dict, list, tuple, set, ``OrderedDict``; ``EasyDict`` is a plain
  dict), numbers, strings and bytes -- each read only if the file holds that many bytes;
* make arrays and tensors from plain bytes with a strict dtype allow-list: numpy arrays are
  rebuilt from their ``BUILD`` state (which must be exactly what numpy writes), tensors from
  the storages' bytes (torch's legacy storage format, parsed here), and a tensor may only
  view elements its storage really holds.

``BUILD`` may not set attributes on anything (classes, functions, records): a file cannot
change any object or class that outlives the load.
"""

from __future__ import annotations

import collections
import io
import math
import pickle
import struct
from dataclasses import dataclass, field

import numpy as np
import torch

from stylepaint.errors import UnsafePickleError
from stylepaint.safe_read import array_from_bytes, check_dtype

TORCH_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_TORCH_PROTOCOL = 1001
_MAX_LINE = 1 << 16            # protocol-0 text opcodes hold short lines
_MAX_DEPTH = 64                # nesting of records / containers walked after loading


@dataclass
class PersistentRecord:
    """What a `torch_utils.persistence` object is, without running its code."""

    class_name: str
    state: dict = field(default_factory=dict)

    def module(self, name: str) -> "PersistentRecord | None":
        modules = self.state.get("_modules") or {}
        sub = modules.get(name) if isinstance(modules, dict) else None
        return sub if isinstance(sub, PersistentRecord) else None

    def tensors(self, prefix: str = "") -> dict[str, torch.Tensor]:
        """All parameters and buffers of this record and its sub-modules, by dotted name.

        A record that appears twice (a cycle or shared sub-module) is refused, so a small
        file cannot make this walk take exponential time.
        """
        out, seen, todo = {}, set(), [(prefix, self, 0)]
        while todo:
            pre, record, depth = todo.pop()
            if id(record) in seen or depth > _MAX_DEPTH:
                raise pickle.UnpicklingError(f"module {pre.rstrip('.') or 'G'} appears twice or nests too deeply")
            seen.add(id(record))
            for kind in ("_parameters", "_buffers"):
                entries = record.state.get(kind) or {}
                if not isinstance(entries, dict):
                    raise pickle.UnpicklingError(f"{pre}{kind} is not a dict")
                for name, value in entries.items():
                    if value is not None:
                        out[pre + str(name)] = value.detach() if isinstance(value, torch.Tensor) else value
            modules = record.state.get("_modules") or {}
            if not isinstance(modules, dict):
                raise pickle.UnpicklingError(f"{pre}_modules is not a dict")
            todo.extend((f"{pre}{name}.", sub, depth + 1) for name, sub in modules.items()
                        if isinstance(sub, PersistentRecord))
        return out


class EasyDict(dict):
    """Stand-in for `dnnlib.EasyDict`: a plain dict (attribute access is never needed here)."""

    __slots__ = ()


class _Marker:
    """A named stand-in for a class the file may mention but never call (``numpy.ndarray``)."""

    __slots__ = ("name",)

    def __init__(self, name: str):
        self.name = name


class _StorageType(_Marker):
    """``torch.FloatStorage`` and friends: only a dtype for the legacy storage reader."""

    __slots__ = ("dtype",)

    def __init__(self, name: str, dtype: torch.dtype):
        super().__init__(name)
        self.dtype = dtype


class _ArraySpec:
    """``numpy.core.multiarray._reconstruct``'s result, until BUILD supplies shape, dtype and bytes."""

    __slots__ = ()


class _Storage:
    """A storage of a legacy torch file: declared dtype and size; data filled in when read."""

    __slots__ = ("dtype", "numel", "flat")

    def __init__(self, dtype: torch.dtype, numel: int):
        self.dtype, self.numel, self.flat = dtype, numel, None


class _PendingTensor:
    """A tensor over a `_Storage` whose bytes come later in a legacy torch file."""

    __slots__ = ("storage", "offset", "size", "stride", "requires_grad")

    def __init__(self, storage, offset, size, stride, requires_grad):
        self.storage, self.offset, self.size, self.stride = storage, offset, size, stride
        self.requires_grad = requires_grad

    def resolve(self) -> torch.Tensor:
        return _view(self.storage.flat, self.offset, self.size, self.stride)


_NDARRAY = _Marker("numpy.ndarray")
_NESTED = "<a tensor storage>"          # the path named by errors inside a storage's own pickle
_TORCH_DTYPES = {"Float": torch.float32, "Half": torch.float16, "Double": torch.float64,
                 "BFloat16": torch.bfloat16, "Long": torch.int64, "Int": torch.int32,
                 "Short": torch.int16, "Char": torch.int8, "Byte": torch.uint8, "Bool": torch.bool}
_STORAGE_TYPES = {name: _StorageType(f"torch.{name}Storage", dt) for name, dt in _TORCH_DTYPES.items()}
#: numpy dtype strings a pickle may name, and torch dtypes the tensors may have.
_NUMPY_KINDS = "biuf"


def _int(value, what: str, low: int = 0) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        raise pickle.UnpicklingError(f"{what} is {value!r}, not an integer >= {low}")
    return value


def _int_tuple(value, what: str) -> tuple:
    if not isinstance(value, (tuple, torch.Size)) or len(value) > 16:
        raise pickle.UnpicklingError(f"{what} is not a short tuple of integers")
    return tuple(_int(v, what) for v in value)


# --------------------------------------------------------------------------- allowed globals

def _reconstruct_persistent_obj(meta):
    if not isinstance(meta, dict) or meta.get("type") != "class" or not isinstance(meta.get("state") or {}, dict):
        raise pickle.UnpicklingError("unexpected persistent object layout")
    # meta["module_src"] holds Python source: deliberately ignored, never executed.
    return PersistentRecord(class_name=str(meta.get("class_name")), state=dict(meta.get("state") or {}))


def _numpy_dtype(spec, align=False, copy=True):
    """``numpy.dtype('f4', False, True)`` as numpy pickles it; plain numeric kinds only."""
    if not isinstance(spec, str) or len(spec) > 8:
        raise pickle.UnpicklingError(f"numpy dtype {spec!r} is not allowed")
    try:
        dtype = np.dtype(spec)
    except TypeError:
        raise pickle.UnpicklingError(f"numpy dtype {spec!r} is not allowed") from None
    if dtype.kind not in _NUMPY_KINDS:
        raise pickle.UnpicklingError(f"numpy dtype {spec!r} is not allowed (only numbers and booleans)")
    return check_dtype(dtype, "a numpy value")


def _numpy_scalar(dtype, data=None):
    if not isinstance(dtype, np.dtype) or not isinstance(data, bytes) or len(data) != dtype.itemsize:
        raise pickle.UnpicklingError("malformed numpy scalar")
    return array_from_bytes(data, dtype, (), False, "a numpy scalar")[()]


def _numpy_reconstruct(subtype, shape, dtype):
    """numpy pickles an array as ``_reconstruct(ndarray, (0,), b'b')`` and then BUILD with its
    real shape, dtype and bytes: return a placeholder that only that BUILD can complete."""
    if subtype is not _NDARRAY or dtype != b"b" or not isinstance(shape, tuple):
        raise pickle.UnpicklingError("numpy array of an unexpected type")
    return _ArraySpec()


def _load_storage_from_bytes(data):
    if not isinstance(data, bytes):
        raise pickle.UnpicklingError("a tensor storage is not bytes")
    storage = load_torch_legacy(io.BytesIO(data), _NESTED, len(data))
    if not isinstance(storage, _Storage):
        raise pickle.UnpicklingError("a tensor storage holds something else")
    return storage


def _view(flat: torch.Tensor, offset: int, size: tuple, stride: tuple) -> torch.Tensor:
    """A fresh copy of ``flat.as_strided(size, stride, offset)`` (bounds checked by the caller)."""
    return flat.as_strided(size, stride, offset).clone() if math.prod(size) else flat.new_empty(size)


def check_extent(numel: int, offset: int, size: tuple, stride: tuple) -> None:
    """A tensor may only view elements its storage holds, and never more elements than it
    holds (a stride-0 'expand' of a small storage would otherwise inflate when copied)."""
    count = math.prod(size)
    if len(size) != len(stride):
        raise pickle.UnpicklingError("tensor size and stride differ in length")
    if count and (offset + sum((n - 1) * s for n, s in zip(size, stride)) >= numel or count > numel):
        raise pickle.UnpicklingError(f"a tensor of shape {list(size)} claims more elements than its "
                                     f"storage of {numel} holds")


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False, backward_hooks=None, metadata=None):
    if not isinstance(storage, _Storage):
        raise pickle.UnpicklingError("a tensor without a storage")
    offset = _int(storage_offset, "tensor offset")
    size, stride = _int_tuple(size, "tensor size"), _int_tuple(stride, "tensor stride")
    check_extent(storage.numel, offset, size, stride)
    pending = _PendingTensor(storage, offset, size, stride, bool(requires_grad))
    return pending.resolve() if storage.flat is not None else pending


def _rebuild_parameter(data, requires_grad, backward_hooks=None):
    if not isinstance(data, torch.Tensor):
        raise pickle.UnpicklingError("a parameter without a tensor")
    return data


_ALLOWED = {
    ("torch_utils.persistence", "_reconstruct_persistent_obj"): _reconstruct_persistent_obj,
    ("dnnlib.util", "EasyDict"): EasyDict,
    ("dnnlib", "EasyDict"): EasyDict,
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch.storage", "_load_from_bytes"): _load_storage_from_bytes,
    ("numpy", "dtype"): _numpy_dtype,
    ("numpy", "ndarray"): _NDARRAY,
    ("numpy.core.multiarray", "scalar"): _numpy_scalar,
    ("numpy._core.multiarray", "scalar"): _numpy_scalar,
    ("numpy.core.multiarray", "_reconstruct"): _numpy_reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _numpy_reconstruct,
    ("torch", "float32"): torch.float32,
    ("torch", "float16"): torch.float16,
    **{("torch", st.name.split(".")[1]): st for st in _STORAGE_TYPES.values()},
}
#: Types a NEWOBJ may create: plain records only.
_NEWOBJ_TYPES = (EasyDict, collections.OrderedDict)


# --------------------------------------------------------------------------- the unpickler

class _Bounded:
    """A file view that refuses to read past its end: a length field claiming more bytes than
    the file holds is an error before anything is allocated for it."""

    def __init__(self, raw, size: int):
        self.raw, self.left = raw, size

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            n = self.left
        if n > self.left:
            raise EOFError(f"a length field claims {n} bytes, but only {self.left} are left in the file")
        data = self.raw.read(n)
        if len(data) != n:
            raise EOFError("the file ended early")
        self.left -= n
        return data

    def readinto(self, buf) -> int:
        data = self.read(len(buf))
        buf[:] = data
        return len(data)

    def readline(self) -> bytes:
        line = self.raw.readline(min(_MAX_LINE, self.left))
        self.left -= len(line)
        if not line.endswith(b"\n") and self.left and len(line) >= _MAX_LINE:
            raise pickle.UnpicklingError("a text opcode's line is too long")
        return line


def _refuse(what: str):
    def load(self):
        raise pickle.UnpicklingError(f"{what} is not used by model files")
    return load


class RestrictedUnpickler(pickle._Unpickler):
    """Resolves only the globals in `_ALLOWED`; refuses everything else. Pure-Python pickle
    machinery with BUILD, NEWOBJ and the out-of-band buffers replaced by strict versions."""

    dispatch = dict(pickle._Unpickler.dispatch)

    def __init__(self, file, path: str, persistent_load=None):
        super().__init__(file)
        self.path = path
        self._persistent = persistent_load

    def find_class(self, module: str, name: str):
        try:
            return _ALLOWED[(module, name)]
        except (KeyError, TypeError):
            raise UnsafePickleError(
                self.path,
                f"refused to load: the pickle asks for {module}.{name}, which a model file never needs "
                "(nothing from the file was run)",
            ) from None

    def persistent_load(self, pid):
        if self._persistent is None:
            raise pickle.UnpicklingError("persistent ids are not used by model pickles")
        return self._persistent(pid)

    def load_build(self):
        state = self.stack.pop()
        inst = self.stack[-1]
        if isinstance(inst, _ArraySpec):
            self.stack[-1] = _array_from_state(state)
        elif isinstance(inst, np.dtype):
            self.stack[-1] = _dtype_from_state(inst, state)
        elif type(inst) in _NEWOBJ_TYPES and not state:
            pass                                    # an empty instance dict: nothing to set
        else:
            raise pickle.UnpicklingError(f"the file tries to set attributes on a {type(inst).__name__}")
    dispatch[pickle.BUILD[0]] = load_build

    def load_newobj(self):
        args = self.stack.pop()
        cls = self.stack.pop()
        if cls not in _NEWOBJ_TYPES or args != ():
            raise pickle.UnpicklingError(f"the file asks to create a {getattr(cls, '__name__', cls)!s}")
        self.append(cls())
    dispatch[pickle.NEWOBJ[0]] = load_newobj

    dispatch[pickle.NEWOBJ_EX[0]] = _refuse("NEWOBJ_EX")
    dispatch[pickle.BYTEARRAY8[0]] = _refuse("BYTEARRAY8")
    dispatch[pickle.NEXT_BUFFER[0]] = _refuse("NEXT_BUFFER")
    dispatch[pickle.READONLY_BUFFER[0]] = _refuse("READONLY_BUFFER")
    dispatch[pickle.INST[0]] = _refuse("INST")
    dispatch[pickle.OBJ[0]] = _refuse("OBJ")


def _array_from_state(state) -> np.ndarray:
    """numpy's ndarray state ``(1, shape, dtype, is_fortran, raw bytes)``, checked, as a fresh array."""
    if not (isinstance(state, tuple) and len(state) == 5 and state[0] == 1 and isinstance(state[2], np.dtype)
            and isinstance(state[3], bool) and isinstance(state[4], bytes)):
        raise pickle.UnpicklingError("a numpy array's state is not what numpy writes")
    try:
        return array_from_bytes(state[4], state[2], _int_tuple(state[1], "array shape"), state[3], "a numpy array")
    except ValueError as exc:
        raise pickle.UnpicklingError(str(exc)) from None


def _dtype_from_state(dtype: np.dtype, state) -> np.dtype:
    """numpy's dtype state for a plain number type: ``(3, byteorder, None, None, None, -1, -1, 0)``."""
    if not (isinstance(state, tuple) and len(state) == 8 and state[0] == 3 and state[1] in ("<", ">", "|", "=")
            and state[2:5] == (None, None, None) and state[5:] == (-1, -1, 0)):
        raise pickle.UnpicklingError("a numpy dtype's state is not what numpy writes for a number type")
    return dtype.newbyteorder(state[1]) if state[1] in "<>" else dtype


def safe_load_pickle(file, path: str = "<pickle>", size: int | None = None):
    """Unpickle ``file`` (a binary file object of ``size`` bytes) without running code from it."""
    if size is None:
        here = file.tell()
        size = file.seek(0, io.SEEK_END) - here
        file.seek(here)
    try:
        return RestrictedUnpickler(_Bounded(file, size), path).load()
    except UnsafePickleError as exc:
        if exc.path == _NESTED:                 # refused inside a storage: name the file itself
            raise UnsafePickleError(path, exc.problem) from None
        raise


# --------------------------------------------------------------------------- legacy torch.save

def load_torch_legacy(file, path: str, size: int):
    """Read torch's legacy (pre-zip) format -- ``torch.save(..., _use_new_zipfile_serialization=False)``,
    used by every storage inside NVIDIA's pickles and by torch < 1.6 -- from ``size`` bytes of ``file``.

    The format is five pickles (magic, version, system info, the object with storages as
    persistent ids, the storage keys) and then each storage as an int64 element count and
    its raw bytes. Storages are allocated only once their bytes have been read.
    """
    file = _Bounded(file, size)
    def load():
        return RestrictedUnpickler(file, path).load()

    if load() != TORCH_LEGACY_MAGIC or load() != _TORCH_PROTOCOL:
        raise pickle.UnpicklingError("not a torch.save file (wrong magic number or version)")
    info = load()
    if not isinstance(info, dict) or info.get("little_endian") is not True:
        raise pickle.UnpicklingError("a big-endian or unknown torch.save file")
    storages: dict[str, _Storage] = {}

    def persistent(pid):
        if not (isinstance(pid, tuple) and len(pid) == 6 and pid[0] == "storage"
                and isinstance(pid[1], _StorageType) and isinstance(pid[2], str) and pid[5] is None):
            raise pickle.UnpicklingError("an unexpected storage reference")
        numel = _int(pid[4], "storage size")
        storage = storages.setdefault(pid[2], _Storage(pid[1].dtype, numel))
        if storage.dtype != pid[1].dtype or storage.numel != numel:
            raise pickle.UnpicklingError("one storage is declared twice with different types or sizes")
        return storage

    result = RestrictedUnpickler(file, path, persistent).load()
    keys = load()
    if not isinstance(keys, list) or sorted(map(str, keys)) != sorted(storages):
        raise pickle.UnpicklingError("the storage list does not match the storages used")
    for key in keys:
        storage = storages[key]
        (numel,) = struct.unpack("<q", file.read(8))
        if numel != storage.numel:
            raise pickle.UnpicklingError(f"storage {key} holds {numel} elements, but {storage.numel} were declared")
        size = torch.empty((), dtype=storage.dtype).element_size()
        data = file.read(numel * size)
        storage.flat = torch.frombuffer(bytearray(data), dtype=storage.dtype) if numel else torch.empty(0, dtype=storage.dtype)
    return _resolve(result, {})


def _resolve(value, done: dict, depth: int = 0):
    """Replace pending tensors (in dicts, lists, tuples) by real ones once storages are read;
    each container is visited once, however often the file refers to it."""
    if depth > _MAX_DEPTH:
        raise pickle.UnpicklingError("the file nests containers too deeply")
    if isinstance(value, _PendingTensor):
        if id(value) not in done:
            done[id(value)] = value.resolve()
        return done[id(value)]
    if not isinstance(value, (dict, list, tuple)) or id(value) in done:
        return done.get(id(value), value)
    done[id(value)] = value
    if isinstance(value, dict):
        for k in list(value):
            value[k] = _resolve(value[k], done, depth + 1)
    elif isinstance(value, list):
        value[:] = [_resolve(v, done, depth + 1) for v in value]
    else:
        done[id(value)] = tuple(_resolve(v, done, depth + 1) for v in value)
    return done[id(value)]
