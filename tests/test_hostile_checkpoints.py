"""Hostile and broken checkpoints (issue 15, items 1, 2, 3, 7 and 8): every file is made here.

The loaders run in a child process with a 2 GiB memory cap (`hostile.run_loaders`), so a
file that would crash the interpreter, exhaust memory or hang fails its test instead of the
test run. All checkpoint cases share one child (torch starts once).
"""

from __future__ import annotations

import json
import pickle
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import CHECKPOINTS
from hostile import (assert_one_error, build, call, glob, module, np_array, np_dtype, nvidia_pickle, ops, program,
                     run_loaders, tup)

from stylepaint.engine import safe_pickle
from stylepaint.engine.checkpoints import OWN_FORMAT, load_generator, save_generator
from stylepaint.errors import CheckpointError

FIXTURE_PKL = CHECKPOINTS / "sg2ada-32px-fp16-clamp.pkl"
FIXTURE_PT = CHECKPOINTS / "rosinality-32px.pt"


def _object_array_attack() -> bytes:
    """Issue item 1, as reported: a u1 array over 64 bytes, then an array whose BUILD state
    has dtype('O') and 1 byte of data -- only allowed globals, 296 bytes."""
    first = np_array((64,), ops(np.dtype("u1")), b"A" * 64, base_shape=(8,))
    second = np_array((1,), ops(np.dtype("O")), b"\x01", base_shape=(8,))
    return program(tup(first, second))


def _generator_record(conv1_weight, z_dim=8) -> bytes:
    """An NVIDIA-layout generator with one 4 px block whose conv1 weight is ``conv1_weight``."""
    layer = module("SynthesisLayer", params={"weight": conv1_weight})
    synthesis = module("SynthesisNetwork", modules={"b4": module("SynthesisBlock", modules={"conv1": layer})},
                       block_resolutions=[4])
    mapping = module("MappingNetwork", modules={"fc0": module("FullyConnectedLayer", params={"weight": torch.zeros(8, 8)})},
                     num_layers=1)
    return nvidia_pickle(module("Generator", modules={"synthesis": synthesis, "mapping": mapping},
                                z_dim=z_dim, w_dim=8, img_resolution=4, c_dim=0))


def _safetensors_with(config_changes: dict) -> bytes:
    from safetensors.torch import save

    G = load_generator(FIXTURE_PKL)
    config = dict(G.config, **config_changes)
    return save({"x": torch.zeros(1)}, metadata={"format": OWN_FORMAT, "version": "1", "config": json.dumps(config)})


def _rosinality_with(**replace) -> dict:
    ckpt = torch.load(FIXTURE_PT, map_location="cpu", weights_only=True)
    ckpt["g_ema"].update(replace)
    return ckpt


HOSTILE = {
    # item 1: numpy object arrays through the allow-list
    "object-array.pkl": _object_array_attack,
    # item 3: memory before any size check
    "stride0-pickle.pkl": lambda: _generator_record(torch.zeros(1).expand(11000, 11000, 3, 3)),
    "binbytes8.pkl": lambda: b"\x80\x04\x8e" + struct.pack("<Q", 1 << 40) + b".",
    "resolution-16384.safetensors": lambda: _safetensors_with({"img_resolution": 16384, "channels": None}),
    "mapping-1e6.safetensors": lambda: _safetensors_with({"mapping_layers": 10**6}),
    "stride0-rosinality.pt": lambda: _rosinality_with(**{"conv1.conv.weight": torch.zeros(1).expand(1, 11000, 11000, 3, 3)}),
    # item 8: malformed contents that used to leak KeyError / AttributeError / TypeError / OverflowError
    "weight-is-int.pkl": lambda: _generator_record(7),
    "z-dim-list.pkl": lambda: _generator_record(torch.zeros(8, 8, 3, 3), z_dim=[1]),
    "z-dim-inf.pkl": lambda: _generator_record(torch.zeros(8, 8, 3, 3), z_dim=float("inf")),
    "modules-list.pkl": lambda: nvidia_pickle(module("Generator", modules=[1, 2])),
    "rosinality-no-input.pt": lambda: {k: v for k, v in _rosinality_with().items()} | {
        "g_ema": {k: v for k, v in _rosinality_with()["g_ema"].items() if k != "input.input"}},
    "config-not-object.safetensors": lambda: _safetensors_with({}).replace(b'"config":"{', b'"config":"[', 1),
}


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile-checkpoints")
    cases = []
    for name, make in HOSTILE.items():
        data = make()
        path = folder / name
        if isinstance(data, dict):
            torch.save(data, path)
        else:
            path.write_bytes(data)
        cases.append({"loader": "checkpoint", "path": str(path)})
    return {r["path"].rsplit("/", 1)[1]: r for r in run_loaders(cases, folder / "work")}


