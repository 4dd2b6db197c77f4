"""Edit-stack layers (issue 14, Edit stack): each layer shows its α and a thumbnail, has an
opacity that reaches the render as a plain parameter of its step (replayable through
``edits.py``), and a History panel lists the undo stack."""

from __future__ import annotations

import numpy as np
import pytest
from gui_support import diff, image_of, set_prompt

from stylepaint.edits import EditStep, Recipe
from stylepaint.errors import InputError
from stylepaint.gui.edit_stack import _STRENGTH, THUMB, thumbnail

pytestmark = pytest.mark.gui


def test_opacity_is_a_plain_step_parameter():
    step = EditStep("curly hair", alpha=6.0, opacity=0.5)
    assert step.strength == 3.0 and step.to_dict()["opacity"] == 0.5
    assert "opacity" not in EditStep("curly hair", alpha=6.0).to_dict()   # default: older readers still cope
    assert Recipe.from_dict(Recipe([step]).to_dict()).steps == [step]
    for bad in (1.5, -0.1, float("nan"), "half"):
        with pytest.raises(InputError):
            EditStep("curly hair", opacity=bad)


def test_layer_opacity_reaches_the_render_and_replays_from_a_recipe(window, engine, tmp_path):
    renderer, spec = engine
    w = window
    c = w.controller
    set_prompt(w, "curly hair", alpha=6)
    w.prompt_panel.add_button.click()
    full = image_of(w)
    assert w.edit_stack.list.item(0).data(_STRENGTH) == "α +6.0"
    w.edit_stack.opacity.setValue(50)                     # the selected layer at 50 %
    s = c.state
    assert s.edits[0].opacity == 0.5 and s.edits[0].alpha == 6.0
    assert w.edit_stack.list.item(0).data(_STRENGTH) == "α +6.0 · 50%"
    half = image_of(w)
    assert diff(half, full) > 0.5
    args = dict(c.render_args(), edits=[EditStep("curly hair", alpha=3.0, beta=s.edits[0].beta).to_dict()])
    args.pop("preview_size", None)
    assert np.array_equal(renderer.render(**args)["image"], half)             # opacity 0.5 x α 6 = α 3
    w.actions.save_recipe_to(tmp_path / "r.json")
    replayed = Recipe.load(tmp_path / "r.json").steps
    assert replayed[0].opacity == 0.5
    args = dict(c.render_args(), edits=[st.to_dict() for st in replayed])
    args.pop("preview_size", None)
    assert np.array_equal(renderer.render(**args)["image"], half)
    w.edit_stack.opacity.setValue(0)
    assert np.array_equal(image_of(w), renderer.render(**dict(args, edits=[]))["image"])   # 0 % = hidden
    c.undo()
    assert c.state.edits[0].opacity == 0.5 and np.array_equal(image_of(w), half)


def test_each_layer_shows_its_alpha_and_a_thumbnail_of_where_it_acts(window):
    w = window
    set_prompt(w, "curly hair", alpha=6)
    w.prompt_panel.add_button.click()
    w.edit_stack.buttons["new"].click()                   # a fresh draft, not the kept layer
    set_prompt(w, "smiling", alpha=-3)
    w.canvas.set_tool("brush")
    w.canvas.begin_stroke((10, 10))
    w.canvas.continue_stroke((10, 10), (20, 20))
    w.canvas.end_stroke()
    w.prompt_panel.add_button.click()
    rows = [w.edit_stack.list.item(r) for r in range(w.edit_stack.list.count())]
    texts = [(r.text(), r.data(_STRENGTH)) for r in rows]
    assert texts == [("curly hair", "α +6.0"), ("smiling", "α -3.0")]
    assert all(not r.icon().isNull() for r in rows)
    image = image_of(w)
    mask = w.controller.state.masks[w.controller.state.edits[1].mask]
    region = thumbnail(image, mask, True)
    whole = thumbnail(image, None, True)
    assert region.shape == (THUMB, THUMB, 3)
    small = mask[(np.arange(THUMB) * mask.shape[0] // THUMB)][:, (np.arange(THUMB) * mask.shape[1] // THUMB)]
    assert (small >= 1.0).any() and (small == 0).any()
    assert np.array_equal(region[small >= 1.0], whole[small >= 1.0])         # inside its region: the picture
    assert (region[small == 0].astype(int) < whole[small == 0].astype(int) * 0.3 + 1).all()   # outside: dimmed
    hidden = thumbnail(image, None, False)
    assert np.ptp(hidden.astype(int), axis=2).max() == 0                   # a hidden layer is grey


def test_history_lists_the_undo_stack_and_goes_back_on_a_click(window, qtbot):
    from PySide6.QtCore import Qt

    w = window
    c = w.controller
    start = image_of(w)
    c.on_seed(11)
    set_prompt(w, "curly hair", alpha=5)
    w.prompt_panel.add_button.click()
    rows = w.history_panel.rows()
    assert rows[0] == "Start" and rows[1] == "Seed 11" and rows[-1] == "Add edit “curly hair”"
    assert any(r.startswith("α +5.0") or r.startswith("Prompt") for r in rows[2:-1])
    assert w.history_panel.list.currentRow() == len(rows) - 1
    c.undo()
    assert w.history_panel.list.currentRow() == len(rows) - 2 and w.history_panel.rows() == rows   # redo kept
    w.show()
    item = w.history_panel.list.item(0)
    qtbot.mouseClick(w.history_panel.list.viewport(), Qt.MouseButton.LeftButton,
                     pos=w.history_panel.list.visualItemRect(item).center())
    assert c.state.seed != 11 and np.array_equal(image_of(w), start)
    assert w.history_panel.list.currentRow() == 0 and w.history_panel.rows() == rows
    c.redo()
    assert c.state.seed == 11 and w.history_panel.list.currentRow() == 1
