"""Attribute morphs kept as edit layers (issue 13): the Morph panel's attribute rows write
layers of the edit stack and read them back, so a morph is one more replayable ``EditStep``.

On a model whose mapping computes the portrait code (the embedded default) a morph is exact:
the face's own value is read off its W and the layer stores the StyleSpace shift that moves
that group's code slots to the target (``stylepaint.code_morph``; α = t, 1 at the slider's end).
On any other model, a morph of a group from value a to value b is the global direction from
a's prompt to b's ("a portrait of a person with brown hair" -> "... with red hair"; from the
group's neutral text, "a portrait of a person", while the face's value is unknown: the texts
the edit benchmark uses): StyleSpace directions move the picture smoothly and only along the
text's difference, so the rest of the face stays. The slider's t is
α / END_ALPHA (for a layer switched to the optimizer or a mapper, whose α = 1 is its result,
t is α itself). Any layer whose prompt is one of a group's prompts, from another of them or the
group's neutral text, is shown as that group's morph.
"""

from __future__ import annotations

import time

from PySide6.QtCore import QObject

from stylepaint.edits import EditStep
from stylepaint.gui.attribute_morph import UNKNOWN
from stylepaint.gui.engine_jobs import code_morph_job, read_face_job

END_ALPHA = 6.0       # α at the slider's right end (global directions)
STALE_JOB_S = 5.0     # an exact-morph job not done after this long is taken as failed and started again


def end_alpha(step: EditStep) -> float:
    return END_ALPHA if step.method == "directions" else 1.0


class MorphLayers(QObject):
    def __init__(self, window, controller, widget, groups: dict[str, tuple[str, dict[str, str], str]] | None):
        """``groups``: group -> (label, value -> prompt, neutral text)."""
        super().__init__(window)
        self.w, self.c, self.widget = window, controller, widget
        self.groups = groups or {}
        self._exact: dict[str, bool] = {}      # model id -> whether it morphs through the portrait code
        self._pending: dict[str, tuple] = {}    # group -> (target, t, final, from, started) while its exact morph is computed
        widget.set_groups({g: (label, list(prompts)) for g, (label, prompts, _) in self.groups.items()})
        widget.morph_changed.connect(self.on_morph)
        widget.read_requested.connect(self.read)
        controller.state_changed.connect(lambda state: widget.set_morphs(self.morphs(state.edits)))

    def match(self, step: EditStep) -> tuple[str, str | None, str] | None:
        """(group, from value | None, to value) when ``step`` is a morph of one group."""
        for group, (_, prompts, neutral) in self.groups.items():
            values = {p: v for v, p in prompts.items()}
            if step.prompt in values and (step.neutral == neutral or step.neutral in values):
                return group, values.get(step.neutral), values[step.prompt]
        return None

    def morphs(self, edits) -> dict[str, tuple[str | None, str, float]]:
        """Group -> (from, to, t) of the first morph layer of each group."""
        out = {}
        for step in edits:
            m = self.match(step)
            if m is not None and m[0] not in out:
                out[m[0]] = (m[1], m[2], step.alpha / end_alpha(step))
        return out

    def _index(self, edits, group: str) -> int | None:
        return next((i for i, s in enumerate(edits) if (self.match(s) or ("",))[0] == group), None)

    def on_morph(self, group: str, source, target, t: float, final: bool) -> None:
        s = self.c.state
        edits, i = list(s.edits), self._index(s.edits, group)
        if target is None:
            self._pending.pop(group, None)
            if i is not None:
                del edits[i]
                self.c.change(s.with_(edits=tuple(edits), active=None))
            return
        label, prompts, stem = self.groups[group]
        prompt = prompts[target]
        neutral = prompts[source] if source is not None and source != target else stem
        layer = edits[i] if i is not None else None
        if layer is not None and layer.prompt == prompt and (layer.neutral == neutral or layer.method != "directions"):
            edits[i] = layer.with_(alpha=round(t * end_alpha(layer), 4))
            self.c.change(s.with_(edits=tuple(edits)), drag_key=f"morph:{group}", final=final)
            return
        if self._exact.get(self.c.model_meta.get("model_id")) is not False:
            self._morph_exactly(group, source, target, t, final)
            return
        step = EditStep(prompt, neutral, alpha=round(t * END_ALPHA, 4), beta=float(self.c.settings["beta"]),
                        name=f"{label}: {source or UNKNOWN} → {target}")
        self._put(group, step, final)

    def _put(self, group: str, step: EditStep, final: bool) -> None:
        s = self.c.state
        edits, i = list(s.edits), self._index(s.edits, group)
        if i is None:
            edits.append(step)
        else:
            edits[i] = step
        self.c.change(s.with_(edits=tuple(edits)), drag_key=f"morph:{group}", final=final)

    def _morph_exactly(self, group: str, source, target: str, t: float, final: bool) -> None:
        """A model that computes the portrait code (the embedded default) morphs exactly: a job
        finds the face's own value and the StyleSpace shift to the target; while it runs (a few
        milliseconds) the slider's newest position is kept and applied when it is done."""
        running = self._pending.get(group)
        alive = running is not None and running[0] == target and time.monotonic() - running[4] < STALE_JOB_S
        self._pending[group] = (target, t, final, source, running[4] if alive else time.monotonic())
        if alive:
            return                                       # its job is still running (a failed one is started again)
        args = self.c.render_args(before=True)
        model_id = self.c.model_meta.get("model_id")

        def done(value) -> None:
            pending = self._pending.get(group)
            if pending is None or pending[0] != target:
                return                                   # cleared, or another target asked for meanwhile
            del self._pending[group]
            _, t_now, final_now, source_now, _ = pending
            if value is None:                            # no portrait code: text directions
                self._exact[model_id] = False
                self.on_morph(group, source_now, target, t_now, final_now)
                return
            self._exact[model_id] = True
            label, prompts, _ = self.groups[group]
            source = value["source"]
            self._put(group, EditStep(prompts[target], prompts[source], alpha=round(t_now, 4), method="optimize",
                                      delta=value["delta"], name=f"{label}: {source} → {target} (exact)"), True)

        self.w.run_job(code_morph_job, f"Morphing {self.groups[group][0].lower()}", args, group, target, on_done=done)

    def read(self) -> int | None:
        """Read the current picture's values with the oracle (a job): the "from" of new morphs."""
        if self.c.result is None:
            self.w.show_message("Open a model first: there is no face to read.", "warning")
            return None
        args = self.c.render_args(before=True)             # the face itself, without its edits
        return self.w.run_job(read_face_job, "Reading the face", args, on_done=self.widget.set_face_values)
