"""Small guards of issue 14, item 12: a single click on a favorite only selects it, and "Add
edit" without a model says why instead of stacking an edit nothing can show."""

from __future__ import annotations

import numpy as np
import pytest
from gui_support import image_of, set_prompt
from PySide6.QtCore import Qt

pytestmark = pytest.mark.gui


def test_a_single_click_on_a_favorite_does_not_replace_the_work(window, qtbot):
    w = window
    w.controller.on_seed(7)
    w.actions.add_favorite("B")
    w.controller.on_seed(3)
    set_prompt(w, "curly hair", alpha=4)
    work = w.controller.state
    shown = image_of(w)
    w.show()
    item = w.favorites_dock.list.item(0)
    rect = w.favorites_dock.list.visualItemRect(item)
    qtbot.mouseClick(w.favorites_dock.list.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert w.controller.state is work and np.array_equal(image_of(w), shown)
    qtbot.mouseDClick(w.favorites_dock.list.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert w.controller.state.seed == 7                   # a double-click restores
    w.controller.undo()
    assert np.array_equal(image_of(w), shown)             # ... and undo brings the work back


def test_add_edit_without_a_model_says_why(qtbot, engine, tmp_path, monkeypatch):
    from gui_support import open_window

    w = open_window(qtbot, engine, tmp_path / "missing.pkl", tmp_path)
    assert w.controller.result is None
    set_prompt(w, "curly hair", alpha=3)
    w.prompt_panel.add_button.click()
    assert w.controller.state.edits == () and "Open a model first" in w.message_bar.text()
    w.worker.stop()


def test_a_prompt_close_to_the_neutral_text_gets_a_gentle_word(window, engine):
    """Item 12: a prompt that CLIP can hardly tell from the neutral text ("a face" against the
    default "face": cosine 0.98 for the test CLIP) is not taken silently; a plain one is."""
    renderer, spec = engine
    w = window
    panel = w.prompt_panel
    set_prompt(w, "old man", alpha=4)
    assert panel.feedback.isHidden() and not panel.feedback.text()
    set_prompt(w, "a face", alpha=4)
    checks = w.controller.result["metadata"]["prompt_checks"]
    assert [c["prompt"] for c in checks] == ["a face"] and checks[0]["near_neutral"]
    assert not panel.feedback.isHidden() and "almost the same as “face”" in panel.feedback.text()
    assert not w.message_bar.text()                       # gentle: the panel says it, no alarm
    set_prompt(w, "old man", alpha=4)
    assert not panel.feedback.text()
    # the figure is the engine's, for any caller: the CLI and tests read the same metadata
    meta = renderer.render(model=w.controller.state.model, clip=spec, seed=1,
                           edits=[{"prompt": "a face", "alpha": 2}, {"prompt": "old man", "alpha": 2}])["metadata"]
    near = {c["prompt"]: (c["near_neutral"], c["similarity"]) for c in meta["prompt_checks"]}
    assert near["a face"][0] and not near["old man"][0] and near["a face"][1] > near["old man"][1]

