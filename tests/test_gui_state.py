"""Editor state, undo history, settings, masks and export - plain data, no window."""

from __future__ import annotations

import json

import numpy as np
import pytest

from stylepaint.edits import EditStep
from stylepaint.errors import InputError, StylepaintError
from stylepaint import imagefiles as export
from stylepaint import masks
from stylepaint.gui.settings import DEFAULTS, Settings
from stylepaint.editor_state import EditorState, History


def test_render_args_apply_enabled_stack_then_draft():
    a, b = EditStep("curly hair", alpha=2), EditStep("smile", alpha=1, enabled=False)
    s = EditorState(edits=(a, b), draft=EditStep("old", alpha=-3))
    args = s.render_args()
    assert [e["prompt"] for e in args["edits"]] == ["curly hair", "old"]
    s2 = s.with_(active=0)                    # a stack layer selected: the draft is not applied
    assert [e["prompt"] for e in s2.render_args()["edits"]] == ["curly hair"]
    assert s2.current_edit is a
    s3 = s2.with_current_edit(a.with_(alpha=5))
    assert s3.edits[0].alpha == 5 and s2.edits[0].alpha == 2


def test_commit_draft_selects_new_layer():
    s = EditorState(draft=EditStep("curly hair", alpha=2)).commit_draft()
    assert len(s.edits) == 1 and s.active == 0 and s.draft is None


def test_region_masks_only_sent_when_used():
    m = np.zeros((8, 8), np.float32)
    s = EditorState(edits=(EditStep("x", alpha=1, mask="region1"),), masks={"region1": m, "old": m})
    assert set(s.render_args()["masks"]) == {"region1"}


def test_blend_args_and_masks():
    s = EditorState(blend={"ws_b": np.zeros((4, 2)), "mode": "left-right", "feather": 0.0, "from_layer": None})
    mask = s.render_args(size=16)["blend"]["mask"]
    assert mask.shape == (16, 16) and mask[:, :8].max() == 0 and mask[:, 8:].min() == 1
    tb = masks.top_bottom(10, 6, 0.2)
    assert tb[0].max() == 0 and tb[-1].min() == 1 and 0 < tb[5, 0] < 1
    painted = EditorState(blend={"ws_b": np.zeros((4, 2)), "mode": "painted", "feather": 0.1})
    assert painted.render_args()["blend"] is None            # nothing painted yet: no blend


def test_history_push_amend_undo_redo():
    h = History(EditorState(seed=1))
    assert not h.push(EditorState(seed=1))                    # equal state: no new step
    h.push(EditorState(seed=2))
    h.push(EditorState(seed=3))
    h.amend(EditorState(seed=4))                              # a drag amends its step
    assert h.undo().seed == 2 and h.undo().seed == 1 and not h.can_undo()
    assert h.redo().seed == 2
    h.push(EditorState(seed=9))                               # a new step drops the redo branch
    assert not h.can_redo() and h.undo().seed == 2


def test_state_key_compares_arrays_by_content():
    a = EditorState(ws=np.ones((2, 2)))
    assert a.key() == EditorState(ws=np.ones((2, 2))).key()
    assert a.key() != EditorState(ws=np.zeros((2, 2))).key()


def test_favorite_round_trip():
    m = masks.left_right(8, 8)
    s = EditorState(model="/m.pkl", seed=5, truncation=0.5, edits=(EditStep("x", alpha=1, mask="r"),),
                    draft=EditStep("y"), masks={"r": m})
    state, arrays = s.to_favorite(ws=np.ones((3, 4)), model_id="abc")
    json.dumps(state)
    back = EditorState.from_favorite(state, arrays)
    assert back.edits == s.edits and back.draft == s.draft and back.seed == 5 and back.model == "/m.pkl"
    np.testing.assert_array_equal(back.masks["r"], m)
    np.testing.assert_array_equal(back.ws, np.ones((3, 4)))


def test_settings_validate_and_redirect(tmp_path):
    path = tmp_path / "s.json"
    path.write_text(json.dumps({"truncation": "high", "seed": 7, "device": "tpu", "recent_models": ["a"]}))
    s = Settings(path)
    assert s["truncation"] == DEFAULTS["truncation"][0] and s["seed"] == 7 and s["device"] == "auto"
    with pytest.raises(ValueError):
        s["export_scale"] = 3
    s.remember("recent_models", "b")
    s.remember("recent_models", "a")
    assert s["recent_models"] == ["a", "b"]
    assert s.save()
    assert Settings(path)["recent_models"] == ["a", "b"]
    path.write_text("{not json")
    assert Settings(path)["seed"] == 0


def test_brush_stroke_paints_and_erases():
    m = np.zeros((32, 32), np.float32)
    masks.stroke(m, (4, 16), (28, 16), 3)
    assert m[16, 16] == pytest.approx(1) and m[2, 16] == 0
    masks.stroke(m, (16, 10), (16, 22), 4, value=0.0)
    assert m[16, 16] == 0 and m[16, 6] > 0.9


