"""The editor's state as plain data, and the undo/redo history of it.

No Qt and no torch: an ``EditorState`` is an immutable value; every user action makes a new
one (``state.with_(...)``). ``render_args`` turns a state into the plain dict that
``Renderer.render(**args)`` takes, and ``to_favorite``/``from_favorite`` into the favorites
store's JSON + arrays form.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace

import numpy as np

from stylepaint.edits import EditStep
from stylepaint.errors import InputError
from stylepaint import masks as maskgen

BLEND_MODES = ("left-right", "top-bottom", "painted")
MORPH_SPACES = ("w+", "s")


def _array_digest(a: np.ndarray | None) -> str | None:
    if a is None:
        return None
    a = np.ascontiguousarray(a)
    return hashlib.sha1(a.tobytes() + str(a.shape).encode() + str(a.dtype).encode()).hexdigest()[:16]


def _freeze(value):
    """A hashable, comparable stand-in for plain data that may hold numpy arrays."""
    if isinstance(value, np.ndarray):
        return ("ndarray", _array_digest(value))
    if isinstance(value, dict):
        return tuple(sorted((k, _freeze(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return tuple(_freeze(v) for v in value)
    if isinstance(value, EditStep):
        return _freeze(value.to_dict())
    return value


@dataclass(frozen=True)
class EditorState:
    model: str | None = None                 # checkpoint path; None = embedded default
    clip: str | None = None                  # CLIP spec; None = the model's default pairing
    seed: int = 0
    ws: np.ndarray | None = None             # [num_ws, w_dim]; overrides seed (opened latent, favorite)
    truncation: float = 0.7
    edits: tuple = ()                        # tuple[EditStep, ...]: the edit stack
    draft: EditStep | None = None            # the prompt panel's edit, not yet added to the stack
    active: int | None = None                # stack index the prompt panel controls; None = draft
    masks: dict = field(default_factory=dict)  # key -> float32 [H, W] in [0, 1]
    blend: dict | None = None                # ws_b, label, mode, feather, from_layer
    morph: dict | None = None                # ws_b, edits_b, t, space, label
    photo: dict | None = None                # path, name, alignment (dict): the photo ``ws`` was inverted from
    pinned: dict = field(default_factory=dict)  # EditStep.direction_key() -> resolved shift (favorite, document)

    def with_(self, **changes) -> "EditorState":
        """A changed copy. A new latent or model drops the photo link unless ``photo`` is given too
        (the paste-back only fits the face that was inverted from that photo)."""
        if ("ws" in changes or "model" in changes) and "photo" not in changes:
            changes["photo"] = None
        return replace(self, **changes)

    def key(self) -> tuple:
        """Equal for equal states (arrays compared by content)."""
        return _freeze({
            "model": self.model, "clip": self.clip, "seed": self.seed, "ws": self.ws, "truncation": self.truncation,
            "edits": list(self.edits), "draft": self.draft, "active": self.active,
            "masks": self.masks, "blend": self.blend, "morph": self.morph, "photo": self.photo, "pinned": self.pinned,
        })

    # -- edits -------------------------------------------------------------------------------
    @property
    def current_edit(self) -> EditStep | None:
        """The edit the prompt panel shows: the selected stack entry, else the draft."""
        if self.active is not None and 0 <= self.active < len(self.edits):
            return self.edits[self.active]
        return self.draft

    def with_current_edit(self, step: EditStep | None) -> "EditorState":
        if self.active is not None and 0 <= self.active < len(self.edits):
            if step is None:
                return self
            edits = list(self.edits)
            edits[self.active] = step
            return replace(self, edits=tuple(edits))
        return replace(self, draft=step)

    def applied_edits(self) -> list[EditStep]:
        """The edits a render applies, in order: enabled stack entries, then the draft (even at
        α = 0, so that the render reports how many channels it would move)."""
        steps = [s for s in self.edits if s.enabled]
        if self.active is None and self.draft is not None:
            steps.append(self.draft)
        return steps

    def applied_index(self, step: EditStep | None) -> int | None:
        """Position of ``step`` among ``applied_edits`` (for reading ``channels_moved``)."""
        if step is None:
            return None
        for i, s in enumerate(self.applied_edits()):
            if s is step:
                return i
        return None

    def commit_draft(self) -> "EditorState":
        """'Add edit': the draft becomes a stack layer and is selected."""
        step = self.draft if self.active is None else self.current_edit
        if step is None:
            return self
        edits = self.edits + (step,)
        return replace(self, edits=edits, draft=None, active=len(edits) - 1)

    # -- render -------------------------------------------------------------------------------
    def render_args(self, size: int = 256, **extra) -> dict:
        """The plain argument dict for ``Renderer.render``; ``size`` is the mask resolution."""
        used_masks = {s.mask for s in self.applied_edits() if s.mask}
        used_keys = {s.direction_key() for s in self.applied_edits()}
        args = {
            "model": self.model,
            "clip": self.clip,
            "seed": int(self.seed),
            "ws": self.ws,
            "truncation": float(self.truncation),
            "edits": [s.to_dict() for s in self.applied_edits()],
            "masks": {k: v for k, v in self.masks.items() if k in used_masks},
            "blend": None,
            "morph": None,
            "pinned": {k: v for k, v in self.pinned.items() if k in used_keys},
        }
        if self.blend is not None and self.blend.get("ws_b") is not None:
            mask = blend_mask(self.blend, self.masks, size)
            if mask is not None:
                args["blend"] = {"ws_b": self.blend["ws_b"], "mask": mask, "from_layer": self.blend.get("from_layer"),
                                 "edits_b": list(self.blend.get("edits_b") or []),
                                 "pinned_b": dict(self.blend.get("pinned_b") or {})}
        if self.morph is not None and self.morph.get("ws_b") is not None:
            args["morph"] = {
                "ws_b": self.morph["ws_b"],
                "edits_b": list(self.morph.get("edits_b") or []),
                "masks_b": dict(self.morph.get("masks_b") or {}),
                "pinned_b": dict(self.morph.get("pinned_b") or {}),
                "t": float(self.morph.get("t", 0.0)),
                "space": self.morph.get("space", "w+"),
            }
        args.update(extra)
        return args

    def picture(self, ws: np.ndarray | None = None, shifts: dict | None = None) -> dict:
        """This picture as a blend or morph face B: latent, the edits it shows, their masks and
        resolved shifts (``ws``/``shifts``: what the render of this state reported)."""
        steps = self.applied_edits()
        used = {s.mask for s in steps if s.mask}
        return {"ws_b": np.asarray(self.ws if ws is None else ws, np.float32),
                "edits_b": [s.to_dict() for s in steps],
                "masks_b": {k: v for k, v in self.masks.items() if k in used},
                "pinned_b": {**self.pinned, **(shifts or {})}}

    # -- favorites and documents ---------------------------------------------------------------
    def to_favorite(self, ws: np.ndarray | None = None, model_id: str | None = None,
                    shifts: dict | None = None) -> tuple[dict, dict]:
        """(JSON-able state, arrays): everything that re-creates the picture, blend, morph and
        photo link included. ``ws`` is the latent actually rendered and ``shifts`` the edit shifts
        it used (``metadata["shifts"]``): they are pinned, so the picture stays as saved even when
        the directions change later (a partial build that finished)."""
        ws = ws if ws is not None else self.ws
        arrays = {f"mask_{k}": np.asarray(v, np.float32) for k, v in self.masks.items()}
        if ws is not None:
            arrays["ws"] = np.asarray(ws, np.float32)
        pinned = {**self.pinned, **(shifts or {})}
        used = {s.direction_key() for s in (*self.edits, *([self.draft] if self.draft else []))}
        state = {
            "model": self.model,
            "clip": self.clip,
            "model_id": model_id,
            "seed": int(self.seed),
            "truncation": float(self.truncation),
            "edits": [s.to_dict() for s in self.edits],
            "draft": self.draft.to_dict() if self.draft else None,
            "active": self.active,
            "mask_keys": sorted(self.masks),
            "blend": _split_arrays(self.blend, "blend", arrays),
            "morph": _split_arrays(self.morph, "morph", arrays),
            "photo": self.photo,
            "pinned": _split_arrays({k: v for k, v in pinned.items() if k in used}, "pinned", arrays),
        }
        return state, arrays

    @classmethod
    def from_favorite(cls, state: dict, arrays: dict) -> "EditorState":
        """The state a favorite saved; a damaged one is an ``InputError`` (one sentence)."""
        try:
            return cls._from_favorite(state, arrays)
        except (TypeError, ValueError, KeyError, AttributeError, IndexError) as exc:
            raise InputError(f"the saved state is damaged ({type(exc).__name__}: {str(exc)[:80]})") from None

    @classmethod
    def _from_favorite(cls, state: dict, arrays: dict) -> "EditorState":
        edits = tuple(EditStep.from_dict(d) for d in state.get("edits", []))
        draft = EditStep.from_dict(state["draft"]) if state.get("draft") else None
        active = state.get("active")
        if active is not None and not (0 <= active < len(edits)):
            active = None
        masks = {k: np.asarray(arrays[f"mask_{k}"], np.float32) for k in state.get("mask_keys", []) if f"mask_{k}" in arrays}
        return cls(
            model=state.get("model"), clip=state.get("clip"), seed=int(state.get("seed", 0)),
            ws=arrays.get("ws"),
            truncation=float(state.get("truncation", 0.7)), edits=edits, draft=draft, active=active, masks=masks,
            blend=_join_arrays(state.get("blend"), arrays), morph=_join_arrays(state.get("morph"), arrays),
            photo=state.get("photo"), pinned=_join_arrays(state.get("pinned"), arrays) or {},
        )

    def metadata(self) -> dict:
        """Text metadata for exported PNGs."""
        return {
            "model": self.model or "embedded default",
            "seed": str(self.seed) if self.ws is None else "",
            "latent_sha1": _array_digest(self.ws) or "",
            "truncation": f"{self.truncation:g}",
            "edits": [s.to_dict() for s in self.applied_edits()],
        }


def _split_arrays(value, prefix: str, arrays: dict):
    """``value`` with every numpy array moved into ``arrays`` (as ``{"$array": name}``)."""
    if isinstance(value, np.ndarray):
        name = f"{prefix}.{len([k for k in arrays if k.startswith(prefix + '.')])}"
        arrays[name] = value
        return {"$array": name}
    if isinstance(value, dict):
        return {k: _split_arrays(v, prefix, arrays) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_split_arrays(v, prefix, arrays) for v in value]
    return value


def _join_arrays(value, arrays: dict):
    """The inverse of ``_split_arrays``; a missing array is an error, not a silent None."""
    if isinstance(value, dict):
        if set(value) == {"$array"}:
            if value["$array"] not in arrays:
                raise InputError(f"the saved state lacks its array {value['$array']!r}")
            return np.asarray(arrays[value["$array"]])
        return {k: _join_arrays(v, arrays) for k, v in value.items()}
    if isinstance(value, list):
        return [_join_arrays(v, arrays) for v in value]
    return value


def blend_mask(blend: dict, masks: dict, size: int) -> np.ndarray | None:
    mode = blend.get("mode", "left-right")
    feather = float(blend.get("feather", 0.05))
    if mode == "left-right":
        return maskgen.left_right(size, size, feather)
    if mode == "top-bottom":
        return maskgen.top_bottom(size, size, feather)
    painted = masks.get("blend")
    if painted is None:
        return None
    return maskgen.feathered(painted, feather)


def _same(a, b) -> bool:
    return a is b or _freeze(a) == _freeze(b)


def describe_change(before: EditorState | None, after: EditorState) -> str:
    """A short name for the step from ``before`` to ``after`` (the History panel's rows)."""
    if before is None:
        return "Start"
    if after.model != before.model:
        return "Open model"
    if after.photo is not None and not _same(after.photo, before.photo):
        return f"Open photo {after.photo.get('name', '')}".strip()
    if not _same(after.ws, before.ws):
        return "Open face" if after.ws is not None else f"Seed {after.seed}"
    if after.seed != before.seed:
        return f"Seed {after.seed}"
    if after.truncation != before.truncation:
        return f"Truncation {after.truncation:.2f}"
    if len(after.edits) != len(before.edits):
        if len(after.edits) > len(before.edits):
            new = [s for s in after.edits if s not in before.edits]
            return f"Add edit “{new[0].label}”" if new else "Add edit"
        gone = [s for s in before.edits if s not in after.edits]
        return f"Delete edit “{gone[0].label}”" if gone else "Delete edit"
    if after.edits != before.edits:
        if sorted(map(repr, after.edits)) == sorted(map(repr, before.edits)):
            return "Reorder edits"
        for a, b in zip(after.edits, before.edits):
            if a != b:
                return _step_change(b, a)
    if not _same(after.masks, before.masks):
        return "Paint region"
    if after.draft != before.draft:
        return "Clear prompt" if after.draft is None else _step_change(before.draft, after.draft)
    if not _same(after.blend, before.blend):
        return "Blend" if after.blend is not None else "Blend off"
    if not _same(after.morph, before.morph):
        return "Morph" if after.morph is not None else "Morph off"
    if after.clip != before.clip:
        return "CLIP"
    return "Change"


def _step_change(before: EditStep | None, after: EditStep) -> str:
    name = f"“{after.label}”"
    if before is None or before.prompt != after.prompt:
        return f"Prompt {name}"
    if after.opacity != before.opacity:
        return f"Opacity {after.opacity:.0%} {name}"
    if after.enabled != before.enabled:
        return f"{'Show' if after.enabled else 'Hide'} {name}"
    if after.alpha != before.alpha:
        return f"α {after.alpha:+.1f} {name}"
    if after.beta != before.beta:
        return f"β {after.beta:.3f} {name}"
    if after.name != before.name:
        return f"Rename {name}"
    if after.mask != before.mask:
        return f"Region {name}"
    return f"Edit {name}"


class History:
    """Undo/redo as a stack of states. ``push`` records a step; ``amend`` replaces the newest
    (a slider drag amends one step instead of recording every frame)."""

    def __init__(self, initial: EditorState, limit: int = 200):
        self._states = [initial]
        self._labels = [describe_change(None, initial)]    # named once, when recorded
        self._index = 0
        self.limit = limit

    @property
    def current(self) -> EditorState:
        return self._states[self._index]

    def push(self, state: EditorState) -> bool:
        if state.key() == self.current.key():
            return False
        del self._states[self._index + 1:]
        del self._labels[self._index + 1:]
        self._labels.append(describe_change(self.current, state))
        self._states.append(state)
        if len(self._states) > self.limit:
            del self._states[0]
            del self._labels[0]
        self._index = len(self._states) - 1
        return True

    def amend(self, state: EditorState) -> None:
        del self._states[self._index + 1:]
        del self._labels[self._index + 1:]
        self._states[self._index] = state
        self._labels[self._index] = describe_change(self._states[self._index - 1] if self._index else None, state)

    @property
    def index(self) -> int:
        return self._index

    def labels(self) -> list[str]:
        """One name per recorded state, oldest first (``describe_change`` of each step)."""
        return list(self._labels)

    def go_to(self, index: int) -> EditorState:
        """Jump back or forward to a recorded state (the History panel); later states stay redoable."""
        self._index = min(max(int(index), 0), len(self._states) - 1)
        return self.current

    def can_undo(self) -> bool:
        return self._index > 0

    def can_redo(self) -> bool:
        return self._index < len(self._states) - 1

    def undo(self) -> EditorState:
        if self.can_undo():
            self._index -= 1
        return self.current

    def redo(self) -> EditorState:
        if self.can_redo():
            self._index += 1
        return self.current

    def reset(self, state: EditorState) -> None:
        self._states = [state]
        self._labels = [describe_change(None, state)]
        self._index = 0
