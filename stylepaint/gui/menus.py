"""The window's actions with their shortcuts, the menu bar and the toolbar."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import qtawesome as qta
from PySide6.QtGui import QAction, QActionGroup, QIcon, QKeySequence
from PySide6.QtWidgets import QMenu, QToolBar


def _action(w, text, icon, slot, shortcut=None, checkable=False, tip=None) -> QAction:
    action = QAction(qta.icon(icon) if icon else QIcon(), text, w)
    if shortcut:
        action.setShortcuts([QKeySequence(s) for s in ([shortcut] if isinstance(shortcut, str) else shortcut)])
    action.setCheckable(checkable)
    if tip or shortcut:
        keys = shortcut if isinstance(shortcut, str) else (shortcut or [""])[0]
        action.setToolTip(f"{tip or text.replace('…', '').replace('&', '')}" + (f" ({keys})" if keys else ""))
    action.triggered.connect(slot)
    w.addAction(action)
    return action


def build_actions(w) -> None:
    """Create the window's actions (as ``w.action_*``), menus and toolbar."""
    a, c, canvas = w.actions, w.controller, w.canvas
    w.action_undo = _action(w, "&Undo", "mdi6.undo", c.undo, "Ctrl+Z")
    w.action_redo = _action(w, "&Redo", "mdi6.redo", c.redo, ["Ctrl+Shift+Z", "Ctrl+Y"])
    w.action_export = _action(w, "&Export…", "mdi6.export", a.export, "Ctrl+E",
                              tip="Export as PNG, JPEG, WebP or TIFF, at 1×, 2× or 4×, the face or the edited photo")
    w.action_export_png = _action(w, "&Quick export PNG…", None, a.export_png, None, False,
                                  "Export a PNG at the size chosen under Export size, without the dialog")
    w.action_export_photo = _action(w, "Export edited p&hoto (full size)…", "mdi6.image-edit-outline", a.export_photo)
    w.action_export_photo.setEnabled(False)                 # the controller enables it for a face from a photo
    w.action_copy = _action(w, "&Copy picture", "mdi6.content-copy", a.copy_image, "Ctrl+Shift+C")
    w.action_save_latent = _action(w, "Save &latent…", "mdi6.content-save-outline", a.save_latent, "Ctrl+Shift+S")
    w.action_open_latent = _action(w, "Open l&atent…", "mdi6.file-upload-outline", a.open_latent, "Ctrl+L")
    w.action_open_photo = _action(w, "Open &photo…", "mdi6.image-search-outline", a.open_photo, "Ctrl+Shift+O")
    w.action_save_recipe = _action(w, "Save &recipe…", None, a.save_recipe)
    w.action_apply_recipe = _action(w, "&Apply recipe…", None, a.apply_recipe)
    w.action_import_favorite = _action(w, "&Import favorite…", None, a.import_favorite)
    w.action_quit = _action(w, "&Quit", "mdi6.exit-to-app", w.close, "Ctrl+Q")
    d = w.documents
    w.action_new = _action(w, "&New document", "mdi6.file-outline", d.new, "Ctrl+N")
    w.action_open_document = _action(w, "&Open document…", "mdi6.folder-open-outline", d.open, "Ctrl+Alt+O")
    w.action_save = _action(w, "&Save document", "mdi6.content-save", d.save, "Ctrl+S")
    w.action_save_as = _action(w, "Save document &as…", "mdi6.content-save-edit-outline", d.save_as, "Ctrl+Alt+S")
    w.action_favorite = canvas.action_favorite
    w.action_favorite.setIcon(qta.icon("mdi6.heart-plus-outline"))
    w.addAction(w.action_favorite)
    w.action_fit = _action(w, "&Fit", "mdi6.fit-to-screen-outline", canvas.fit, "Ctrl+0")
    w.action_actual = _action(w, "&100%", "mdi6.magnify-expand", canvas.actual_size, "Ctrl+1")
    w.action_zoom_in = _action(w, "Zoom &in", "mdi6.magnify-plus-outline", lambda: canvas.zoom(1.25), ["Ctrl+=", "Ctrl++"])
    w.action_zoom_out = _action(w, "Zoom &out", "mdi6.magnify-minus-outline", lambda: canvas.zoom(0.8), "Ctrl+-")
    w.action_before = _action(w, "&Before / after", "mdi6.compare-horizontal", w._toggle_before, "\\", True,
                          "Show the picture before the edits")
    w.action_split = _action(w, "&Split view", "mdi6.arrow-split-vertical", w._toggle_split, "Ctrl+\\", True,
                         "Before on the left, after on the right; drag the line")
    w.action_heat = _action(w, "&Heat map", "mdi6.fire", w._toggle_heat, "H", True, "Show what changed")
    tools = QActionGroup(w)
    w.action_tools = {}
    for tool, icon, key, text in (("view", "mdi6.cursor-default-outline", "V", "Pan and zoom"),
                                  ("brush", "mdi6.brush", "B", "Brush: paint where the edit applies"),
                                  ("eraser", "mdi6.eraser", "E", "Eraser")):
        act = _action(w, text, icon, lambda _=False, t=tool: canvas.set_tool(t), key, True)
        tools.addAction(act)
        w.action_tools[tool] = act
    w.action_tools["view"].setChecked(True)
    w.action_clear_mask = _action(w, "Clear region", "mdi6.selection-off", c.clear_mask, None, False,
                              "Remove the painted region of the selected edit")
    w.action_brush_smaller = _action(w, "Smaller brush", None, lambda: canvas.resize_brush(1 / 1.25), "[")
    w.action_brush_larger = _action(w, "Larger brush", None, lambda: canvas.resize_brush(1.25), "]")
    w.action_overlay = _action(w, "Show &region overlay", "mdi6.eye-outline", w._toggle_overlay, "Q", True,
                               "Show the painted region in a colour that stands out from the picture")
    w.action_overlay.setChecked(canvas.show_mask)
    w.action_invert_mask = _action(w, "&Invert region", "mdi6.invert-colors", c.invert_mask, "Ctrl+Shift+I")
    w.action_fill_mask = _action(w, "&Fill region", "mdi6.format-color-fill", c.fill_mask, None, False,
                                 "The selected edit applies everywhere")
    w.action_cancel = _action(w, "Cancel job", None, w.jobs.cancel_current, "Esc")
    w.action_random = _action(w, "&Random face", "mdi6.dice-5-outline", c.on_random)
    canvas.extra_actions = [w.action_copy, w.action_export, w.action_export_photo, None, w.action_fit, w.action_actual]
    w.model_menu.action_models.setEnabled(importlib.util.find_spec("stylepaint.gui.models_dialog") is not None)

    bar = w.menuBar()
    m = bar.addMenu("&File")
    m.setToolTipsVisible(True)                              # say why "Export edited photo" is off
    for act in (w.action_new, w.action_open_document, w.action_save, w.action_save_as, None, w.action_open_photo, w.action_open_latent, None, w.action_export, w.action_export_png, w.action_export_photo, w.action_copy,
                w.action_save_latent, None, w.action_save_recipe, w.action_apply_recipe, w.action_import_favorite, None,
                w.action_quit):
        m.addSeparator() if act is None else m.addAction(act)
    sizes = m.addMenu("Export si&ze")
    group = QActionGroup(w)
    w.action_export_scale = {}
    for scale in (1, 2, 4):
        act = sizes.addAction(f"{scale}× (Lanczos)" if scale > 1 else "1× (full resolution)")
        act.setCheckable(True)
        act.setChecked(w.settings["export_scale"] == scale)
        act.triggered.connect(lambda _=False, k=scale: w.settings.__setitem__("export_scale", k))
        group.addAction(act)
        w.action_export_scale[scale] = act
    m.insertMenu(w.action_copy, sizes)
    w.recent_menu = QMenu("Open &recent", w)
    m.insertMenu(w.action_save, w.recent_menu)
    m = bar.addMenu("&Edit")
    for act in (w.action_undo, w.action_redo, None, w.action_favorite, w.action_random, None,
                w.action_tools["view"], w.action_tools["brush"], w.action_tools["eraser"], w.action_brush_smaller,
                w.action_brush_larger, None, w.action_overlay, w.action_invert_mask, w.action_fill_mask,
                w.action_clear_mask):
        m.addSeparator() if act is None else m.addAction(act)
    m = bar.addMenu("&View")
    for act in (w.action_fit, w.action_actual, w.action_zoom_in, w.action_zoom_out, None,
                w.action_before, w.action_split, w.action_heat, None):
        m.addSeparator() if act is None else m.addAction(act)
    for dock in w.docks.values():
        m.addAction(dock.toggleViewAction())
    bar.addMenu(w.model_menu)
    m = bar.addMenu("&Help")
    m.addAction("&About stylepaint", w._about)

    tb = QToolBar("Tools")
    tb.setObjectName("mainToolbar")
    tb.setMovable(False)
    for act in (w.action_undo, w.action_redo, None, w.action_random, None, w.action_tools["view"],
                w.action_tools["brush"], w.action_tools["eraser"], w.action_clear_mask, None,
                w.action_before, w.action_split, w.action_heat, None, w.action_fit, w.action_zoom_in,
                w.action_zoom_out, None, w.action_favorite, w.action_export):
        tb.addSeparator() if act is None else tb.addAction(act)
    w.addToolBar(tb)


def fill_recent(w, paths: list[str]) -> None:
    """File > Open recent: the documents saved or opened lately, newest first."""
    w.recent_menu.clear()
    for path in paths:
        act = w.recent_menu.addAction(Path(path).name)
        act.setToolTip(path)
        act.triggered.connect(lambda _=False, p=path: w.documents.may_discard() and w.documents.open_from(p))
    w.recent_menu.setEnabled(bool(paths))
