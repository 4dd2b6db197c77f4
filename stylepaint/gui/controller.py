"""The controller: one-way flow between the widgets, the editor state and the worker.

Controls call ``change(new_state)``; the controller records it in the undo history, writes the
state back into every control (signals blocked), and sends the render request. Results come
back through ``_on_rendered``: the image goes to the canvas, the metadata tells the controls
their ranges (channel count, resolution for the blend layers, model name).
"""

from __future__ import annotations

import random

from PySide6.QtCore import QObject, Signal

from stylepaint.document import quantize_mask
from stylepaint.edits import EditStep
from stylepaint.editor_state import EditorState, History
from stylepaint.gui.preview_size import AdaptivePreview
from stylepaint.gui.worker import NOT_BUILT

CHANNELS = ("main", "before")


class Controller(QObject):
    state_changed = Signal(object)
    image_shown = Signal(object)          # the result dict whose image is now on the canvas
    render_failed = Signal(str)

    def __init__(self, window, worker, settings, initial: EditorState):
        super().__init__(window)
        self.w = window
        self.worker = worker
        self.settings = settings
        self.history = History(initial, limit=settings["history_limit"])
        self._drag_key = None
        self._shown = {c: 0 for c in CHANNELS}
        self._requested = {c: 0 for c in CHANNELS}
        self.result: dict | None = None           # last shown main result (image + metadata)
        self.full_result: dict | None = None      # last shown full-resolution main result
        self.model_meta: dict = {}
        self.preview = AdaptivePreview()          # the preview size while a slider moves
        self._model_fallback: EditorState | None = None
        self._quiet_errors = 0
        self._render_message = None
        self._model_message = None             # "could not open that model": cleared once another opens
        self._not_built_message = None         # "directions not built": cleared once edits render
        self.discarded = 0
        worker.rendered.connect(self._on_rendered)

    @property
    def state(self) -> EditorState:
        return self.history.current

    # -- state changes -----------------------------------------------------------------------
    def change(self, new: EditorState, drag_key: str | None = None, final: bool = True) -> None:
        """Record ``new`` (a slider drag amends one undo step) and render it."""
        if drag_key is not None and drag_key == self._drag_key:
            self.history.amend(new)
        else:
            self.history.push(new)
        self._drag_key = None if final else drag_key
        self.refresh(skip_edit=drag_key in ("alpha", "edit"))
        self.render(preview=not final)

    def undo(self) -> None:
        if self.history.can_undo():
            self._drag_key = None
            self.history.undo()
            self.refresh()
            self.render()

    def redo(self) -> None:
        if self.history.can_redo():
            self._drag_key = None
            self.history.redo()
            self.refresh()
            self.render()

    def go_to(self, index: int) -> None:
        """The History panel: back (or forward) to a recorded step."""
        if index != self.history.index:
            self._drag_key = None
            self.history.go_to(index)
            self.refresh()
            self.render()

    def refresh(self, skip_edit: bool = False) -> None:
        """Write the state into the controls (no signals fire)."""
        s = self.state
        w = self.w
        source = "" if s.ws is None else "This face comes from a latent (seed unused)."
        if s.photo is not None:
            source = f"This face comes from the photo {s.photo['name']} (seed unused)."
        w.face_panel.set_face(s.seed, s.truncation, source)
        self._show_photo_export()
        if not skip_edit:
            w.prompt_panel.set_edit(s.current_edit)
        w.edit_stack.set_steps(s.edits, s.active)
        w.edit_stack.set_draft(s.draft if s.active is None else None)
        step = s.current_edit
        w.canvas.set_mask(s.masks.get("blend") if self._painting_blend() else s.masks.get(step.mask) if step and step.mask else None)
        if s.blend is None:
            w.blend_panel.switch_off()
        else:
            w.blend_panel.show_on(s.blend)       # undo, or a fallback after a failed model, brings it back
        if s.morph is None:
            w.morph_panel.switch_off()
        w.history_panel.set_entries(self.history.labels(), self.history.index)
        w.action_undo.setEnabled(self.history.can_undo())
        w.action_redo.setEnabled(self.history.can_redo())
        self._show_channel_count()
        self.state_changed.emit(s)

    def _show_photo_export(self) -> None:
        action = getattr(self.w, "action_export_photo", None)
        if action is None:
            return
        photo = self.state.photo
        action.setEnabled(photo is not None)
        if photo is None:
            action.setToolTip("Only for a face opened from a photo (File > Open photo…): this face is not from a photo")
        else:
            w, h = photo["alignment"]["photo_size"]
            action.setToolTip(f"Paste the edited face back into {photo['name']} and save it full size ({w}×{h} PNG)")

    def _painting_blend(self) -> bool:
        b = self.state.blend
        return b is not None and b.get("mode") == "painted"

    # -- rendering -----------------------------------------------------------------------------
    def render_args(self, preview: bool = False, before: bool = False) -> dict:
        s = self.state
        if before:
            s = s.with_(edits=(), draft=None, blend=None, morph=None)
        resolution = int(self.model_meta.get("resolution") or 256)
        extra = {
            "device": self.settings["device"],
            "preview_size": self.preview.next_size(self.settings["preview_size"], resolution) if preview else None,
            "heatmap": bool(self.w.canvas.show_heatmap) and not before,
        }
        return s.render_args(size=resolution, **extra)

    def render(self, preview: bool = False, force: bool = False) -> None:
        stamp = self.worker.request(self.render_args(preview), "main", force=force)
        if stamp is not None:
            self._requested["main"] = stamp
            self.w.set_busy(stamp > self._shown["main"])    # a synchronous worker has already answered
        if self.w.canvas.compare != "off":
            stamp = self.worker.request(self.render_args(preview, before=True), "before", force=force)
            if stamp is not None:
                self._requested["before"] = stamp

    def _on_rendered(self, channel: str, stamp: int, result: dict) -> None:
        if stamp <= self._shown.get(channel, 0):
            self.discarded += 1          # an older frame arrived after a newer one was shown
            return
        self._shown[channel] = stamp
        if stamp >= self._requested.get(channel, 0) and channel == "main":
            self.w.set_busy(False)
        if channel == "before":
            if result.get("image") is not None:
                self.w.canvas.set_before(result["image"])
            return
        if result.get("error"):
            self._render_error(result)
            return
        self._model_fallback = None
        self._quiet_errors = 0
        meta = result.get("metadata") or {}
        first = not self.model_meta or self.model_meta.get("model_id") != meta.get("model_id")
        gone = [self._render_message]            # the problem that message described is gone
        if first:
            gone.append(self._model_message)     # another model opened
        args = result.get("args") or {}
        if args.get("edits") or _has_edits_b(args):
            gone.append(self._not_built_message) # text edits rendered: this model has its directions
        self._clear_messages(gone)
        self.model_meta = {k: meta.get(k) for k in ("model", "model_id", "device", "resolution", "num_ws")}
        self.model_meta["w_dim"] = None if meta.get("ws") is None else int(meta["ws"].shape[-1])
        self.result = result
        if not args.get("preview_size"):
            self.full_result = result
        elif channel == "main":                  # the next preview as big as the frame budget allows
            self.preview.observe(args["preview_size"], (result.get("timings") or {}).get("total_ms", 0.0),
                                 self.settings["preview_size"])
        self.w.canvas.set_image(result["image"], logical_size=meta.get("resolution"))
        self.w.canvas.set_heatmap(meta.get("heatmap"))
        self.w.edit_stack.set_picture(result["image"], self.state.masks)
        self.w.blend_panel.set_resolution(int(meta.get("resolution") or 256))
        self._show_channel_count()
        self.w.show_render_status(result)
        if first:
            self.w.model_loaded(self.state.model, meta)
        self.image_shown.emit(result)

    def _clear_messages(self, texts) -> None:
        shown = self.w.message_bar.label.text()
        if shown and shown in [t for t in texts if t]:
            self.w.message_bar.clear()
        for name in ("_render_message", "_model_message", "_not_built_message"):
            if getattr(self, name) in texts:
                setattr(self, name, None)

    def _render_error(self, result: dict) -> None:
        message = str(result["error"])
        self.render_failed.emit(message)
        if NOT_BUILT in message:
            # the model opened; only its text directions are missing: show the face without the
            # text edits (never fall back as if the model were broken) and offer the build
            self._model_fallback = None
            self._quiet_errors = 0
            if self.w.directions_job is None:
                text = ("Text edits need this model's directions, which are not built yet "
                        "(a few minutes on a CPU; edits work on the finished layers meanwhile).")
                self.w.show_message(text, "warning", ("Build now", self.w.build_directions))
                self._not_built_message = text
            if result.get("args", {}).get("edits") or _has_edits_b(result.get("args", {})):
                self._render_plain(result["args"])
            return
        if self._model_fallback is not None:           # a newly chosen model failed: go back
            fallback, self._model_fallback = self._model_fallback, None
            self.history.push(fallback)
            self.refresh()
            self._model_message = f"Could not open that model. {message}"
            self.w.show_message(self._model_message)
            self._quiet_errors = 1               # keep that message over the fallback's own problems
            self.render()
            return
        if self._quiet_errors:
            self._quiet_errors -= 1
            return
        if self.result is None:
            self.w.no_model(message, self.state.model is None)
            return
        self.w.show_message(message)
        self._render_message = message

    def _render_plain(self, args: dict) -> None:
        """Render ``args`` without its text edits (the face of a model whose directions are missing)."""
        plain = dict(args, edits=[], masks={}, pinned={})
        plain.pop("args", None)
        for key in ("blend", "morph"):
            if plain.get(key):
                plain[key] = dict(plain[key], edits_b=[], pinned_b={}, **({"masks_b": {}} if key == "morph" else {}))
        stamp = self.worker.request(plain, "main", force=True)
        if stamp is not None:
            self._requested["main"] = max(self._requested["main"], stamp)

    def _show_channel_count(self) -> None:
        step = self.state.current_edit
        moved = ((self.result or {}).get("metadata") or {}).get("channels_moved") or []
        i = self.state.applied_index(step)
        n = moved[i] if i is not None and i < len(moved) else None
        if step is not None and n is None and self.result is not None:
            n = self._moved_for(step)
        self.w.prompt_panel.set_channel_count(n)
        self.w.prompt_panel.set_feedback(self._prompt_feedback(step))

    def _prompt_feedback(self, step: EditStep | None) -> str:
        """A gentle word when the prompt gives this CLIP next to no direction (the renderer's
        ``prompt_checks``); the channel count beside it already says when nothing moves."""
        if step is None or step.method != "directions" or self.result is None:
            return ""
        checks = ((self.result or {}).get("metadata") or {}).get("prompt_checks") or []
        for check in checks:
            if (check["prompt"], check["neutral"]) == (step.prompt, step.neutral) and check["near_neutral"]:
                neutral = check.get("neutral_text") or step.neutral or "the neutral text"
                return (f"To this CLIP “{step.prompt}” means almost the same as “{neutral}” "
                        f"(similarity {check['similarity']:.2f}): the edit will mostly move noise. "
                        "Try plainer words, e.g. “curly hair”.")
        return ""

    def _moved_for(self, step: EditStep) -> int | None:
        """Channels moved by a step the last render did not apply (disabled, or α = 0)."""
        for s, n in zip(self.state.applied_edits(), ((self.result or {}).get("metadata") or {}).get("channels_moved") or []):
            if (s.prompt, s.neutral, s.beta, s.layers) == (step.prompt, step.neutral, step.beta, step.layers):
                return n
        return None

    # -- controls -> state ---------------------------------------------------------------------
    def on_edit(self, step: EditStep | None, final: bool) -> None:
        s = self.state
        if step is None and s.active is not None:
            return                           # the prompt of a kept layer cannot be emptied away
        self.change(s.with_current_edit(step), drag_key="edit", final=final)

    def on_add_edit(self) -> None:
        step = self.w.prompt_panel.current_step()
        if step is None:
            return
        if self.result is None:
            self.w.show_message("Open a model first: an edit needs a face to change.", "warning")
            return
        s = self.state.with_current_edit(step)
        if s.active is not None:             # a kept layer is selected: add a copy of it
            s = s.with_(active=None, draft=step.with_(name=""))
        self.change(s.commit_draft())
        self.settings.remember("prompt_history", step.prompt, limit=30)
        self.w.prompt_panel.set_history(self.settings["prompt_history"])

    def on_stack(self, steps, active) -> None:
        self.change(self.state.with_(edits=tuple(steps), active=active))

    def on_layer_opacity(self, index: int, opacity: float, final: bool) -> None:
        s = self.state
        if not 0 <= index < len(s.edits):
            return
        edits = list(s.edits)
        edits[index] = edits[index].with_(opacity=float(opacity))
        self.change(s.with_(edits=tuple(edits)), drag_key=f"opacity{index}", final=final)

    def on_select(self, index) -> None:
        s = self.state
        if index == s.active:
            return
        self._drag_key = None
        self.history.amend(s.with_(active=index))    # selection is not an undo step of its own
        self.refresh()

    def on_seed(self, seed: int) -> None:
        self.change(self.state.with_(seed=int(seed), ws=None))

    def on_random(self) -> None:
        self.change(self.state.with_(seed=random.randrange(0, 2**31 - 1), ws=None))

    def on_truncation(self, value: float, final: bool) -> None:
        self.change(self.state.with_(truncation=float(value)), drag_key="truncation", final=final)

    def on_model(self, path: str | None) -> None:
        if path == self.state.model and self.result is not None:
            return
        self._model_fallback = self.state if self.result is not None else None
        self.change(self.state.with_(model=path, ws=None, blend=None, morph=None))

    def on_mask_painted(self, mask) -> None:
        mask = quantize_mask(mask)               # what a document keeps is what is shown
        s = self.state
        if self._painting_blend():
            self.change(s.with_(masks={**s.masks, "blend": mask}))
            return
        step = s.current_edit
        if step is None:
            self.w.show_message("Pick or type an edit first: the brush paints where the selected edit applies.", "warning")
            self.w.canvas.set_mask(None)
            return
        key = step.mask or self._new_mask_key()
        self.change(s.with_(masks={**s.masks, key: mask}).with_current_edit(step.with_(mask=key)))

    def _current_mask(self):
        """The mask the brush paints now (blend or the selected edit's region), or a blank one."""
        s = self.state
        step = s.current_edit
        if self._painting_blend():
            mask = s.masks.get("blend")
        else:
            mask = s.masks.get(step.mask) if step is not None and step.mask else None
        return self.w.canvas.blank_mask() if mask is None else mask

    def invert_mask(self) -> None:
        self.on_mask_painted(1.0 - self._current_mask())

    def fill_mask(self) -> None:
        self.on_mask_painted(self._current_mask() * 0.0 + 1.0)

    def clear_mask(self) -> None:
        s = self.state
        step = s.current_edit
        if self._painting_blend():
            self.change(s.with_(masks={k: v for k, v in s.masks.items() if k != "blend"}))
        elif step is not None and step.mask:
            self.change(s.with_(masks={k: v for k, v in s.masks.items() if k != step.mask}).with_current_edit(step.with_(mask=None)))

    def _new_mask_key(self) -> str:
        n = 1
        while f"region{n}" in self.state.masks:
            n += 1
        return f"region{n}"


def _has_edits_b(args: dict) -> bool:
    return any((args.get(key) or {}).get("edits_b") for key in ("blend", "morph"))
