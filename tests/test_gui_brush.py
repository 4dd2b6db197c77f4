"""The region brush (issue 14, Brush): size, hardness, opacity, [ and ], and the quick-mask
overlay in a colour that stands out from the picture, with show/hide, invert, fill and clear;
the overlay is never drawn over the "before" half of the split view."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from stylepaint.gui.canvas import Canvas
from stylepaint.masks import OVERLAY_COLOURS, contrast_colour

pytestmark = pytest.mark.gui


def _canvas(qtbot, image):
    canvas = Canvas()
    qtbot.addWidget(canvas)
    canvas.resize(300, 300)
    canvas.set_image(image)
    return canvas


def _scribble(canvas, times=6):
    """Cross the middle of a 64 px image back and forth."""
    canvas.begin_stroke((20, 32))
    for _ in range(times):
        canvas.continue_stroke((20, 32), (44, 32))
        canvas.continue_stroke((44, 32), (20, 32))
    mask = canvas.mask.copy()
    canvas.end_stroke()
    return mask


def test_opacity_caps_a_stroke_and_hardness_sharpens_its_edge(qtbot):
    canvas = _canvas(qtbot, np.full((64, 64, 3), 128, np.uint8))
    canvas.set_tool("brush")
    canvas.set_brush(0.15, 0.5, 0.4)
    half = _scribble(canvas)
    assert 0.38 <= half.max() <= 0.4 + 1e-6              # however often the stroke crosses itself
    again = _scribble(canvas)                            # a second stroke adds 40 % of what is left
    assert again.max() == pytest.approx(0.4 + 0.6 * 0.4, abs=0.02)
    canvas.set_mask(None)
    canvas.set_brush(0.15, 0.0, 1.0)
    soft = _scribble(canvas, 1)
    canvas.set_mask(None)
    canvas.set_brush(0.15, 0.95, 1.0)
    hard = _scribble(canvas, 1)
    edge = lambda m: int(((m > 0.05) & (m < 0.95)).sum())   # pixels part-way painted
    assert hard.max() == pytest.approx(1.0) and edge(hard) < 0.5 * edge(soft)
    canvas.set_tool("eraser")
    canvas.set_brush(0.15, 0.95, 0.5)
    erased = _scribble(canvas, 1)
    assert erased.max() == pytest.approx(0.5, abs=0.02)  # half erased, not gone


def test_overlay_colour_stands_out_from_the_picture(qtbot):
    red = np.zeros((64, 64, 3), np.uint8)
    red[..., 0] = 250
    cyan = np.zeros((64, 64, 3), np.uint8)
    cyan[..., 1:] = 220
    for image in (red, cyan):
        colour = np.array(_canvas(qtbot, image).overlay_colour, np.float32)
        nearest = min(np.linalg.norm(np.float32(c) - image[0, 0]) for c in OVERLAY_COLOURS)
        assert np.linalg.norm(colour - image[0, 0]) > 250 > nearest   # not the candidate nearest the picture
    assert contrast_colour(red) != contrast_colour(cyan)


def test_overlay_is_never_drawn_over_the_before_half(qtbot):
    grey = np.full((64, 64, 3), 128, np.uint8)
    canvas = _canvas(qtbot, grey)
    canvas.set_before(grey)
    canvas.set_mask(np.ones((64, 64), np.float32))
    canvas.set_compare("split")
    shot = canvas.grab().toImage()
    r = canvas.image_rect()
    y = int(r.center().y())
    left, right = shot.pixelColor(int(r.x() + r.width() * 0.25), y), shot.pixelColor(int(r.x() + r.width() * 0.75), y)
    assert (left.red(), left.green(), left.blue()) == (128, 128, 128)      # before: untouched
    assert (right.red(), right.green(), right.blue()) != (128, 128, 128)   # after: the overlay
    canvas.set_compare("before")
    shot = canvas.grab().toImage()
    right = shot.pixelColor(int(r.x() + r.width() * 0.75), y)
    assert (right.red(), right.green(), right.blue()) == (128, 128, 128)
    canvas.set_compare("off")
    canvas.set_overlay(False)                            # the toggle
    right = canvas.grab().toImage().pixelColor(int(r.x() + r.width() * 0.75), y)
    assert (right.red(), right.green(), right.blue()) == (128, 128, 128)


def test_brackets_resize_the_brush_and_the_panel_follows_but_not_in_a_text_field(window, qtbot):
    w = window
    w.show()
    w.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is w, timeout=5000)   # shortcuts need it
    start = w.canvas.brush_radius
    assert not w.docks["brush"].visibleRegion().boundingRect().width()   # a tab behind Blend ...
    w.action_tools["brush"].trigger()
    assert w.docks["brush"].visibleRegion().boundingRect().width() > 0   # ... brought forward by the brush
    w.canvas.setFocus()
    qtbot.keyClick(w.canvas, Qt.Key.Key_BracketRight)
    assert w.canvas.brush_radius == pytest.approx(start * 1.25)
    assert w.brush_panel.brush()[0] == pytest.approx(start * 1.25, abs=0.001)
    qtbot.keyClick(w.canvas, Qt.Key.Key_BracketLeft)
    qtbot.keyClick(w.canvas, Qt.Key.Key_BracketLeft)
    assert w.canvas.brush_radius == pytest.approx(start / 1.25)
    field = w.prompt_panel.target.lineEdit()
    field.setFocus()
    qtbot.keyClicks(field, "[x]")
    assert field.text().endswith("[x]") and w.canvas.brush_radius == pytest.approx(start / 1.25)
    w.brush_panel.opacity.setValue(30)                   # panel -> canvas
    assert w.canvas.brush_opacity == pytest.approx(0.3)
    w.canvas.setFocus()
    qtbot.keyClick(w.canvas, Qt.Key.Key_Q)               # quick-mask overlay off and on
    assert not w.canvas.show_mask and not w.brush_panel.overlay.isChecked()
    w.brush_panel.overlay.click()
    assert w.canvas.show_mask and w.action_overlay.isChecked()


def test_invert_fill_and_clear_change_the_selected_edits_region_undoably(window):
    from gui_support import set_prompt

    w = window
    c = w.controller
    set_prompt(w, "curly hair", alpha=6)
    w.canvas.set_tool("brush")
    w.canvas.set_brush(0.1, 0.5, 1.0)
    _scribble(w.canvas, 1)
    key = c.state.current_edit.mask
    painted = c.state.masks[key].copy()
    assert 0 < painted.mean() < 0.5
    w.brush_panel.buttons["invert"].click()
    assert np.allclose(c.state.masks[key], 1 - painted, atol=1 / 255)
    assert np.allclose(w.canvas.mask, 1 - painted, atol=1 / 255)
    w.brush_panel.buttons["fill"].click()
    assert c.state.masks[key].min() == 1.0
    w.brush_panel.buttons["clear"].click()
    assert key not in c.state.masks and c.state.current_edit.mask is None
    c.undo()
    c.undo()
    assert np.allclose(c.state.masks[key], 1 - painted, atol=1 / 255)
