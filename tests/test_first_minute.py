"""A new user's first minute on the embedded default model (offscreen): the editor opens on a
face, Random rolls another, the first prompt edits at once with the shipped directions (no
build, nothing written to the user cache), a favorite is kept and a PNG exported.

Skips while no default generator (and its directions) is shipped (docs/training.md)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from gui_support import diff, image_of, set_prompt

from stylepaint.portraits.manifest import read_manifest

pytestmark = pytest.mark.gui


def _shipped():
    from stylepaint.paths import MODELS_DIR

    entries = read_manifest(MODELS_DIR / "manifest.json")
    generators = [n for n, e in entries.items() if isinstance(e, dict) and e.get("role") == "default-generator"]
    if not generators:
        pytest.skip("no default generator shipped yet")
    if not any(isinstance(e, dict) and e.get("role") == "directions" and e.get("generator") == generators[0]
               for e in entries.values()):
        pytest.skip("the default generator's directions are not shipped yet")
    return generators[0]


def test_first_minute_on_the_default_model(qtbot, tmp_path, monkeypatch):
    from stylepaint.paths import MODELS_DIR

    name = _shipped()
    monkeypatch.setenv("STYLEPAINT_HOME", str(tmp_path / "home"))       # a new user: nothing cached
    from stylepaint import imagefiles
    from stylepaint.engine.render import Renderer
    from stylepaint.favorites import FavoritesStore
    from stylepaint.gui.main_window import MainWindow
    from stylepaint.gui.settings import Settings
    from stylepaint.gui.worker import RenderWorker

    renderer = Renderer(build_directions=False)     # a missing build would show "not built yet", not build
    worker = RenderWorker(render_fn=renderer.render, sync=True)
    w = MainWindow(model=None, clip=None, worker=worker, settings=Settings(tmp_path / "editor.json"),
                   store=FavoritesStore(tmp_path / "favorites"))
    qtbot.addWidget(w)
    try:
        assert w.stack.currentWidget() is w.canvas                      # a face, not the empty state
        first = image_of(w)
        assert first.shape == (128, 128, 3) and first.std() > 10
        w.controller.on_random()
        face = image_of(w)
        assert diff(face, first) > 5
        set_prompt(w, "a portrait of a person with red hair", alpha=4)
        assert "not built" not in w.message_bar.label.text()
        assert w.directions_job is None
        edited = image_of(w)
        assert diff(edited, face) > 1.0
        cache = tmp_path / "home" / "cache" / "directions"
        assert not cache.exists() or not any(cache.iterdir())          # the shipped directions, no build
        menu = w.canvas.context_menu()
        next(a for a in menu.actions() if a.text() == "Add to favorites").trigger()
        assert len(w.favorites_dock.ids()) == 1
        w.actions.export_png_to(tmp_path / "first.png")
        meta = imagefiles.read_png_metadata(tmp_path / "first.png")
        entry = read_manifest(MODELS_DIR / "manifest.json")[name]
        assert meta["model_id"] == entry["model_id"]
        assert json.loads(meta["edits"])[0]["alpha"] == 4
        from PIL import Image

        assert np.array_equal(np.asarray(Image.open(tmp_path / "first.png").convert("RGB")), edited)
    finally:
        worker.stop()
