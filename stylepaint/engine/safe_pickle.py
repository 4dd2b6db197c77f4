"""A restricted unpickler for official StyleGAN2-ADA pickles.

NVIDIA's pickles store every network through `torch_utils.persistence`: the class's module
*source code* is embedded, and the usual unpickling `exec`s it. Here the embedded source is
never run: each persistent object comes back as a `PersistentRecord` (class name + state dict)
and `checkpoints.py` rebuilds the network from the record's tensors and attributes.

Only the handful of globals such files need are resolved; anything else (``os.system``,
``builtins.eval``, ``subprocess.Popen`` ...) raises `UnsafePickleError` before it can run.
"""

from __future__ import annotations

import collections
import io
import pickle
from dataclasses import dataclass, field

import numpy as np
import torch

from stylepaint.errors import UnsafePickleError


@dataclass
class PersistentRecord:
    """What a `torch_utils.persistence` object is, without running its code."""

    class_name: str
    state: dict = field(default_factory=dict)

    def module(self, name: str) -> "PersistentRecord | None":
        return (self.state.get("_modules") or {}).get(name)

    def tensors(self, prefix: str = "") -> dict[str, torch.Tensor]:
        """All parameters and buffers of this record and its sub-modules, by dotted name."""
        out = {}
        for kind in ("_parameters", "_buffers"):
            for name, value in (self.state.get(kind) or {}).items():
                if value is not None:
                    out[prefix + name] = value.detach() if isinstance(value, torch.Tensor) else value
        for name, sub in (self.state.get("_modules") or {}).items():
            if isinstance(sub, PersistentRecord):
                out.update(sub.tensors(f"{prefix}{name}."))
        return out


class EasyDict(dict):
    """Stand-in for `dnnlib.EasyDict`: a plain dict (attribute access is never needed here)."""


def _reconstruct_persistent_obj(meta):
    if not isinstance(meta, dict) or meta.get("type") != "class":
        raise pickle.UnpicklingError("unexpected persistent object layout")
    # meta["module_src"] holds Python source: deliberately ignored, never executed.
    return PersistentRecord(class_name=str(meta.get("class_name")), state=meta.get("state") or {})


def _load_storage_from_bytes(data: bytes):
    return torch.load(io.BytesIO(data), weights_only=True, map_location="cpu")


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False, backward_hooks=None, metadata=None):
    return torch._utils._rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, collections.OrderedDict())


def _rebuild_parameter(data, requires_grad, backward_hooks=None):
    return torch.nn.Parameter(data, requires_grad=requires_grad)


def _numpy_scalar(dtype, data=None):
    # numpy's own reconstruction of a scalar from raw bytes: no code from the file runs.
    return np.frombuffer(data, dtype=dtype)[0] if data is not None else dtype.type()


def _numpy_reconstruct(subtype, shape, dtype):
    if subtype is not np.ndarray:
        raise pickle.UnpicklingError("numpy array subclass")
    return np.ndarray.__new__(np.ndarray, shape, dtype)


_ALLOWED = {
    ("torch_utils.persistence", "_reconstruct_persistent_obj"): _reconstruct_persistent_obj,
    ("dnnlib.util", "EasyDict"): EasyDict,
    ("dnnlib", "EasyDict"): EasyDict,
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch.storage", "_load_from_bytes"): _load_storage_from_bytes,
    ("numpy", "dtype"): np.dtype,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy.core.multiarray", "scalar"): _numpy_scalar,
    ("numpy._core.multiarray", "scalar"): _numpy_scalar,
    ("numpy.core.multiarray", "_reconstruct"): _numpy_reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _numpy_reconstruct,
    ("torch", "float32"): torch.float32,
    ("torch", "float16"): torch.float16,
}


class RestrictedUnpickler(pickle.Unpickler):
    """Resolves only the globals in `_ALLOWED`; refuses everything else."""

    def __init__(self, file, path: str):
        super().__init__(file)
        self.path = path

    def find_class(self, module: str, name: str):
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise UnsafePickleError(
                self.path,
                f"refused to load: the pickle asks for {module}.{name}, which a model file never needs "
                "(nothing from the file was run)",
            ) from None

    def persistent_load(self, pid):
        raise pickle.UnpicklingError("persistent ids are not used by model pickles")


def safe_load_pickle(file, path: str = "<pickle>"):
    """Unpickle `file` (a binary file object) without running code from it."""
    return RestrictedUnpickler(file, path).load()
