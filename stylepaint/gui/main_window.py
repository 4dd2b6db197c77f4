"""The editor window: assembles the canvas, panels, docks, menus and status bar, and hands
every action to the controller (state, rendering) or to ``Actions`` (files)."""

from __future__ import annotations

from pathlib import Path

import qtawesome as qta
from PySide6.QtCore import QByteArray, Qt, QTimer
from PySide6.QtWidgets import (
    QApplication, QDockWidget, QGroupBox, QLabel, QMainWindow, QMessageBox, QScrollArea, QStackedWidget, QVBoxLayout, QWidget,
)

from stylepaint.errors import StylepaintError
from stylepaint.favorites import FavoritesStore
from stylepaint.gui.actions import Actions
from stylepaint.gui.blend_panel import BlendPanel
from stylepaint.gui.brush_panel import BrushPanel
from stylepaint.gui.canvas import Canvas
from stylepaint.gui.controller import Controller
from stylepaint.gui.edit_methods import EditMethods
from stylepaint.gui.edit_stack import EditStack
from stylepaint.gui.empty_state import EmptyState
from stylepaint.gui.face_panel import FacePanel, ModelMenu
from stylepaint.gui.face_search import FaceSearch
from stylepaint.gui.favorites_dock import FavoritesDock
from stylepaint.gui.history_panel import HistoryPanel
from stylepaint.gui.job_bar import JobBar
from stylepaint.gui.jobs import Jobs
from stylepaint.gui.documents import Documents
from stylepaint.gui.menus import build_actions, fill_recent
from stylepaint.gui.message_bar import MessageBar
from stylepaint.gui.morph_layers import MorphLayers
from stylepaint.gui.morph_panel import MorphPanel
from stylepaint.gui.prompt_panel import PromptPanel
from stylepaint.gui.settings import Settings
from stylepaint.editor_state import EditorState
from stylepaint.gui.tag_faces_panel import TagFacesPanel
from stylepaint.gui.text_keys import TextFieldKeys
from stylepaint.gui.worker import RenderWorker

def _dock(title: str, name: str, widget: QWidget, parent) -> QDockWidget:
    dock = QDockWidget(title, parent)
    dock.setObjectName(name)
    dock.setWidget(widget)
    return dock


def _vocabulary_groups() -> dict:
    """Group -> (label, value -> prompt, neutral text) of the portrait vocabulary (a data file):
    the prompt of red hair is "a portrait of a person with red hair", the neutral "a portrait of
    a person" (as ``benchmarks/bench_edit_success.py`` measures edits); {} when unreadable."""
    try:
        from stylepaint.portraits.vocabulary import load_spec, neutral_prompt, prompt

        return {g: (info.get("label", g), {v: prompt(g, v) for v in info["values"]}, neutral_prompt(g))
                for g, info in load_spec()["groups"].items()}
    except (ImportError, OSError, KeyError, ValueError, TypeError, AttributeError):
        return {}


def _scrolled(widget: QWidget) -> QScrollArea:
    scroll = QScrollArea()
    scroll.setWidget(widget)
    scroll.setWidgetResizable(True)
    scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    return scroll


def _group(title: str, widget: QWidget) -> QGroupBox:
    box = QGroupBox(title)
    QVBoxLayout(box).addWidget(widget)
    box.layout().setContentsMargins(4, 4, 4, 4)
    return box


