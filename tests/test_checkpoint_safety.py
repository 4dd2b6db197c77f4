"""Loading is safe: nothing from a file runs, and every bad file is one clear error."""

from __future__ import annotations

import os
import pickle
import sys
import types

import pytest

import stylepaint
from stylepaint.engine.checkpoints import resolve_device
from stylepaint.errors import CheckpointError, DeviceError, UnsafePickleError


class _Evil:
    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


class _EvalEvil:
    def __reduce__(self):
        return (eval, ("__import__('pathlib').Path(%r).touch()" % str(_EvalEvil.marker),))


def test_pickle_calling_os_system_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps({"G_ema": _Evil(f"touch {marker}")}))
    with pytest.raises(UnsafePickleError) as info:
        stylepaint.load_generator(path)
    assert not marker.exists()
    assert str(path) in str(info.value)
    assert "system" in str(info.value)


def test_pickle_calling_builtins_eval_is_refused(tmp_path):
    _EvalEvil.marker = tmp_path / "pwned-eval"
    path = tmp_path / "evil-eval.pkl"
    path.write_bytes(pickle.dumps(_EvalEvil()))
    with pytest.raises(UnsafePickleError, match="builtins.eval"):
        stylepaint.load_generator(path)
    assert not _EvalEvil.marker.exists()


def _persistent_pickle(path, class_name: str, key: str, module_src: str):
    """A pickle in NVIDIA's persistence layout whose embedded source would do harm if run."""
    fake = types.ModuleType("torch_utils.persistence")

    def _reconstruct_persistent_obj(meta):  # stands in for NVIDIA's function while pickling
        raise AssertionError("never called at load time")

    _reconstruct_persistent_obj.__module__ = "torch_utils.persistence"
    _reconstruct_persistent_obj.__qualname__ = "_reconstruct_persistent_obj"
    fake._reconstruct_persistent_obj = _reconstruct_persistent_obj

    class Persistent:
        def __reduce__(self):
            meta = dict(type="class", version=6, module_src=module_src, class_name=class_name,
                        state={"_modules": {}, "_parameters": {}, "_buffers": {}})
            return (_reconstruct_persistent_obj, (meta,))

    parent = types.ModuleType("torch_utils")
    saved = {k: sys.modules.get(k) for k in ("torch_utils", "torch_utils.persistence")}
    sys.modules["torch_utils"], sys.modules["torch_utils.persistence"] = parent, fake
    try:
        path.write_bytes(pickle.dumps({key: Persistent()}))
    finally:
        for k, v in saved.items():
            if v is None:
                sys.modules.pop(k, None)
            else:
                sys.modules[k] = v


def test_embedded_module_source_is_never_executed(tmp_path):
    marker = tmp_path / "source-ran"
    path = tmp_path / "embedded.pkl"
    _persistent_pickle(path, "Generator", "G_ema", f"import pathlib\npathlib.Path({str(marker)!r}).touch()\n")
    with pytest.raises(CheckpointError):
        stylepaint.load_generator(path)
    assert not marker.exists()


def test_discriminator_only_file(tmp_path):
    path = tmp_path / "d-only.pkl"
    _persistent_pickle(path, "Discriminator", "D", "")
    with pytest.raises(CheckpointError, match="no generator.*found: D"):
        stylepaint.load_generator(path)


def test_truncated_file(tmp_path, fixture_dir):
    for name in ("sg2ada-32px-fp16-clamp.pkl", "rosinality-32px.pt"):
        data = (fixture_dir / name).read_bytes()
        path = tmp_path / name
        path.write_bytes(data[: len(data) // 2])
        with pytest.raises(CheckpointError) as info:
            stylepaint.load_generator(path)
        assert str(path) in str(info.value)


def test_empty_and_foreign_and_missing_files(tmp_path):
    empty = tmp_path / "empty.pkl"
    empty.write_bytes(b"")
    with pytest.raises(CheckpointError, match="empty"):
        stylepaint.load_generator(empty)
    foreign = tmp_path / "photo.pkl"
    foreign.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 100)
    with pytest.raises(CheckpointError, match="not a StyleGAN2 checkpoint"):
        stylepaint.load_generator(foreign)
    plain = tmp_path / "list.pkl"
    plain.write_bytes(pickle.dumps([1, 2, 3]))
    with pytest.raises(CheckpointError, match="not a StyleGAN2-ADA pickle"):
        stylepaint.load_generator(plain)
    with pytest.raises(CheckpointError, match="no such file"):
        stylepaint.load_generator(tmp_path / "missing.pkl")


def test_wrong_device(fixture_dir):
    path = fixture_dir / "sg2ada-32px-fp16-clamp.pkl"
    with pytest.raises(DeviceError, match="unknown device"):
        stylepaint.load_generator(path, device="banana")
    with pytest.raises(DeviceError):
        stylepaint.load_generator(path, device="cuda:7" if not __import__("torch").cuda.is_available() else "cuda:99")
    assert resolve_device("auto").type in ("cpu", "cuda", "mps")


def test_cli_prints_one_sentence_and_exits_2(tmp_path, capsys):
    from stylepaint.cli import main

    marker = tmp_path / "pwned-cli"
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps(_Evil(f"touch {marker}")))
    assert main(["info", str(path)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.count("\n") == 1 and str(path) in err
    assert not marker.exists()
