"""The editor's "Export edited photo (full size)" (offscreen): open a real photo through the
window's own path (the inversion job on the worker), edit the inverted face, and paste it back
into the full-resolution photo. Real renderer, 64 px fixture generator, tiny random CLIP."""

from __future__ import annotations

import functools
import json
import shutil
import time

import numpy as np
import pytest
from gui_support import diff, image_of, make_engine, set_prompt
from PySide6.QtWidgets import QFileDialog

from stylepaint.favorites import FavoritesStore
from stylepaint import imagefiles as export
from stylepaint.gui.main_window import MainWindow
from stylepaint.gui.settings import Settings
from stylepaint.gui.worker import RenderWorker
from stylepaint.inversion import pipeline
from stylepaint.inversion.alignment import Alignment
from stylepaint.inversion.imageio import load_photo
from stylepaint.inversion.pasteback import pasted_region

pytestmark = [pytest.mark.gui, pytest.mark.usefixtures("one_torch_thread")]

ITERATIONS = (4, 4)          # W and W+ steps: the test is about the export, not the inversion's quality




@pytest.fixture(scope="module")
def engine(fixture_dir, tmp_path_factory):
    return make_engine(fixture_dir / "sg2ada-64px.pkl", tmp_path_factory.mktemp("engine"))


@pytest.fixture
def window(qtbot, engine, fixture_dir, tmp_path):
    renderer, spec = engine
    renderer.forget(str(fixture_dir / "sg2ada-64px.pkl"))   # loaded by render() itself, as in the app (item 1)
    worker = RenderWorker(render_fn=renderer.render, sync=True)
    w = MainWindow(model=str(fixture_dir / "sg2ada-64px.pkl"), clip=spec, worker=worker,
                   settings=Settings(tmp_path / "editor.json"), store=FavoritesStore(tmp_path / "favorites"))
    qtbot.addWidget(w)
    yield w
    worker.stop()




def test_export_edited_photo_full_size(window, fixture_dir, tmp_path, monkeypatch):
    w = window
    # the window's own inversion job, with few steps (the job looks the function up at run time)
    monkeypatch.setattr(pipeline, "invert_photo", functools.partial(pipeline.invert_photo, iterations=ITERATIONS))
    photo_path = tmp_path / "astronaut.png"
    shutil.copyfile(fixture_dir.parent / "photos" / "astronaut.png", photo_path)
    assert not w.action_export_photo.isEnabled()

    t0 = time.perf_counter()
    w.actions.open_photo_from(photo_path)
    opened_s = time.perf_counter() - t0
    s = w.controller.state
    assert w.message_bar.text().startswith("Opened the face from astronaut.png. Photo vs inversion: identity distance "), \
        w.message_bar.text()
    assert s.photo is not None and s.photo["name"] == "astronaut.png" and s.ws is not None
    assert w.action_export_photo.isEnabled() and "astronaut.png" in w.action_export_photo.toolTip()
    assert "astronaut.png" in w.face_panel.source.text()
    original = load_photo(photo_path).pixels
    alignment = Alignment.from_dict(s.photo["alignment"])
    region = pasted_region(alignment)

    # unedited, through the menu action (the save dialog answered by the test)
    plain_path = tmp_path / "plain.png"
    monkeypatch.setattr(QFileDialog, "exec", lambda self: 1)
    monkeypatch.setattr(QFileDialog, "selectedFiles", lambda self: [str(plain_path)])
    w.action_export_photo.trigger()
    assert plain_path.is_file(), w.message_bar.text()
    plain = load_photo(plain_path).pixels

    # edited
    set_prompt(w, "curly hair", alpha=6)
    assert w.controller.state.photo is not None            # an edit keeps the photo link
    t0 = time.perf_counter()
    w.actions.export_photo_to(tmp_path / "edited.png")
    export_s = time.perf_counter() - t0
    assert w.message_bar.level == "info" and "edited.png" in w.message_bar.text(), w.message_bar.text()
    edited = load_photo(tmp_path / "edited.png").pixels

    assert edited.shape == original.shape == plain.shape   # the photo's full size
    assert np.array_equal(edited[~region], original[~region])          # outside the feathered face: the photo's own
    assert np.array_equal(plain[~region], original[~region])
    inside_vs_photo = diff(edited[region], original[region])
    inside_vs_plain = diff(edited[region], plain[region])
    assert inside_vs_photo > 2.0                            # the generator's face is pasted in
    assert inside_vs_plain > 0.5                            # and the edit shows in it
    meta = export.read_png_metadata(tmp_path / "edited.png")
    assert meta["model"].endswith("sg2ada-64px.pkl") and meta["model_id"] and meta["latent_sha1"]
    assert json.loads(meta["edits"])[0]["prompt"] == "curly hair" and meta["photo"] == "astronaut.png"
    print(f"\nphoto {original.shape[1]}x{original.shape[0]}, face region {region.mean():.1%} of the pixels, "
          f"open (inversion {ITERATIONS}) {opened_s:.1f} s, export {export_s:.2f} s; "
          f"mean |diff| inside: edited vs photo {inside_vs_photo:.1f}, edited vs unedited {inside_vs_plain:.1f}; "
          f"outside: 0 pixels differ")

    # the Export dialog's photo choice, as TIFF: full size, metadata in its description
    from stylepaint.gui.export_dialog import ExportDialog

    def choose_photo_tiff(dialog):
        assert dialog.photo_choice.isEnabled() and "astronaut.png" in dialog.photo_choice.text()
        dialog.photo_choice.setChecked(True)
        dialog.format_box.setCurrentIndex(dialog.format_box.findData("tiff"))
        dialog.path_edit.setText(str(tmp_path / "edited.tif"))
        return 1

    monkeypatch.setattr(ExportDialog, "exec", choose_photo_tiff)
    w.action_export.trigger()
    tiff = load_photo(tmp_path / "edited.tif").pixels
    assert tiff.shape == original.shape and np.array_equal(tiff, edited)    # lossless, same picture
    assert export.read_image_metadata(tmp_path / "edited.tif")["photo"] == "astronaut.png"

    # failures are messages: an unwritable folder, a photo gone from disk
    (tmp_path / "file").write_text("x")
    w.actions.export_photo_to(tmp_path / "file" / "out.png")
    assert "cannot write" in w.message_bar.text() and w.job_bar.isHidden()
    w.message_bar.clear()
    photo_path.unlink()
    w.actions.export_photo_to(tmp_path / "gone.png")
    assert "no such file" in w.message_bar.text() and not (tmp_path / "gone.png").exists()

    # a new face drops the photo link; undo brings it back
    shown = image_of(w)
    w.action_random.trigger()
    assert w.controller.state.photo is None and not w.action_export_photo.isEnabled()
    assert diff(image_of(w), shown) > 0
    w.action_undo.trigger()
    assert w.controller.state.photo is not None and w.action_export_photo.isEnabled()
    assert w.controller.state.with_(model="other.pkl").photo is None     # so does another model


def test_export_edited_photo_is_off_for_a_face_not_from_a_photo(window, tmp_path):
    w = window
    assert w.controller.result is not None and w.controller.state.photo is None
    assert not w.action_export_photo.isEnabled()
    assert "not from a photo" in w.action_export_photo.toolTip()
    w.actions.export_photo_to(tmp_path / "out.png")        # called anyway: a message, no file
    assert "not from a photo" in w.message_bar.text() and not (tmp_path / "out.png").exists()