def test_png_export_metadata_and_scale(tmp_path):
    img = (np.random.default_rng(0).random((16, 16, 3)) * 255).astype(np.uint8)
    path = export.save_png(tmp_path / "a.png", img, {"model": "m", "edits": [{"prompt": "x"}]}, scale=2)
    meta = export.read_png_metadata(path)
    assert meta["model"] == "m" and json.loads(meta["edits"]) == [{"prompt": "x"}]
    from PIL import Image
    assert Image.open(path).size == (32, 32)
    with pytest.raises(StylepaintError, match="does not exist"):
        export.save_png(tmp_path / "no" / "dir" / "a.png", img)
    with pytest.raises(InputError):
        export.png_bytes(img, scale=3)


def test_latent_round_trip_and_bad_files(tmp_path):
    ws = np.arange(12, dtype=np.float32).reshape(3, 4)
    export.save_latent(tmp_path / "f.npz", ws, {"seed": 3})
    back, meta = export.load_latent(tmp_path / "f.npz")
    np.testing.assert_array_equal(back, ws)
    assert meta == {"seed": 3}
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(InputError):
        export.load_latent(tmp_path / "bad.npz")
    np.savez(tmp_path / "other.npz", x=np.zeros(3))
    with pytest.raises(InputError, match="no 'ws'"):
        export.load_latent(tmp_path / "other.npz")


def test_edit_stack_widget_reorders_renames_and_toggles(qtbot):
    from PySide6.QtCore import QModelIndex, Qt

    from stylepaint.gui.edit_stack import EditStack

    stack = EditStack()
    qtbot.addWidget(stack)
    steps = [EditStep("curly hair", alpha=2), EditStep("smile", alpha=1), EditStep("old", alpha=3)]
    stack.set_steps(steps, 0)
    got = []
    stack.steps_changed.connect(lambda s, active: got.append(([x.prompt for x in s], active)))
    stack.list.model().moveRow(QModelIndex(), 0, QModelIndex(), 3)        # drag the first to the end
    assert got[-1][0] == ["smile", "old", "curly hair"]
    stack.set_steps(steps, 1)
    stack.buttons["up"].click()
    assert got[-1] == (["smile", "curly hair", "old"], 0)
    stack.list.item(2).setText("wrinkles")
    assert got[-1][0] == ["curly hair", "smile", "old"]
    stack.list.item(0).setCheckState(Qt.CheckState.Unchecked)
    stack.set_steps(steps, 1)
    stack.delete_selected()
    assert got[-1] == (["curly hair", "old"], None)
    # a long name may be elided in the list: its tooltip says it whole, above the typed text
    named = EditStep("take off the full fringe", alpha=1, name="bangs → no, from a very long instruction")
    stack.set_steps([named], 0)
    tip = stack.list.item(0).toolTip().splitlines()
    assert tip[:2] == ["bangs → no, from a very long instruction", "take off the full fringe"]


def test_window_module_loads_without_torch():
    """The window appears at once: torch, CLIP and the engine load later, on the worker thread."""
    import subprocess
    import sys

    code = "import sys, stylepaint.gui.main_window; print(sorted(m for m in ('torch', 'open_clip') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         env={**__import__("os").environ, "QT_QPA_PLATFORM": "offscreen"})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_favorite_keeps_blend_morph_photo_and_pinned_shifts():
    """Issue 14, items 7 and 8: the saved form holds everything that re-creates the picture."""
    step = EditStep("smiling", alpha=2)
    shift = np.arange(6, dtype=np.float32)
    s = EditorState(seed=3, edits=(step,), masks={"blend": masks.top_bottom(8, 8)},
                    blend={"ws_b": np.full((2, 3), 0.5, np.float32), "mode": "painted", "feather": 0.1,
                           "from_layer": None, "label": "B", "edits_b": [EditStep("old").to_dict()],
                           "pinned_b": {EditStep("old").direction_key(): shift + 1}},
                    morph={"ws_b": np.zeros((2, 3), np.float32), "edits_b": [], "masks_b": {}, "pinned_b": {},
                           "t": 0.25, "space": "s", "label": "F", "favorite": "f1"},
                    photo={"path": "/p.png", "name": "p.png", "alignment": {"matrix": [[1, 0, 0], [0, 1, 0]]}})
    state, arrays = s.to_favorite(ws=np.ones((2, 3)), shifts={step.direction_key(): shift,
                                                             EditStep("unused").direction_key(): shift})
    json.dumps(state)
    back = EditorState.from_favorite(state, arrays)
    assert back.blend["mode"] == "painted" and back.blend["edits_b"] == s.blend["edits_b"]
    np.testing.assert_array_equal(back.blend["ws_b"], s.blend["ws_b"])
    np.testing.assert_array_equal(back.blend["pinned_b"][EditStep("old").direction_key()], shift + 1)
    assert back.morph["t"] == 0.25 and back.morph["space"] == "s" and back.photo == s.photo
    assert list(back.pinned) == [step.direction_key()]          # only the shifts its edits use
    np.testing.assert_array_equal(back.pinned[step.direction_key()], shift)
    assert back.with_(ws=None, photo=s.photo).key() == s.with_(pinned=back.pinned).key()
    assert back.render_args()["pinned"].keys() == {step.direction_key()}
