"""Long jobs seen from the window: start them on the worker with progress and cancel in the
status bar, run a callback when they finish, show failures as messages. Also the text
direction build, whose partial results make edits work while it runs, and the full-size
photo export (numpy/OpenCV only: the edited render pasted back into the opened photo)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject

from stylepaint.errors import InputError
from stylepaint import imagefiles as export
from stylepaint.gui.worker import build_directions_job


def export_photo_job(path, photo_path, alignment: dict, image: np.ndarray, metadata: dict | None = None,
                     fmt: str = "png", quality: int = 92):
    """Job generator: paste the edited render ``image`` back into the photo at ``photo_path``
    through the kept ``alignment`` (``Alignment.to_dict()``) and write the full-size picture
    (``fmt``: one of ``imagefiles.FORMATS``)."""
    from stylepaint.inversion.alignment import Alignment
    from stylepaint.inversion.imageio import load_photo
    from stylepaint.inversion.pasteback import paste_back

    name = Path(path).name
    yield {"done": 0, "total": 4, "message": f"Reading {Path(photo_path).name}"}
    photo = load_photo(photo_path)
    kept = Alignment.from_dict(alignment)
    if photo.size != tuple(kept.photo_size):
        raise InputError(f"{photo.name} is now {photo.size[0]}x{photo.size[1]}, not the "
                         f"{kept.photo_size[0]}x{kept.photo_size[1]} it was when opened: open the photo again")
    yield {"done": 1, "total": 4, "message": f"Pasting the face back into {photo.name}"}
    full = paste_back(photo.pixels, np.asarray(image), kept)
    yield {"done": 2, "total": 4, "message": f"Encoding {name}"}
    data = export.image_bytes(full, metadata, 1, fmt, quality)
    yield {"done": 3, "total": 4, "message": f"Writing {name}"}
    return str(export.write_file(path, data))


class Jobs(QObject):
    def __init__(self, window, worker, job_bar):
        super().__init__(window)
        self.w = window
        self.worker = worker
        self.bar = job_bar
        self._jobs: dict[int, tuple] = {}          # id -> (message, on_done)
        self.directions_job: int | None = None
        worker.job_progress.connect(self._progress)
        worker.job_finished.connect(self._finished)
        worker.job_failed.connect(self._failed)
        job_bar.cancel_requested.connect(worker.cancel_job)

    def run(self, fn, message: str, *args, on_done=None, **kwargs) -> int:
        """Start ``fn(*args, **kwargs)`` (a generator function) on the worker; ``on_done(value)``
        runs when it finishes. The callback is registered first, so synchronous workers work too."""
        job_id = self.worker.new_job_id()
        self._jobs[job_id] = (message, on_done)
        self.bar.start(job_id, message)
        self.worker.run_job_as(job_id, fn, args, kwargs)
        return job_id

    def cancel_current(self) -> None:
        if self.bar.job_id is not None:
            self.worker.cancel_job(self.bar.job_id)

    def build_directions(self) -> None:
        if self.directions_job is not None:
            return
        s = self.w.controller.state
        self.directions_job = self.run(build_directions_job, "Building text directions", s.model, s.clip,
                                       self.w.settings["device"], on_done=self._directions_built)

    def _directions_built(self, value) -> None:
        self.directions_job = None
        self.w.show_message("Text directions are built.", "info")
        self.w.controller.render(force=True)

    def _progress(self, job_id: int, info: dict) -> None:
        self.bar.progress(job_id, info)
        if job_id in self.w.actions.photo_jobs and isinstance(info.get("preview"), np.ndarray):
            self.w.canvas.set_image(info["preview"])          # the inversion converging, live
        if job_id == self.directions_job and info.get("partial"):
            self.w.controller.render(force=True)             # edits now work on the finished layers

    def _finished(self, job_id: int, value) -> None:
        _, on_done = self._jobs.pop(job_id, (None, None))
        self.bar.finish(job_id)
        self.w.actions.photo_jobs.pop(job_id, None)
        if on_done is not None:
            on_done(value)

    def _failed(self, job_id: int, message: str) -> None:
        self._jobs.pop(job_id, None)
        self.bar.finish(job_id)
        self.w.actions.photo_jobs.pop(job_id, None)
        if job_id == self.directions_job:
            self.directions_job = None
            self.w.controller.render(force=True)
        if message == "cancelled":
            self.w.statusBar().showMessage("Cancelled.", 4000)
        else:
            self.w.show_message(message)
