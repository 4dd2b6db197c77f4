"""The favorites store: round trip, rename/delete/export, crash safety, full disk."""

from __future__ import annotations

import errno
import os

import numpy as np
import pytest

from stylepaint.errors import InputError, StylepaintError
from stylepaint.favorites import FavoritesStore


def _state(seed=1):
    return {"model": None, "seed": seed, "truncation": 0.7,
            "edits": [{"prompt": "curly hair", "alpha": 3.0}]}


def test_add_list_get_round_trip(tmp_path):
    store = FavoritesStore(tmp_path / "fav")
    ws = np.random.default_rng(0).normal(size=(10, 8)).astype(np.float32)
    fav = store.add("Curly", _state(), {"ws": ws}, b"\x89PNG fake")
    again = FavoritesStore(tmp_path / "fav")                       # a fresh store (restart)
    listed = again.list()
    assert [f.name for f in listed] == ["Curly"]
    got = again.get(fav.id)
    assert got.state == _state()
    np.testing.assert_array_equal(got.arrays["ws"], ws)
    assert got.thumbnail_path.read_bytes() == b"\x89PNG fake"


def test_default_location_is_user_data_dir(_private_home):
    store = FavoritesStore()
    store.add("x", _state())
    assert str(store.root).startswith(str(_private_home))


def test_rename_delete_and_export_import(tmp_path):
    store = FavoritesStore(tmp_path)
    a = store.add("A", _state(1), {"ws": np.zeros((2, 3), np.float32)})
    b = store.add("B", _state(2))
    store.rename(a.id, "Alpha")
    assert {f.name for f in store.list()} == {"Alpha", "B"}
    with pytest.raises(InputError):
        store.rename(a.id, "  ")
    bundle = store.export(a.id, tmp_path / "a.zip")
    store.delete(a.id)
    assert [f.name for f in store.list()] == ["B"]
    back = store.import_bundle(bundle)
    assert back.name == "Alpha" and back.state["seed"] == 1
    assert store.get(back.id).arrays["ws"].shape == (2, 3)
    with pytest.raises(InputError):
        store.delete("no-such-id")
    with pytest.raises(InputError):
        store.import_bundle(tmp_path / "a-missing.zip")


def test_state_must_be_plain_data(tmp_path):
    with pytest.raises(InputError):
        FavoritesStore(tmp_path).add("bad", {"ws": np.zeros(3)})


def test_full_disk_raises_and_loses_nothing(tmp_path, monkeypatch):
    store = FavoritesStore(tmp_path)
    kept = store.add("kept", _state(), {"ws": np.ones((4, 4), np.float32)}, b"thumb")
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    real_fsync = os.fsync
    calls = {"n": 0}

    def full_disk(fd):
        calls["n"] += 1
        if calls["n"] == 2:                      # fail in the middle of writing the new favorite
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_fsync(fd)

    monkeypatch.setattr(os, "fsync", full_disk)
    with pytest.raises(StylepaintError, match="disk is full"):
        store.add("new", _state(2), {"ws": np.ones((4, 4), np.float32)}, b"thumb2")
    monkeypatch.setattr(os, "fsync", real_fsync)
    after = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    assert after == before                      # no half-written favorite, no temp files left
    assert [f.name for f in store.list()] == ["kept"]
    np.testing.assert_array_equal(store.get(kept.id).arrays["ws"], np.ones((4, 4)))


def test_unwritable_folder_raises_store_error(tmp_path, monkeypatch):
    store = FavoritesStore(tmp_path)
    kept = store.add("kept", _state())

    def denied(*a, **k):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(os, "replace", denied)
    with pytest.raises(StylepaintError, match="not writable"):
        store.add("new", _state())
    with pytest.raises(StylepaintError, match="not writable"):
        store.rename(kept.id, "renamed")
    monkeypatch.undo()
    assert [f.name for f in store.list()] == ["kept"]


def test_kill_mid_save_leaves_old_state(tmp_path):
    """A leftover temporary folder (a save killed before its final rename) is ignored."""
    store = FavoritesStore(tmp_path)
    store.add("whole", _state())
    (tmp_path / ".new-20990101-000000-abcdef").mkdir()
    (tmp_path / ".new-20990101-000000-abcdef" / "state.json").write_text("{trunc")
    (tmp_path / "foreign").mkdir()                 # damaged entries are skipped, not deleted
    assert [f.name for f in store.list()] == ["whole"]
    assert (tmp_path / "foreign").exists()
