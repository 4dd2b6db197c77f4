"""The window's document: save, open, autosave, restore after a crash, ask before losing work.

The document is the editor state in the favorites' form (``EditorState.to_favorite``) written
by ``stylepaint.document``. Every change restarts a short autosave timer; the autosave file
lives in the user data folder and is removed when the work is saved or knowingly discarded, so
finding it at start-up means the last session ended without either (a crash, a kill, or a
window closed where nobody could be asked) and its work is restored.
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QObject, QTimer

from stylepaint import paths
from stylepaint.document import SUFFIX, load_document, save_document
from stylepaint.errors import InputError, StylepaintError
from stylepaint.gui import file_dialogs as dialogs
from stylepaint.gui import unsaved_dialog
from stylepaint.editor_state import EditorState

FILTER = f"stylepaint documents (*{SUFFIX});;All files (*)"
AUTOSAVE_MS = 2000


def autosave_path() -> Path:
    return paths.user_data_dir() / f"autosave{SUFFIX}"


class Documents(QObject):
    def __init__(self, window, controller, settings):
        super().__init__(window)
        self.w, self.c, self.settings = window, controller, settings
        self.path: Path | None = None
        self.autosave_file = autosave_path()       # fixed at start: the user data folder of this session
        self._clean = controller.state.key()
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setInterval(AUTOSAVE_MS)
        self.timer.timeout.connect(self.autosave)
        controller.state_changed.connect(self._changed)

    # -- state ---------------------------------------------------------------------------------
    @property
    def dirty(self) -> bool:
        return self.c.state.key() != self._clean

    def _changed(self, _state) -> None:
        self.show_title()
        if self.dirty:
            self.timer.start()

    def show_title(self) -> None:
        name = self.path.name if self.path else "Untitled"
        model = self.w.status_model.text().split(" · ")[0]
        self.w.setWindowTitle(f"{'• ' if self.dirty else ''}{name}{f' — {model}' if model else ''} — stylepaint")

    def form(self) -> tuple[dict, dict]:
        """The current work as (state, arrays), with the shifts of the picture on the canvas pinned."""
        return self._form()

    def _form(self) -> tuple[dict, dict]:
        meta = (self.c.full_result or {}).get("metadata") or {}
        state, arrays = self.c.state.to_favorite(model_id=self.c.model_meta.get("model_id"), shifts=meta.get("shifts"))
        return state, arrays

    def _preview(self):
        return (self.c.full_result or {}).get("image")

    def _set_clean(self, path: Path | None) -> None:
        self.path = path
        self._clean = self.c.state.key()
        self.timer.stop()
        _remove(self.autosave_file)
        if path is not None:
            self.settings.remember("recent_documents", str(path))
            self.settings["last_document"] = str(path)
            self.settings.save()
            self.w.set_recent_documents(self.settings["recent_documents"])
        self.show_title()

    # -- save ------------------------------------------------------------------------------------
    def save(self) -> bool:
        return self.save_as() if self.path is None else self.save_to(self.path)

    def save_as(self) -> bool:
        start = self.path or Path(self.settings["export_dir"] or Path.home()) / f"untitled{SUFFIX}"
        path = dialogs.save_path(self.w, "Save document", str(start), FILTER)
        return bool(path) and self.save_to(path)

    def save_to(self, path) -> bool:
        path = Path(path)
        if path.suffix != SUFFIX:
            path = path.with_name(path.name + SUFFIX)
        try:
            state, arrays = self._form()
            save_document(path, state, arrays, self._preview())
        except StylepaintError as exc:
            self.w.show_message(str(exc))
            return False
        self._set_clean(path)
        self.w.show_message(f"Saved {path.name}.", "info")
        return True

    def autosave(self) -> None:
        """Write the work to the autosave file (never over the user's own document)."""
        if not self.dirty:
            return
        try:
            state, arrays = self._form()
            state["document_path"] = str(self.path) if self.path else None
            save_document(self.autosave_file, state, arrays)
        except StylepaintError as exc:
            self.w.statusBar().showMessage(f"Autosave failed: {exc}", 5000)

    # -- open ------------------------------------------------------------------------------------
    def open(self) -> None:
        if not self.may_discard():
            return
        path = dialogs.open_path(self.w, "Open document", "", FILTER)
        if path:
            self.open_from(path)

    def open_from(self, path) -> bool:
        try:
            self._load(load_document(path))
        except StylepaintError as exc:
            self.w.show_message(str(exc))
            return False
        self._set_clean(Path(path))
        self.w.show_message(f"Opened {Path(path).name}.", "info")
        return True

    def _load(self, document: tuple[dict, dict]) -> EditorState:
        state = EditorState.from_favorite(*document)
        if state.model is not None and not Path(state.model).is_file():
            raise InputError(f"this document was made with {state.model}, which is no longer there")
        self.c.history.reset(state)
        self.c.refresh()
        self.c.render()
        return state

    def new(self) -> None:
        if self.may_discard():
            s = self.c.state
            self.c.history.reset(EditorState(model=s.model, clip=s.clip, seed=s.seed, truncation=s.truncation))
            self.c.refresh()
            self.c.render()
            self._set_clean(None)

    def restore_on_start(self, reopen_last: bool) -> None:
        """After a crash: the autosave; else, on a plain start, the last document."""
        saved = self.autosave_file
        if saved.is_file():
            try:
                state, arrays = load_document(saved)
                self._load((state, arrays))
            except StylepaintError as exc:
                self.w.show_message(f"The work of the last session could not be restored: {exc}")
                return
            kept = state.get("document_path")
            self.path = Path(kept) if kept else None
            self._clean = None                      # restored work is unsaved work
            self.show_title()
            self.w.show_message("Restored the unsaved work of the last session.", "info")
            return
        last = self.settings["last_document"]
        if reopen_last and last and Path(last).is_file():
            self.open_from(last)

    # -- leaving -----------------------------------------------------------------------------------
    def may_discard(self) -> bool:
        """Ask about unsaved work; True when it may go (saved, or discarded knowingly)."""
        if not self.dirty:
            return True
        if not self.w.isVisible():                  # nobody to ask: keep it for the next start
            self.autosave()
            self.timer.stop()
            return True
        answer = unsaved_dialog.ask(self.w, self.path.name if self.path else "Untitled")
        if answer == "save":
            return self.save()                      # saving stops the timer
        if answer == "discard":
            _remove(self.autosave_file)
            self._clean = self.c.state.key()
            return True
        return False


def _remove(path: Path) -> None:
    try:
        os.remove(path)
    except OSError:
        pass
