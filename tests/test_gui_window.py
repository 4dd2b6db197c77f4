"""The editor window end to end (offscreen): real renderer, fixture generator, tiny CLIP."""

from __future__ import annotations

import errno
import json
import os
import re
import time

import numpy as np
import pytest
from gui_support import diff, image_of, make_engine, set_prompt
from PySide6.QtWidgets import QApplication

from stylepaint.favorites import FavoritesStore
from stylepaint import imagefiles as export
from stylepaint.gui.main_window import MainWindow
from stylepaint.gui.settings import Settings
from stylepaint.gui.worker import RenderWorker

pytestmark = pytest.mark.gui


@pytest.fixture(scope="module")
def engine(fixture_dir, tmp_path_factory):
    return make_engine(fixture_dir / "sg2ada-64px.pkl", tmp_path_factory.mktemp("engine"))


@pytest.fixture
def make_window(qtbot, engine, fixture_dir, tmp_path):
    renderer, spec = engine
    made = []

    def make(sync=True, model=str(fixture_dir / "sg2ada-64px.pkl")):
        worker = RenderWorker(render_fn=renderer.render, sync=sync)
        window = MainWindow(model=model, clip=spec, worker=worker, settings=Settings(tmp_path / "editor.json"),
                            store=FavoritesStore(tmp_path / "favorites"))
        qtbot.addWidget(window)
        made.append(worker)
        return window

    yield make
    for worker in made:
        worker.stop()




def shown_alpha(w):
    edits = w.controller.result["args"]["edits"]
    return edits[0]["alpha"] if edits else None


def channel_count(w) -> int:
    m = re.search(r"moves (\d+) channel", w.prompt_panel.channels.text())
    assert m, w.prompt_panel.channels.text()
    return int(m.group(1))


def test_window_starts_on_a_model(make_window):
    w = make_window()
    assert w.controller.result["image"].shape == (64, 64, 3)
    assert w.stack.currentWidget() is w.canvas
    assert "sg2ada-64px" in w.status_model.text() and w.status_render.text().endswith("ms")
    assert not w.message_bar.text()


def test_prompt_and_alpha_deliver_a_new_image(make_window, qtbot):
    w = make_window()
    plain = image_of(w)
    w.show()
    w.prompt_panel.target.lineEdit().setFocus()
    qtbot.keyClicks(w.prompt_panel.target.lineEdit(), "curly hair")   # letters that are also shortcuts
    assert w.prompt_panel.target.currentText() == "curly hair"
    assert w.controller.state.seed == 0 and w.canvas.tool == "view" and not w.canvas.show_heatmap
    set_prompt(w, "curly hair")
    assert diff(image_of(w), plain) == 0            # α = 0: same picture, channel count shown
    set_prompt(w, "curly hair", alpha=5)
    assert diff(image_of(w), plain) > 1.0
    assert w.controller.result["args"]["edits"][0]["alpha"] == 5.0


def test_beta_changes_the_channel_count(make_window):
    w = make_window()
    set_prompt(w, "curly hair", alpha=3, beta=0.02)
    loose = channel_count(w)
    w.prompt_panel.beta.spin.setValue(0.4)
    strict = channel_count(w)
    assert 0 <= strict < loose


def test_two_stacked_edits_differ_from_each_alone(make_window):
    w = make_window()
    set_prompt(w, "curly hair", alpha=6)
    w.prompt_panel.add_button.click()
    w.edit_stack.buttons["new"].click()
    set_prompt(w, "a wide smile", alpha=-6)
    w.prompt_panel.add_button.click()
    assert len(w.controller.state.edits) == 2
    both = image_of(w)
    items = [w.edit_stack.list.item(i) for i in range(2)]
    from PySide6.QtCore import Qt
    items[1].setCheckState(Qt.CheckState.Unchecked)
    first_only = image_of(w)
    w.edit_stack.list.item(0).setCheckState(Qt.CheckState.Unchecked)
    w.edit_stack.list.item(1).setCheckState(Qt.CheckState.Checked)
    second_only = image_of(w)
    assert min(diff(both, first_only), diff(both, second_only), diff(first_only, second_only)) > 0.5


