"""How an edit layer is made (issue 17): global directions, the latent optimizer or a latent
mapper, picked in the prompt panel or a layer's right-click menu.

"directions" applies at once. "optimized" runs the optimizer for the current face as a job
(progress, previews on the canvas, cancel) and stores its StyleSpace Δ in the layer, so undo,
favorites, recipes and documents replay it without optimizing again. "mapper" reuses the
prompt's cached mapper or trains one (progress, cancel). "instruction" (issue 18) hands the text
to the universal mapper, which reads an instruction ("make the hair red", "take off the specs")
or a description: the layer is renamed to how it was understood ("hair colour → red") and keeps
the mapper's shift for this face, as an optimized layer keeps the optimizer's. Only a finished job changes the layer:
a cancelled or failed one leaves it as it was. Errors are one sentence in the message bar.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QObject

from stylepaint.edits import METHOD_LABELS, STORED, EditStep
from stylepaint.gui.engine_jobs import mapper_edit_job, optimize_edit_job, universal_edit_job

INSTRUCTION = "instruction"      # the layer stores the universal mapper's shift for this face

EMPTY_PROMPT = "Type what to change first: an edit needs a prompt before it can be optimized or mapped."


def _made_for(step: EditStep) -> tuple:
    """What a method's result belongs to: the prompt, its neutral text and layer group."""
    return step.prompt, step.neutral, step.layers


class EditMethods(QObject):
    def __init__(self, window, controller, worker):
        super().__init__(window)
        self.w, self.c = window, controller
        self.running: dict[int, tuple] = {}        # job id -> (layer index | None = draft, step, method)
        worker.job_progress.connect(self._progress)
        worker.job_failed.connect(self._failed)

    def request(self, index: int | None, method: str, target: tuple | None = None) -> int | None:
        """Make layer ``index`` (None: the edit the prompt panel shows) with ``method``; returns
        the job id when a job runs. ``target`` (group, value): for an instruction, the target the
        person chose instead of the reader's guess."""
        s = self.c.state
        if index is None:
            index = s.active if s.active is not None and 0 <= s.active < len(s.edits) else None
            step = s.current_edit
            if step is None and self.w.prompt_panel.current_step() is not None:
                self.c.on_edit(self.w.prompt_panel.current_step(), True)     # typed, not yet applied
                step = self.c.state.current_edit
        else:
            step = s.edits[index] if 0 <= index < len(s.edits) else None
        if step is None:
            self.w.show_message(EMPTY_PROMPT, "warning")
            return None
        if method == step.method and method not in STORED:   # a stored shift is made again for this face
            return None
        if method == "directions":
            self._apply(index, step, method="directions", delta=None)
            return None
        ws = ((self.c.result or {}).get("metadata") or {}).get("ws")
        if ws is None:
            self.w.show_message("Open a model first: an edit needs a face to change.", "warning")
            return None
        if any(_made_for(r[1]) == _made_for(step) and r[2] == method for r in self.running.values()):
            self.w.show_message(f"“{step.label}” is already being made with the {METHOD_LABELS[method]} method.", "info")
            return None
        s, settings = self.c.state, self.c.settings
        engine = (s.model, s.clip, settings["device"])
        request = (index, step, method)
        if method == INSTRUCTION:
            job = self.w.run_job(universal_edit_job, f"Reading “{step.prompt}”", *engine,
                                 np.asarray(ws, np.float32), step.prompt, target,
                                 on_done=lambda value: self._done(request, value))
        elif method == "optimize":
            job = self.w.run_job(optimize_edit_job, f"Optimizing “{step.label}”", *engine,
                                 np.asarray(ws, np.float32),        # the face's W+ as rendered, [num_ws, w_dim]
                                 step.prompt, step.neutral, step.layers, settings["optimize_steps"],
                                 on_done=lambda value: self._done(request, value))
        else:
            job = self.w.run_job(mapper_edit_job, f"Mapper for “{step.label}”", *engine, step.prompt, step.neutral,
                                 step.layers, settings["mapper_steps"], float(settings["mapper_minutes"]),
                                 on_done=lambda value: self._done(request, value))
        if not self.w.worker.sync:               # a synchronous worker has finished it already
            self.running[job] = request
        return job

    def _done(self, request: tuple, value) -> None:
        self.running = {j: r for j, r in self.running.items() if r is not request}
        index, step, method = request
        if self.c.model_meta.get("model_id") not in (None, value.get("model_id")):
            self.w.show_message("The model changed while the edit was being made; nothing was applied.", "warning")
            return
        if method == INSTRUCTION:
            if self._apply(index, step, method=INSTRUCTION, delta=value["delta"], name=value["name"]):
                if value.get("guess"):          # a word the reader hardly knows: say so, and what to do
                    where = index if index is not None else self.c.state.active
                    alt = value.get("alternative")
                    action = (f"Use {alt[2]}", lambda: self.request(where, INSTRUCTION, alt[:2])) if alt else None
                    other = "try the next reading or " if alt else ""
                    self.w.show_message(f"Read “{step.prompt}” as {value['reading']}: if that is not what you "
                                        f"meant, {other}undo and say it in other words.", "warning", action)
                else:
                    self.w.show_message(f"Read “{step.prompt}” as {value['kind']}: {value['name']}.", "info")
            return
        if self._apply(index, step, method=method, delta=value["delta"] if method == "optimize" else None) \
                and method == "mapper":
            self.w.show_message(f"Mapper for “{step.label}” " + ("trained and saved." if value.get("trained")
                                                                  else "found in the cache."), "info")

    def _apply(self, index: int | None, step: EditStep, **changes) -> bool:
        """Change the layer ``step`` was made from, unless its prompt changed meanwhile. A layer
        leaving global directions starts at α = 1: the optimizer's or mapper's result itself."""
        s = self.c.state
        if index is not None:
            current = s.edits[index] if 0 <= index < len(s.edits) else None
        else:
            current = s.draft if s.active is None else None
        if current is None or _made_for(current) != _made_for(step):
            self.w.show_message(f"The edit “{step.label}” changed while it was being made; nothing was applied.",
                                "warning")
            self.c.render(force=True)
            return False
        if current.method == "directions" and changes["method"] != "directions":
            changes["alpha"] = 1.0
        new = current.with_(**changes)
        if index is None:
            self.c.change(s.with_(draft=new))
        else:
            edits = list(s.edits)
            edits[index] = new
            self.c.change(s.with_(edits=tuple(edits)))
        return True

    def _progress(self, job: int, info: dict) -> None:
        if job in self.running and isinstance(info.get("preview"), np.ndarray):
            self.w.canvas.set_image(info["preview"])          # the optimizer converging, live

    def _failed(self, job: int, message: str) -> None:
        if self.running.pop(job, None) is not None:
            self.c.render(force=True)                          # a preview may be on the canvas: show the layer as it is
