"""Faces from tags seen from the window: the panel's search runs as a job on the worker
(``engine_jobs.tag_faces_job``), never on the GUI thread; a chosen face becomes the current
face (the edit stack stays, as with a new seed); a kept one becomes a favorite of its own. A
model that turns out to lack the portrait code hides the groups (free text only) until another
model opens."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QObject

from stylepaint.gui.engine_jobs import tag_faces_job
from stylepaint.editor_state import EditorState
from stylepaint.gui.tag_faces_panel import COUNT

STALE = "These faces were found on another model; find them again."
NO_GROUPS = "no attribute groups"              # what tag_faces says of a model without the portrait code


def tags_text(tags) -> str:
    return ", ".join(f"{g}={v}" for g, v in tags.items()) if isinstance(tags, dict) else ", ".join(tags)


class FaceSearch(QObject):
    def __init__(self, window, controller, panel, groups: dict | None = None):
        """``groups``: group -> (label, values) for the panel's combos."""
        super().__init__(window)
        self.w, self.c, self.panel = window, controller, panel
        self.groups, self.no_groups = groups, None    # the model found without the portrait code
        panel.set_groups(groups)
        controller.image_shown.connect(self._model_shown)
        self.found: dict | None = None           # ws, images, method, model_id, tags of the grid
        self.job: int | None = None               # the search running (None in it: a synchronous worker's)
        self.searching = False
        panel.search_requested.connect(self.search)
        panel.face_chosen.connect(self.use)
        panel.favorite_requested.connect(self.keep)
        window.worker.job_failed.connect(self._failed)

    def search(self, tags, seed: int = 0) -> int | None:
        if self.c.result is None:
            self.panel.set_busy(False, "Open a model first.")
            return None
        s = self.c.state
        self.panel.set_busy(True)
        self.searching, self.job = True, None
        job = self.w.run_job(tag_faces_job, "Finding faces from tags", s.model, s.clip, self.c.settings["device"],
                             tags, COUNT, int(seed), float(s.truncation),
                             on_done=lambda value: self._found(tags, value))
        self.job = job if self.searching else None
        return job

    def _found(self, tags, value) -> None:
        self.searching, self.job = False, None
        self.found = dict(value, tags=tags)
        self.panel.set_faces(list(value["images"]), value["method"])

    def _failed(self, job: int, message: str) -> None:
        if self.searching and self.job in (None, job):     # the message bar shows the message (Jobs)
            self.searching, self.job = False, None
            self.panel.set_busy(False, "Cancelled." if message == "cancelled" else message)
            if NO_GROUPS in message:
                self.no_groups = self.c.model_meta.get("model_id")
                self.panel.set_groups(None)

    def _model_shown(self, result) -> None:
        if self.no_groups is not None and self.c.model_meta.get("model_id") != self.no_groups:
            self.no_groups = None                # another model: it may have the portrait code
            self.panel.set_groups(self.groups)

    def _face(self, index: int):
        found = self.found
        if found is None or not 0 <= index < len(found["ws"]):
            return None
        if self.c.model_meta.get("model_id") not in (None, found["model_id"]):
            self.w.show_message(STALE, "warning")
            return None
        return np.asarray(found["ws"][index], np.float32)

    def use(self, index: int) -> None:
        ws = self._face(index)
        if ws is not None:
            self.c.change(self.c.state.with_(ws=ws))

    def keep(self, index: int):
        ws = self._face(index)
        if ws is None:
            return None
        s = self.c.state
        face = EditorState(model=s.model, clip=s.clip, ws=ws, truncation=s.truncation)
        state, arrays = face.to_favorite(ws=ws, model_id=self.found["model_id"])
        return self.w.actions.keep_favorite(f"{tags_text(self.found['tags'])} #{index + 1}", state, arrays,
                                            self.found["images"][index])