def test_favorite_from_context_menu_survives_a_restart(make_window):
    w = make_window()
    set_prompt(w, "curly hair", alpha=4)
    kept = image_of(w)
    menu = w.canvas.context_menu()
    action = next(a for a in menu.actions() if a.text() == "Add to favorites")
    action.trigger()
    assert len(w.favorites_dock.ids()) == 1
    w.resize(760, 560)
    w.docks["blend"].hide()
    w.close()
    fresh = make_window()
    assert fresh.favorites_dock.names() == w.favorites_dock.names()
    assert (fresh.width(), fresh.height()) == (760, 560)          # the layout is remembered
    assert fresh.docks["blend"].isHidden() and not fresh.docks["stack"].isHidden()
    fresh.controller.on_seed(99)                    # somewhere else, then restore
    fresh.actions.restore_favorite(fresh.favorites_dock.ids()[0])
    assert np.array_equal(image_of(fresh), kept)
    assert fresh.controller.state.current_edit.prompt == "curly hair"


def test_blend_left_right_keeps_a_left_and_b_right(make_window):
    w = make_window()
    w.controller.on_seed(7)
    w.actions.add_favorite("B")
    b = image_of(w)
    w.controller.on_seed(3)
    a = image_of(w)
    w.blend_panel.feather.setValue(0)
    w.actions.blend_with(w.favorites_dock.ids()[0])
    blended = image_of(w)
    assert w.controller.result["args"]["blend"] is not None
    left, right = slice(0, 20), slice(44, 64)      # 12 px away from the seam at 32
    print(f"blend: left differs from A by {diff(blended[:, left], a[:, left]):.2f} (A vs B {diff(a[:, left], b[:, left]):.2f}), "
          f"right from B by {diff(blended[:, right], b[:, right]):.2f} (A vs B {diff(a[:, right], b[:, right]):.2f})")
    assert diff(blended[:, left], a[:, left]) < 0.25 * diff(a[:, left], b[:, left])
    assert diff(blended[:, right], b[:, right]) < 0.25 * diff(a[:, right], b[:, right])


def test_region_edit_changes_inside_far_more_than_outside(make_window):
    w = make_window()
    plain = image_of(w)
    set_prompt(w, "curly hair", alpha=8)
    w.canvas.set_tool("brush")
    w.canvas.brush_radius = 0.12
    w.canvas.begin_stroke((12, 14))
    for y in range(14, 52, 3):
        w.canvas.continue_stroke((12, y - 3), (12, y))
        w.canvas.continue_stroke((24, y - 3), (24, y))
    w.canvas.end_stroke()
    step = w.controller.state.current_edit
    assert step.mask is not None
    mask = w.controller.state.masks[step.mask]
    edited = image_of(w)
    change = np.abs(edited.astype(np.float32) - plain.astype(np.float32)).mean(axis=2)
    from stylepaint.masks import feathered
    near = feathered((mask > 0.01).astype(np.float32), 0.25)     # the mask grown by ~8 px
    inside, outside = change[mask > 0.9].mean(), change[near == 0].mean()
    ratio = f"{inside / outside:.1f}x" if outside > 0 else "outside unchanged"
    print(f"region edit: mean change {inside:.2f} inside the mask, {outside:.2f} outside ({ratio})")
    assert inside > 0 and inside >= 5 * outside, (inside, outside)


def test_export_writes_png_with_metadata(make_window, tmp_path):
    w = make_window()
    set_prompt(w, "curly hair", alpha=4)
    w.actions.export_png_to(tmp_path / "out.png", scale=2)
    meta = export.read_png_metadata(tmp_path / "out.png")
    assert meta["model"].endswith("sg2ada-64px.pkl") and meta["seed"] == "0"
    assert json.loads(meta["edits"])[0]["prompt"] == "curly hair" and meta["model_id"]
    from PIL import Image
    assert Image.open(tmp_path / "out.png").size == (128, 128)
    w.actions.save_latent_to(tmp_path / "face.npz")
    ws, _ = export.load_latent(tmp_path / "face.npz")
    assert ws.shape[0] == w.controller.model_meta["num_ws"]


def test_undo_restores_the_previous_image_exactly(make_window):
    w = make_window()
    set_prompt(w, "curly hair", alpha=2)
    before = image_of(w)
    w.prompt_panel.alpha.slider.setValue(70)
    after = image_of(w)
    assert diff(before, after) > 0
    w.action_undo.trigger()
    assert np.array_equal(image_of(w), before)
    assert w.prompt_panel.alpha.value() == 2.0
    w.action_redo.trigger()
    assert np.array_equal(image_of(w), after)


