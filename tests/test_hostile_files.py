"""Hostile and broken user files (issue 15, items 3, 4, 6, 7, 8 and 9): latents, recipes,
favorites, settings and photos. Every crafted file is made here.

Cases that used to hang, exhaust memory or crash run in a child with a 2 GiB memory cap and a
per-case alarm (`hostile.run_loaders`), so on a broken build they fail instead of stalling.
"""

from __future__ import annotations

import io
import json
import os
import time
import zipfile

import numpy as np
import pytest
from hostile import assert_one_error, deadline, deflate_zeros, npz_bomb, run_loaders, zip_with
from PIL import Image

from stylepaint import imagefiles
from stylepaint.edits import Recipe
from stylepaint.errors import InputError, StylepaintError  # loaders raise DataFileError, an InputError
from stylepaint.favorites import FavoritesStore
from stylepaint.gui.settings import Settings
from stylepaint.inversion.imageio import load_photo

WS = np.random.default_rng(0).normal(size=(6, 8)).astype(np.float32)


# --------------------------------------------------------------------------- item 4: FIFOs and endless devices

@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_fifos_and_endless_devices_are_refused_at_once(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    zero_link = tmp_path / "face.png"
    zero_link.symlink_to("/dev/zero")
    cases = [{"loader": loader, "path": str(fifo)} for loader in
             ("photo", "latent", "recipe", "checkpoint", "settings", "bundle")]
    cases += [{"loader": "photo", "path": "/dev/zero"}, {"loader": "photo", "path": str(zero_link)},
              {"loader": "latent", "path": "/dev/urandom"}, {"loader": "settings", "path": "/dev/zero"}]
    results = run_loaders(cases, tmp_path / "work", case_timeout=10, total_timeout=90)
    for result in results:
        assert result["seconds"] < 5 and result["maxrss_mb"] < 1500, result
        if result["loader"] == "settings":              # the editor starts anyway, with a warning
            assert result["outcome"] == "ok" and "only ordinary files" in result["value"], result
        else:
            assert_one_error(result, result["path"], "only ordinary files")


# --------------------------------------------------------------------------- item 3: decompression bombs

def test_npz_and_bundle_bombs_are_refused_before_unpacking(tmp_path):
    latent = tmp_path / "bomb.npz"
    latent.write_bytes(npz_bomb(4000))                               # 4 MB that unpacks to 4 GB
    bundle = tmp_path / "bomb.zip"
    state = deflate_zeros(3500)                                      # state.json of 3.5 GB
    bundle.write_bytes(zip_with({"state.json": (state, 3500 << 20, 0)}))
    nested = tmp_path / "nested.zip"                                 # a small arrays.npz that is itself a bomb
    with zipfile.ZipFile(nested, "w") as zf:
        zf.writestr("state.json", json.dumps({"name": "x", "created": 1.0, "state": {}}))
        zf.writestr("arrays.npz", npz_bomb(1000))
    assert latent.stat().st_size < 5_000_000 and bundle.stat().st_size < 5_000_000
    results = run_loaders([{"loader": "latent", "path": str(latent)}, {"loader": "bundle", "path": str(bundle)},
                           {"loader": "bundle", "path": str(nested)}], tmp_path / "work")
    for result in results:
        assert_one_error(result, result["path"], "would unpack to")
        assert result["maxrss_mb"] < 1500 and result["seconds"] < 10, result


# --------------------------------------------------------------------------- items 7 and 8: latents

def test_latents_must_be_finite_numbers_of_a_latent_shape(tmp_path):
    for name, ws in (("nan", np.full((6, 8), np.nan, np.float32)), ("inf", np.full(8, np.inf, np.float32))):
        path = tmp_path / f"{name}.npz"
        imagefiles.save_latent(path, ws)
        with pytest.raises(InputError, match="NaN or infinite") as info:
            imagefiles.load_latent(path)
        assert str(path) in str(info.value)
    texts = tmp_path / "text.npz"
    np.savez(texts, ws=np.array(["a", "b"]))
    with pytest.raises(InputError, match="not numbers"):
        imagefiles.load_latent(texts)
    objects = tmp_path / "objects.npy"
    np.save(objects, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(InputError, match="data type object"):
        imagefiles.load_latent(objects)
    ragged = tmp_path / "cube.npz"
    np.savez(ragged, ws=np.zeros((2, 3, 4), np.float32))
    with pytest.raises(InputError, match="shape"):
        imagefiles.load_latent(ragged)


def test_a_plain_npy_latent_loads(tmp_path):
    path = tmp_path / "w.npy"
    np.save(path, WS.astype(np.float64))
    ws, meta = imagefiles.load_latent(path)
    np.testing.assert_allclose(ws, WS)
    assert ws.dtype == np.float32 and meta == {}


def test_npy_headers_cannot_claim_more_than_the_bytes_present(tmp_path):
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": "<f4", "fortran_order": False, "shape": (10**12,)})
    path = tmp_path / "claims.npy"
    path.write_bytes(buf.getvalue() + b"\0" * 16)
    with pytest.raises(InputError, match="claims shape"):
        imagefiles.load_latent(path)


# --------------------------------------------------------------------------- item 8: recipes

@pytest.mark.parametrize("content", [
    {"steps": [1]},
    {"steps": [{"prompt": "smile", "alpha": "strong"}]},
    {"steps": [{"prompt": "smile", "beta": None}]},
    {"steps": [{"prompt": "smile", "alpha": float("nan")}]},
    {"steps": [{"prompt": "smile", "enabled": "yes"}]},
    {"steps": [{"prompt": ["smile"]}]},
    {"steps": "all"},
    {"version": "2", "steps": []},
    [1, 2],
    "deep",
    "trailing-comma",
])
def test_broken_recipes_are_one_error_naming_the_file(tmp_path, content):
    path = tmp_path / "recipe.json"
    if content == "deep":
        path.write_text("[" * 100_000 + "]" * 100_000)
    elif content == "trailing-comma":
        path.write_text('{"steps": [],}')
    else:
        path.write_text(json.dumps(content))
    with pytest.raises(InputError) as info:
        Recipe.load(path)
    assert str(info.value).startswith(f"{path}: ")


# --------------------------------------------------------------------------- item 6 and 8: favorites

def _state():
    return {"model": None, "seed": 3, "truncation": 0.7, "edits": [{"prompt": "smile", "alpha": 2.0}]}


@pytest.mark.parametrize("created", ["yesterday", None, [1], float("inf")])
def test_a_damaged_favorite_is_skipped_with_a_message_and_kept(tmp_path, created):
    store = FavoritesStore(tmp_path)
    good = store.add("Good", _state(), {"ws": WS})
    bad = store.add("Bad", _state())
    state_file = tmp_path / bad.id / "state.json"
    meta = json.loads(state_file.read_text())
    meta["created"] = created
    state_file.write_text(json.dumps(meta))
    before = state_file.read_bytes()
    store = FavoritesStore(tmp_path)
    assert [f.id for f in store.list()] == [good.id]
    assert len(store.problems) == 1 and str(state_file) in store.problems[0] and "creation time" in store.problems[0]
    assert state_file.read_bytes() == before                     # never rewritten or deleted


def test_leftover_temporary_folders_are_removed_at_start(tmp_path):
    store = FavoritesStore(tmp_path)
    store.add("Kept", _state())
    old = [tmp_path / f".new-2024-{i}" for i in range(3)] + [tmp_path / ".trash-x-1"]
    for folder in old:
        folder.mkdir()
        (folder / "state.json").write_text("{}")
        os.utime(folder, (time.time() - 3600, time.time() - 3600))
    fresh = tmp_path / ".new-now"                                 # maybe another process saving right now
    fresh.mkdir()
    FavoritesStore(tmp_path)
    assert not any(folder.exists() for folder in old) and fresh.exists()
    assert [f.name for f in FavoritesStore(tmp_path).list()] == ["Kept"]


@pytest.mark.parametrize("meta", [
    {"name": "x", "state": []},
    {"name": 5, "state": {}},
    {"name": "x", "created": "now", "state": {}},
    "deep",
])
def test_broken_bundles_are_one_error_naming_the_file(tmp_path, meta):
    path = tmp_path / "fav.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("state.json", "[" * 50_000 + "]" * 50_000 if meta == "deep" else json.dumps(meta))
    with pytest.raises(InputError) as info:
        FavoritesStore(tmp_path / "store").import_bundle(path)
    assert str(info.value).startswith(f"{path}: ")


def test_a_favorite_state_of_the_wrong_types_is_an_input_error():
    from stylepaint.editor_state import EditorState

    for state in ({"seed": [1]}, {"truncation": "high"}, {"edits": [{"prompt": 5}]}, {"edits": 7}):
        with pytest.raises(InputError):
            EditorState.from_favorite(state, {})


# --------------------------------------------------------------------------- item 6: settings

def test_an_unparsable_settings_file_is_kept_beside_itself_never_lost(tmp_path):
    path = tmp_path / "editor.json"
    original = '{"recent_models": ["/models/ffhq.pkl"], "export_dir": "/pictures",}'   # one trailing comma
    path.write_text(original)
    settings = Settings(path)
    assert settings["recent_models"] == [] and len(settings.problems) == 1
    assert str(path) in settings.problems[0] and "kept as" in settings.problems[0]
    backups = list(tmp_path.glob("editor.json.unreadable-*"))
    assert len(backups) == 1 and backups[0].read_text() == original
    settings["seed"] = 5
    assert settings.save()                                        # the original is safe in the backup
    assert backups[0].read_text() == original and Settings(path)["seed"] == 5


def test_a_deeply_nested_settings_file_starts_with_defaults(tmp_path):
    path = tmp_path / "editor.json"
    path.write_text("[" * 100_000 + "]" * 100_000)
    settings = Settings(path)
    assert settings["seed"] == 0 and "levels deep" in settings.problems[0]


def test_invalid_values_are_reported_and_the_file_is_kept(tmp_path):
    path = tmp_path / "editor.json"
    path.write_text(json.dumps({"seed": -4, "prompt_history": ["a"]}))
    settings = Settings(path)
    assert settings["prompt_history"] == ["a"] and "seed" in settings.problems[0]
    assert list(tmp_path.glob("editor.json.unreadable-*"))


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_a_settings_path_that_is_not_a_file_is_never_overwritten(tmp_path):
    path = tmp_path / "editor.json"
    os.mkfifo(path)
    with deadline(10):
        settings = Settings(path)
    assert settings.problems and settings.save() is False
    assert path.is_fifo()


# --------------------------------------------------------------------------- item 9: the documented pixel limit

def _blank_png(path, width, height):
    Image.new("1", (width, height)).save(path, optimize=False)
    return path


def test_a_96_megapixel_photo_is_within_the_documented_200_mp(tmp_path):
    photo = load_photo(_blank_png(tmp_path / "big.png", 12_000, 8_000))
    assert photo.size == (12_000, 8_000)


def test_a_photo_over_200_mp_is_refused_with_its_size(tmp_path):
    with pytest.raises(InputError, match="225 megapixels, more than the 200 supported"):
        load_photo(_blank_png(tmp_path / "huge.png", 15_000, 15_000))


def test_every_loader_error_is_a_stylepaint_error_naming_the_file(tmp_path):
    """The shape every loader failure takes: ``<path>: <problem>`` in one sentence."""
    folder = tmp_path / "a-folder"
    folder.mkdir()
    for load in (imagefiles.load_latent, Recipe.load, FavoritesStore(tmp_path / "s").import_bundle, load_photo):
        for path in (tmp_path / "missing.bin", folder):
            with pytest.raises(StylepaintError) as info:
                load(path)
            assert str(info.value).startswith(str(path)) and "\n" not in str(info.value)


# --------------------------------------------------------------------------- documents (.stylepaint)

def _document(members: dict) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def test_hostile_documents_are_one_error_naming_the_file(tmp_path):
    from stylepaint.document import SCHEMA_VERSION, load_document

    head = {"format": "stylepaint-document", "version": SCHEMA_VERSION, "state": {}}
    obj = io.BytesIO()
    np.save(obj, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    cases = {
        "deep.stylepaint": _document({"document.json": "[" * 5000 + "]" * 5000}),
        "pickle.stylepaint": _document({"document.json": json.dumps({**head, "arrays": {"ws": "arrays/ws.npy"}}),
                                        "arrays/ws.npy": obj.getvalue()}),
        "short.stylepaint": _document({"document.json": json.dumps({**head, "arrays": {"ws": "arrays/ws.npy"}}),
                                       "arrays/ws.npy": b"\x93NUMPY\x01\x00v\x00{'descr': '<f4', 'fortran_order': "
                                                        b"False, 'shape': (100000, 100000), }" + b" " * 50 + b"\n"}),
        "lacking.stylepaint": _document({"document.json": json.dumps({**head, "arrays": {"ws": "arrays/ws.npy"}})}),
        "text.stylepaint": b"just some text",
    }
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(InputError) as info:
            load_document(tmp_path / name)
        message = str(info.value)
        assert name in message and "\n" not in message and "Traceback" not in message, message
    bomb = tmp_path / "bomb.stylepaint"
    bomb.write_bytes(zip_with({"document.json": (deflate_zeros(3500), 3500 << 20, 0)}))
    fifo = tmp_path / "pipe.stylepaint"
    os.mkfifo(fifo)
    results = run_loaders([{"loader": "document", "path": str(bomb)}, {"loader": "document", "path": str(fifo)}],
                          tmp_path / "work", case_timeout=20, total_timeout=120)
    assert_one_error(results[0], str(bomb), "would unpack to")
    assert_one_error(results[1], str(fifo), "only ordinary files")
    for result in results:
        assert result["maxrss_mb"] < 1500 and result["seconds"] < 10, result