class MainWindow(QMainWindow):
    def __init__(self, model: str | None = None, settings: Settings | None = None, worker: RenderWorker | None = None,
                 store: FavoritesStore | None = None, clip: str | None = None, reopen: bool = False):
        """``reopen``: a plain start, which reopens the last document (or the last model)."""
        super().__init__()
        self.setWindowTitle("stylepaint")
        self.setWindowIcon(qta.icon("mdi6.palette-outline"))
        self.setAcceptDrops(True)
        self.settings = settings or Settings()
        self.worker = worker or RenderWorker()
        self._own_worker = worker is None
        self.store = store or FavoritesStore()
        if model is None and reopen and self.settings["model"] and Path(self.settings["model"]).is_file():
            model = self.settings["model"]

        # widgets
        self.model_menu = ModelMenu(self)
        self.canvas = Canvas()
        self.brush_panel = BrushPanel()
        brush = (self.settings["brush_radius"], self.settings["brush_hardness"], self.settings["brush_opacity"])
        self.canvas.set_brush(*brush)
        self.brush_panel.set_brush(*brush)
        self.empty = EmptyState()
        self.message_bar = MessageBar()
        self.face_panel = FacePanel(self.model_menu)
        self.prompt_panel = PromptPanel()
        self.prompt_panel.set_default_beta(self.settings["beta"])
        self.prompt_panel.set_history(self.settings["prompt_history"])
        self.edit_stack = EditStack()
        self.history_panel = HistoryPanel()
        self.blend_panel = BlendPanel()
        self.morph_panel = MorphPanel()
        self.tag_faces_panel = TagFacesPanel()
        vocabulary = _vocabulary_groups()
        self.favorites_dock = FavoritesDock(self)
        self.job_bar = JobBar()
        self.stack = QStackedWidget()
        self.stack.addWidget(self.empty)
        self.stack.addWidget(self.canvas)
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(4, 4, 4, 0)
        layout.addWidget(self.stack, 1)
        self.setCentralWidget(central)
        self.message_bar.overlay_on(central)     # over the canvas: a message never moves it

        controls = QWidget()
        column = QVBoxLayout(controls)
        column.addWidget(_group("Face", self.face_panel))
        column.addWidget(_group("Prompt", self.prompt_panel))
        column.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidget(controls)
        scroll.setWidgetResizable(True)
        scroll.setMinimumWidth(250)              # the panels wrap and shrink: the canvas keeps the room (item 13)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.docks = {
            "controls": _dock("Face and prompt", "controlsDock", scroll, self),
            "stack": _dock("Edit stack", "stackDock", self.edit_stack, self),
            "blend": _dock("Blend two faces", "blendDock", self.blend_panel, self),
            "morph": _dock("Morph", "morphDock", _scrolled(self.morph_panel), self),
            "brush": _dock("Brush", "brushDock", self.brush_panel, self),
            "tags": _dock("Faces from tags", "tagFacesDock", _scrolled(self.tag_faces_panel), self),
            "history": _dock("History", "historyDock", self.history_panel, self),
            "favorites": self.favorites_dock,
        }
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, self.docks["controls"])
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.docks["stack"])
        self.tabifyDockWidget(self.docks["stack"], self.docks["history"])
        self.docks["stack"].raise_()
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.docks["blend"])
        self.tabifyDockWidget(self.docks["blend"], self.docks["morph"])
        self.tabifyDockWidget(self.docks["morph"], self.docks["brush"])
        self.tabifyDockWidget(self.docks["brush"], self.docks["tags"])
        self.docks["blend"].raise_()
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.favorites_dock)
        self._dock_sizes_pending = True      # the default proportions, once the window has its size

        self.status_render = QLabel()
        self.status_device = QLabel()
        self.status_model = QLabel()
        self.status_zoom = QLabel()
        self.status_zoom.setToolTip("Zoom: Ctrl+0 fits, Ctrl+1 is 100 %")
        for label in (self.status_render, self.status_device, self.status_model):
            label.setContentsMargins(8, 0, 8, 0)
            label.setMinimumWidth(90)
        self.statusBar().addPermanentWidget(self.job_bar)
        self.statusBar().addPermanentWidget(self.status_zoom)
        self.statusBar().addPermanentWidget(self.status_render)
        self.statusBar().addPermanentWidget(self.status_device)
        self.statusBar().addPermanentWidget(self.status_model)
        self._busy_timer = QTimer(self)
        self._busy_timer.setSingleShot(True)
        self._busy_timer.setInterval(400)
        self._busy_timer.timeout.connect(lambda: self.statusBar().showMessage("Rendering…"))

        # behaviour
        self.controller = Controller(self, self.worker, self.settings, EditorState(
            model=model, clip=clip or self.settings["clip"],
            seed=self.settings["seed"], truncation=self.settings["truncation"]))
        self.actions = Actions(self, self.controller, self.store)
        self.jobs = Jobs(self, self.worker, self.job_bar)
        self.edit_methods = EditMethods(self, self.controller, self.worker)
        self.face_search = FaceSearch(self, self.controller, self.tag_faces_panel,
                                      {g: (label, list(values)) for g, (label, values, _) in vocabulary.items()})
        self.morph_layers = MorphLayers(self, self.controller, self.morph_panel.attributes, vocabulary)
        self.documents = Documents(self, self.controller, self.settings)
        build_actions(self)
        self._text_keys = TextFieldKeys(self)
        QApplication.instance().installEventFilter(self._text_keys)
        self._connect()
        self.model_menu.set_recent(self.settings["recent_models"])
        self.actions.reload_favorites()
        for problem in self.settings.problems:
            self.show_message(problem, "warning")
        self._restore_layout()
        self.controller.refresh()
        self.show_loading()
        self.controller.render()
        self.set_recent_documents(self.settings["recent_documents"])
        self.documents.restore_on_start(reopen_last=reopen)

    # -- assembly ----------------------------------------------------------------------------------
    def _connect(self) -> None:
        c, a = self.controller, self.actions
        self.prompt_panel.edit_changed.connect(c.on_edit)
        self.prompt_panel.add_requested.connect(c.on_add_edit)
        self.edit_stack.steps_changed.connect(c.on_stack)
        self.edit_stack.selected.connect(c.on_select)
        self.edit_stack.opacity_changed.connect(c.on_layer_opacity)
        self.edit_stack.method_requested.connect(self.edit_methods.request)
        self.prompt_panel.method_requested.connect(lambda method: self.edit_methods.request(None, method))
        self.history_panel.go_to.connect(c.go_to)
        self.edit_stack.save_recipe_requested.connect(a.save_recipe)
        self.edit_stack.apply_recipe_requested.connect(a.apply_recipe)
        self.face_panel.seed_changed.connect(c.on_seed)
        self.face_panel.random_requested.connect(c.on_random)
        self.face_panel.truncation_changed.connect(c.on_truncation)
        self.face_panel.open_latent_requested.connect(a.open_latent)
        self.face_panel.open_photo_requested.connect(a.open_photo)
        self.model_menu.model_chosen.connect(c.on_model)
        self.model_menu.open_checkpoint_requested.connect(a.open_checkpoint)
        self.model_menu.models_dialog_requested.connect(self.open_models_dialog)
        self.empty.open_checkpoint.connect(a.open_checkpoint)
        self.empty.open_models.connect(self.open_models_dialog)
        self.canvas.add_favorite_requested.connect(a.add_favorite)
        self.canvas.mask_painted.connect(c.on_mask_painted)
        self.canvas.brush_changed.connect(self.brush_panel.set_brush)
        self.canvas.zoom_changed.connect(lambda percent: self.status_zoom.setText(f"{percent:.0f} %"))
        self.status_zoom.setText(f"{self.canvas.zoom_percent():.0f} %")
        self.brush_panel.brush_changed.connect(self.canvas.set_brush)
        self.brush_panel.overlay_toggled.connect(self._toggle_overlay)
        self.brush_panel.invert_requested.connect(c.invert_mask)
        self.brush_panel.fill_requested.connect(c.fill_mask)
        self.brush_panel.clear_requested.connect(c.clear_mask)
        for tool in ("brush", "eraser"):             # picking a brush brings its options forward
            self.action_tools[tool].triggered.connect(lambda _=False: self.show_panel("brush"))
        self.favorites_dock.restore_requested.connect(a.restore_favorite)
        self.favorites_dock.rename_requested.connect(a.rename_favorite)
        self.favorites_dock.delete_requested.connect(a.delete_favorite)
        self.favorites_dock.export_requested.connect(a.export_favorite)
        self.favorites_dock.morph_requested.connect(a.morph_towards)
        self.favorites_dock.blend_requested.connect(a.blend_with)
        self.blend_panel.blend_changed.connect(a.set_blend)
        self.blend_panel.snapshot_requested.connect(a.snapshot_for_blend)
        self.morph_panel.morph_changed.connect(a.set_morph)

    # -- view helpers used by the controller and actions ------------------------------------------
    def show_message(self, text: str, level: str = "error", action: tuple | None = None) -> None:
        self.message_bar.show_message(text, level, action)
        if level != "error":
            self.statusBar().showMessage(text, 5000)

    def set_busy(self, busy: bool) -> None:
        if busy:
            self._busy_timer.start()
        else:
            self._busy_timer.stop()
            if self.statusBar().currentMessage() == "Rendering…":
                self.statusBar().clearMessage()

    def show_loading(self) -> None:
        if self.controller.result is None:
            self.empty.loading()
            self.stack.setCurrentWidget(self.empty)

    def show_render_status(self, result: dict) -> None:
        meta = result.get("metadata") or {}
        ms = (result.get("timings") or {}).get("total_ms")
        preview = (result.get("args") or {}).get("preview_size")
        self.status_render.setText(f"{ms:.0f} ms" + (" (preview)" if preview else "") if ms is not None else "")
        self.status_device.setText(str(meta.get("device") or ""))
        self.stack.setCurrentWidget(self.canvas)

    def model_loaded(self, path: str | None, meta: dict) -> None:
        name = "Embedded default" if path is None else Path(path).name
        res = meta.get("resolution")
        self.face_panel.set_model_name(name, f"{path or 'embedded default'} · {res}px · id {meta.get('model_id')}")
        self.status_model.setText(f"{name} · {res}px")
        self.documents.show_title()
        self.settings["model"] = path
        if path is not None:
            self.settings.remember("recent_models", path)
            self.model_menu.set_recent(self.settings["recent_models"])
        vocabulary = None
        if path is None:
            try:
                from stylepaint.portraits.vocabulary import phrases
                vocabulary = {g: list(v.values()) for g, v in phrases().items()}
            except (ImportError, OSError, KeyError, ValueError):
                vocabulary = None
        self.prompt_panel.set_vocabulary(vocabulary)

    def no_model(self, message: str, embedded: bool) -> None:
        if embedded:
            detail = ("The embedded default model is not installed. Open a StyleGAN2 checkpoint "
                      "(.pkl, .pt, .safetensors), or get a published one with Models…")
        else:
            detail = f"{message}\nOpen another checkpoint, or pick one with Models…"
        self.empty.no_model(detail)
        self.stack.setCurrentWidget(self.empty)
        self.face_panel.set_model_name("No model")
        self.status_model.setText("no model")

    def set_recent_documents(self, paths: list[str]) -> None:
        fill_recent(self, paths)

    def show_panel(self, name: str) -> None:
        self.docks[name].show()
        self.docks[name].raise_()

    def run_job(self, fn, message: str, *args, on_done=None, **kwargs) -> int:
        return self.jobs.run(fn, message, *args, on_done=on_done, **kwargs)

    def build_directions(self) -> None:
        self.jobs.build_directions()

    @property
    def directions_job(self) -> int | None:
        return self.jobs.directions_job

    def _toggle_before(self, on: bool) -> None:
        self.action_split.setChecked(False)
        self.canvas.set_compare("before" if on else "off")
        self.controller.render()

    def _toggle_split(self, on: bool) -> None:
        self.action_before.setChecked(False)
        self.canvas.set_compare("split" if on else "off")
        self.controller.render()

    def _toggle_overlay(self, on: bool) -> None:
        self.canvas.set_overlay(on)
        self.brush_panel.set_overlay(on)
        self.action_overlay.setChecked(on)

    def _toggle_heat(self, on: bool) -> None:
        self.canvas.show_heatmap = on
        self.controller.render()

    def open_models_dialog(self) -> None:
        try:
            from stylepaint.catalogue import ModelStore
            from stylepaint.gui.models_dialog import ModelsDialog

            store = ModelStore()
            dialog = ModelsDialog(store.rows(), store.download, store.remove, refresh=store.rows, parent=self)
        except ImportError:
            self.show_message("The model catalogue is not available in this version.", "warning")
            return
        except StylepaintError as exc:
            self.show_message(f"Cannot open the model catalogue: {exc}")
            return
        dialog.model_chosen.connect(self.controller.on_model)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.show()

    def _about(self) -> None:
        QMessageBox.about(self, "About stylepaint", "stylepaint: text-driven StyleGAN2 editing.\n"
                          "Type what you want, drag α and β, keep what you like.")

    # -- drag and drop -----------------------------------------------------------------------------
    def dragEnterEvent(self, event):
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event):
        for url in event.mimeData().urls()[:1]:
            self.actions.open_path(url.toLocalFile())

    # -- layout memory -----------------------------------------------------------------------------
    def _restore_layout(self) -> None:
        geometry, state = self.settings["window_geometry"], self.settings["window_state"]
        if geometry:
            self.restoreGeometry(QByteArray.fromBase64(geometry.encode()))
        else:
            self.resize(1320, 860)
        if state:
            self._dock_sizes_pending = not self.restoreState(QByteArray.fromBase64(state.encode()))

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self._dock_sizes_pending:         # Qt keeps dock proportions only once the window is laid out
            self._dock_sizes_pending = False
            QTimer.singleShot(0, self._default_dock_sizes)

    def _default_dock_sizes(self) -> None:
        """The first-run layout: the edit stack as tall as the blend/morph/brush tabs below it, so
        a stack of several edits shows without scrolling; favorites a strip at the bottom."""
        self.resizeDocks([self.favorites_dock], [170], Qt.Orientation.Vertical)
        self.resizeDocks([self.docks["controls"], self.docks["stack"]], [300, 250], Qt.Orientation.Horizontal)
        self.resizeDocks([self.docks["stack"], self.docks["blend"]], [1, 1], Qt.Orientation.Vertical)

    def save_settings(self) -> None:
        s = self.controller.state
        self.settings["window_geometry"] = bytes(self.saveGeometry().toBase64()).decode()
        self.settings["window_state"] = bytes(self.saveState().toBase64()).decode()
        self.settings["seed"] = int(s.seed)
        self.settings["truncation"] = float(min(max(s.truncation, 0.0), 2.0))
        self.settings["brush_radius"] = float(self.canvas.brush_radius)
        self.settings["brush_hardness"] = float(self.canvas.brush_hardness)
        self.settings["brush_opacity"] = float(self.canvas.brush_opacity)
        self.settings.save()

    def closeEvent(self, event):
        if not self.documents.may_discard():
            event.ignore()
            return
        self.save_settings()
        self.documents.timer.stop()                # no autosave from a closed window
        QApplication.instance().removeEventFilter(self._text_keys)
        if self._own_worker:
            self.worker.stop()
        super().closeEvent(event)