def test_bad_inputs_show_a_message_and_the_window_lives(make_window, fixture_dir, tmp_path, monkeypatch):
    w = make_window()
    shown = image_of(w)
    # empty prompt with α moved
    w.prompt_panel.alpha.slider.setValue(30)
    assert "Type what to change" in w.prompt_panel.problem.text() and w.prompt_panel.problem.isVisibleTo(w)
    # a prompt CLIP cannot turn into a direction
    set_prompt(w, "hair")
    shown = image_of(w)
    w.prompt_panel.neutral.setText("hair")
    w.prompt_panel.target.lineEdit().returnPressed.emit()
    assert "mean the same" in w.message_bar.text()
    assert np.array_equal(image_of(w), shown)       # the last good picture stays
    w.prompt_panel.neutral.setText("")
    w.prompt_panel.target.lineEdit().returnPressed.emit()
    assert not w.message_bar.text()                # fixed: the message goes away by itself
    # a corrupt model file, and a foreign one
    for name, data in (("broken.pkl", b"\x80\x04 truncated"), ("notes.pt", b"hello")):
        (tmp_path / name).write_bytes(data)
        w.actions.open_checkpoint_from(tmp_path / name)
        assert name in w.message_bar.text(), w.message_bar.text()
        assert w.controller.state.model.endswith("sg2ada-64px.pkl")   # back on the working model
        w.message_bar.clear()
    # an image that is not an image
    (tmp_path / "photo.jpg").write_text("not really a photo")
    w.actions.open_photo_from(tmp_path / "photo.jpg")
    assert "not an image" in w.message_bar.text()
    # a photo without a face (the inversion job fails as a value; the window says why)
    w.actions.open_photo_from(fixture_dir.parent / "photos" / "chelsea.png")
    assert "no face" in w.message_bar.text() and w.job_bar.isHidden()
    # an unwritable export folder
    (tmp_path / "file").write_text("x")
    w.actions.export_png_to(tmp_path / "file" / "out.png")
    assert "cannot write" in w.message_bar.text()
    # a latent made for another model
    export.save_latent(tmp_path / "other.npz", np.zeros((3, 5), np.float32))
    w.actions.open_latent_from(tmp_path / "other.npz")
    assert "[3, 5]" in w.message_bar.text()
    # a full disk while saving a favorite: nothing already saved is lost
    w.actions.add_favorite("kept")
    real_fsync = os.fsync

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    w.actions.add_favorite("lost")
    monkeypatch.setattr(os, "fsync", real_fsync)
    assert "disk is full" in w.message_bar.text()
    assert w.favorites_dock.names() == ["kept"]
    # still alive: with the prompt fixed, a new face renders
    w.prompt_panel.neutral.setText("")
    set_prompt(w, "curly hair")
    w.controller.on_seed(5)
    assert diff(image_of(w), shown) > 0


def test_no_embedded_default_shows_the_empty_state(make_window, monkeypatch):
    from stylepaint.engine import checkpoints

    if checkpoints.__dict__.get("embedded_default_installed", lambda: False)():
        pytest.skip("an embedded default is installed here")
    w = make_window(model=None)
    if w.controller.result is not None:
        pytest.skip("an embedded default model is installed here")
    assert w.stack.currentWidget() is w.empty
    assert w.empty.title.text() == "No model loaded" and w.empty.open_button.isVisibleTo(w)


def test_fast_alpha_drag_renders_few_frames_and_ends_on_the_last_alpha(make_window, engine, qtbot):
    renderer, _ = engine
    w = make_window(sync=False)
    qtbot.waitUntil(lambda: w.controller.result is not None, timeout=20000)
    set_prompt(w, "curly hair", alpha=0.1)
    qtbot.waitUntil(lambda: shown_alpha(w) == 0.1, timeout=20000)
    frames0 = w.worker.frames
    slider = w.prompt_panel.alpha.slider
    slider.setSliderDown(True)
    values = np.linspace(-100, 100, 50).round().astype(int)
    for v in values:                                 # one mouse move every 2 ms
        slider.setValue(int(v))
        time.sleep(0.002)
        QApplication.processEvents()                  # results are shown between moves, as in a real drag
    slider.setSliderDown(False)                      # release: the final value
    last_alpha = values[-1] / w.prompt_panel.alpha.per_unit
    qtbot.waitUntil(lambda: not w.worker.busy() and shown_alpha(w) == last_alpha, timeout=20000)
    rendered = w.worker.frames - frames0
    print(f"50 slider values -> {rendered} frames rendered, {w.controller.discarded} stale results discarded")
    assert rendered <= 25, rendered                  # typically 4-8 here: far fewer than the 50 moves
    reference = renderer.render(**w.controller.render_args())["image"]
    assert np.array_equal(image_of(w), reference)
    assert len(w.controller.history._states) <= 4   # the drag is one undo step


