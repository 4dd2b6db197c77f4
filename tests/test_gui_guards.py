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