def test_object_dtype_arrays_are_refused_without_a_crash(results, tmp_path):
    assert_one_error(results["object-array.pkl"], "object-array.pkl", "not allowed")
    # and the CLI says one sentence instead of dying with SIGSEGV (exit 139)
    path = tmp_path / "object-array.pkl"
    path.write_bytes(_object_array_attack())
    proc = subprocess.run([sys.executable, "-m", "stylepaint", "info", str(path)], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and str(path) in proc.stderr, proc


@pytest.mark.parametrize("state", [
    tup(ops(1), ops((1,)), ops(np.dtype("O")), ops(False), ops(b"\x01" * 8)),           # object dtype
    tup(ops(1), ops((10**9,)), ops(np.dtype("f4")), ops(False), ops(b"\0" * 4)),        # shape beyond the bytes
    tup(ops(1), ops((-1,)), ops(np.dtype("f4")), ops(False), ops(b"")),                 # negative shape
    tup(ops(2), ops((1,)), ops(np.dtype("f4")), ops(False), ops(b"\0" * 4)),            # unknown version
    tup(ops(1), ops((1,)), ops(np.dtype("f4")), ops(False), ops([0.0])),                # data as a list
])
def test_numpy_build_states_must_be_exactly_what_numpy_writes(state, tmp_path):
    rec = call(glob("numpy.core.multiarray", "_reconstruct"), glob("numpy", "ndarray"), ops((0,)), ops(b"b"))
    path = tmp_path / "array.pkl"
    path.write_bytes(program(build(rec, state)))
    with pytest.raises(CheckpointError) as info:
        load_generator(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("spec,state", [
    ("V8", None), ("O", None), ("M8", None), ("U4", None),
    ("f8", tup(ops(3), ops("|"), ops(None), ops(("a",)), ops({"a": 1}), ops(8), ops(1), ops(16))),
])
def test_only_plain_number_dtypes_are_built(spec, state, tmp_path):
    dtype = call(glob("numpy", "dtype"), ops(spec), ops(False), ops(True))
    if state is not None:
        dtype = build(dtype, state)
    path = tmp_path / "dtype.pkl"
    path.write_bytes(program(dtype))
    with pytest.raises(CheckpointError):
        load_generator(path)


def test_real_numpy_values_still_come_back(tmp_path):
    arrays = {"a": np.arange(6, dtype=np.float32).reshape(2, 3), "f": np.asfortranarray(np.eye(3)),
              "s": np.float64(2.5), "b": np.array([True, False]), "big": np.arange(3, dtype=">i4")}
    path = tmp_path / "values.pkl"
    path.write_bytes(pickle.dumps(arrays, 4))
    with open(path, "rb") as f:
        back = safe_pickle.safe_load_pickle(f, str(path))
    for key, value in arrays.items():
        np.testing.assert_array_equal(back[key], value)
        assert back[key].dtype == value.dtype
    assert back["a"].flags.writeable and back["a"].base is None


def test_build_cannot_change_an_allowed_class_or_function():
    """Item 2: BUILD on an allow-listed class or function used to set attributes on it (so a
    genuine pickle loaded later in the same process failed). Run in a child: on a broken
    build it would poison this test process."""
    code = f"""
import io, pickle
from hostile import build, glob, ops, program, tup
import stylepaint
from stylepaint.engine import safe_pickle
from stylepaint.errors import CheckpointError
attacks = [
    build(glob("dnnlib.util", "EasyDict"), tup(ops(None), ops({{"__setitem__": 1, "keys": 2}}))),
    build(glob("dnnlib", "EasyDict"), ops({{"__init__": 1}})),
    build(glob("torch._utils", "_rebuild_tensor_v2"), tup(ops(None), ops({{"__defaults__": (1, 2, 3)}}))),
    build(glob("torch_utils.persistence", "_reconstruct_persistent_obj"), tup(ops(None), ops({{"x": 1}}))),
    build(glob("collections", "OrderedDict"), tup(ops(None), ops({{"x": 1}}))),
]
refused = 0
for body in attacks:
    try:
        safe_pickle.safe_load_pickle(io.BytesIO(program(body)), "attack.pkl")
    except (pickle.UnpicklingError, CheckpointError):
        refused += 1
assert safe_pickle.EasyDict.__setitem__ is dict.__setitem__ and "keys" not in vars(safe_pickle.EasyDict)
assert safe_pickle._rebuild_tensor_v2.__defaults__ == (False, None, None)
stylepaint.load_generator({str(FIXTURE_PKL)!r})
print("refused", refused)
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          cwd=Path(__file__).parent)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "refused 5" in proc.stdout


def test_easydict_records_come_back_as_fresh_plain_dicts():
    class EasyDict(dict):
        pass

    EasyDict.__module__, EasyDict.__qualname__ = "dnnlib.util", "EasyDict"
    import sys as _sys
    import types

    fake = types.ModuleType("dnnlib.util")
    fake.EasyDict = EasyDict
    saved = {k: _sys.modules.get(k) for k in ("dnnlib", "dnnlib.util")}
    _sys.modules["dnnlib"], _sys.modules["dnnlib.util"] = types.ModuleType("dnnlib"), fake
    try:
        data = pickle.dumps([EasyDict(a=1), EasyDict(b=[2])], 4)
    finally:
        for k, v in saved.items():
            _sys.modules.pop(k) if v is None else _sys.modules.__setitem__(k, v)
    import io

    a, b = safe_pickle.safe_load_pickle(io.BytesIO(data), "kw.pkl")
    assert a == {"a": 1} and b == {"b": [2]} and a is not b and type(a) is safe_pickle.EasyDict
    with pytest.raises(AttributeError):
        a.x = 1                                           # no instance attributes at all


@pytest.mark.parametrize("name,words", [
    ("stride0-pickle.pkl", ["claims more elements"]),
    ("binbytes8.pkl", ["claims 1099511627776 bytes"]),
    ("resolution-16384.safetensors", ["img_resolution = 16384"]),
    ("mapping-1e6.safetensors", ["mapping_layers = 1000000"]),
    ("stride0-rosinality.pt", ["claims more data"]),
])
def test_sizes_are_checked_against_limits_and_bytes_present_before_allocating(results, name, words):
    """Item 3: each of these used 3-5 GB (or raised MemoryError) before any check."""
    result = results[name]
    assert_one_error(result, name, *words)
    assert result["maxrss_mb"] < 1500 and result["seconds"] < 15, result


@pytest.mark.parametrize("name", ["weight-is-int.pkl", "z-dim-list.pkl", "z-dim-inf.pkl", "modules-list.pkl",
                                  "rosinality-no-input.pt", "config-not-object.safetensors"])
def test_malformed_contents_are_one_error_naming_the_file(results, name):
    """Item 8: these leaked KeyError, AttributeError, TypeError or OverflowError tracebacks."""
    assert_one_error(results[name], name)


def test_nan_weights_are_refused(tmp_path):
    """Item 7: NaN weights used to load and render a black image with exit status 0."""
    G = load_generator(FIXTURE_PKL)
    with torch.no_grad():
        G.synthesis.b8.conv0.weight[0, 0, 0, 0] = float("nan")
    path = tmp_path / "nan.safetensors"
    save_generator(G, path)
    with pytest.raises(CheckpointError, match="NaN or infinite") as info:
        load_generator(path)
    assert str(path) in str(info.value)


def test_convert_into_a_missing_folder_is_one_sentence(tmp_path, capsys):
    from stylepaint.cli import main

    target = tmp_path / "no-such-folder" / "g.safetensors"
    assert main(["convert", str(FIXTURE_PKL), str(target)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(target) in err and "folder does not exist" in err
