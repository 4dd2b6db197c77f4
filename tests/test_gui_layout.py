"""Issue 14, items 12 (message bars must not move the canvas under the mouse) and 13 (at
1024×700 the left panel needs no horizontal scroll bar and the canvas keeps most of the window)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.gui


def _shown(w, qtbot, width, height):
    w.resize(width, height)
    w.show()
    qtbot.waitExposed(w)
    qtbot.wait(100)
    return w


def _canvas_rect(w):
    top_left = w.canvas.mapTo(w, w.canvas.rect().topLeft())
    return (top_left.x(), top_left.y(), w.canvas.width(), w.canvas.height())


def test_a_message_does_not_move_the_canvas(window, qtbot):
    w = _shown(window, qtbot, 1100, 760)
    before = _canvas_rect(w)
    w.show_message("A long problem that wraps over more than one line. " * 6, "error")
    qtbot.wait(50)
    assert w.message_bar.isVisible() and w.message_bar.height() > 0
    assert _canvas_rect(w) == before
    bar = w.message_bar.mapTo(w, w.message_bar.rect().topLeft())
    assert before[1] - 10 <= bar.y() <= before[1] + before[3] // 3      # it floats over the canvas top
    w.message_bar.clear()
    qtbot.wait(50)
    assert _canvas_rect(w) == before


def test_at_1024_by_700_the_controls_fit_and_the_canvas_keeps_room(window, qtbot):
    w = _shown(window, qtbot, 1024, 700)
    scroll = w.docks["controls"].widget()
    assert scroll.widget().minimumSizeHint().width() <= scroll.viewport().width()   # nothing cut, no scrolling
    assert scroll.horizontalScrollBar().maximum() == 0
    assert w.canvas.width() >= 0.42 * w.width() and w.canvas.height() >= 400


def test_the_first_layout_gives_the_edit_stack_room_for_several_layers(window, qtbot):
    w = _shown(window, qtbot, 1400, 900)
    stack, blend = w.docks["stack"], w.docks["blend"]
    qtbot.waitUntil(lambda: stack.height() >= 0.6 * blend.height(), timeout=2000)
    rows = w.edit_stack.list.viewport().height() // (40 + 8)
    assert rows >= 3, (stack.height(), blend.height())
    assert w.edit_stack.list.horizontalScrollBar().isHidden() or w.edit_stack.list.horizontalScrollBar().maximum() == 0