def test_morph_recipe_heatmap_and_before_after(make_window, tmp_path):
    w = make_window()
    c = w.controller
    c.on_seed(7)
    b = image_of(w)
    w.actions.add_favorite("B")
    c.on_seed(3)
    a = image_of(w)
    w.actions.morph_towards(w.favorites_dock.ids()[0])          # opens at t = 0.5
    middle = image_of(w)
    assert c.result["args"]["morph"]["t"] == 0.5 and diff(middle, a) > 0 and diff(middle, b) > 0
    w.morph_panel.t_spin.setValue(1.0)
    assert np.array_equal(image_of(w), b)                       # W+ at t = 1 is face B
    w.morph_panel.enabled.setChecked(False)
    assert np.array_equal(image_of(w), a)
    # a recipe saved from one face applies to another
    set_prompt(w, "curly hair", alpha=5)
    w.prompt_panel.add_button.click()
    w.actions.save_recipe_to(tmp_path / "recipe.json")
    c.on_seed(11)
    w.edit_stack.delete_selected()
    plain = image_of(w)
    w.actions.apply_recipe_from(tmp_path / "recipe.json")
    assert [s.prompt for s in c.state.edits] == ["curly hair"] and diff(image_of(w), plain) > 0.5
    # heat map and before/after
    w.action_heat.trigger()
    heat = c.result["metadata"]["heatmap"]
    assert heat is not None and heat.max() > 0 and w.canvas._heat is not None
    w.action_before.trigger()
    assert w.canvas.compare == "before" and w.canvas._before is not None
    w.action_split.trigger()
    assert w.canvas.compare == "split" and not w.action_before.isChecked()


def test_gui_command_rejects_a_missing_model(capsys):
    from stylepaint.cli import main

    assert main(["gui", "--model", "/no/such/model.pkl"]) == 2
    assert "no such model file" in capsys.readouterr().err


def test_direction_build_runs_in_the_background_with_partial_results_and_cancel(qtbot, fixture_dir, tmp_path):
    from gui_support import TINY_CLIP

    from stylepaint.directions import BuildParams
    from stylepaint.engine.render import Renderer

    cfg = tmp_path / "tiny-clip.json"
    cfg.write_text(json.dumps(TINY_CLIP))
    renderer = Renderer(build_directions=False, direction_params=BuildParams(n_images=1, n_stats=100))
    worker = RenderWorker(render_fn=renderer.render)
    w = MainWindow(model=str(fixture_dir / "rosinality-32px.pt"), clip=f"{cfg}:random", worker=worker,
                   settings=Settings(tmp_path / "editor.json"), store=FavoritesStore(tmp_path / "favorites"))
    qtbot.addWidget(w)
    try:
        qtbot.waitUntil(lambda: w.controller.result is not None, timeout=30000)
        plain = image_of(w)
        set_prompt(w, "curly hair", alpha=5)
        qtbot.waitUntil(lambda: "not built yet" in w.message_bar.label.text(), timeout=30000)
        assert w.message_bar.action_button.isVisibleTo(w) and np.array_equal(image_of(w), plain)
        w.message_bar.action_button.click()                        # "Build now"
        assert w.directions_job is not None and w.job_bar.isVisibleTo(w)
        qtbot.waitUntil(lambda: shown_alpha(w) == 5.0, timeout=60000)   # partial directions already edit
        assert diff(image_of(w), plain) > 0 and channel_count(w) > 0
        assert w.directions_job is not None                         # ... while the build goes on
        w.action_cancel.trigger()
        qtbot.waitUntil(lambda: w.directions_job is None, timeout=30000)
        assert w.job_bar.isHidden()
    finally:
        worker.stop()
