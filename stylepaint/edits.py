"""Edits as replayable steps: one plain-data form shared by the edit stack, favorites,
recipes (JSON files) and the CLI.

No torch here: an ``EditStep`` only *describes* an edit. ``stylepaint.directions`` turns it
into a change of StyleSpace.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import numbers
import struct
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from stylepaint.errors import DataFileError, InputError
from stylepaint.safe_read import read_json

#: How a step turns its prompt into a change of StyleSpace (StyleCLIP's three ways):
#: ``directions`` global directions (instant, any prompt); ``optimize`` the latent optimizer's
#: result, stored in the step as ``delta`` (replays without re-optimising); ``mapper`` a per-prompt
#: latent mapper trained once (``stylepaint mapper train``), image-specific at use.
METHODS = ("directions", "optimize", "mapper", "instruction")
#: methods whose layer stores its StyleSpace shift ("delta"): the optimizer's result, and the
#: universal mapper's edit of this face for a typed instruction or description
STORED = ("optimize", "instruction")

#: Which StyleSpace layers an edit may move. Ranges are fractions of the synthesis depth
#: (coarse = low resolutions: pose/shape; fine = high resolutions: colour/texture).
LAYER_GROUPS = ("all", "coarse", "middle", "fine")

RECIPE_VERSION = 1


@dataclass(frozen=True)
class EditStep:
    """One text-driven edit: a global direction, a stored optimizer result or a latent mapper."""

    prompt: str                    # target text, e.g. "curly hair"
    neutral: str | None = None     # neutral text, e.g. "hair"; None = the model's default
    alpha: float = 0.0             # strength, about -10 .. 10
    beta: float = 0.1              # disentanglement threshold on |relevance|, 0 .. 1
    layers: str = "all"            # one of LAYER_GROUPS
    enabled: bool = True
    name: str = ""                 # label shown in the edit stack ("" = the prompt)
    mask: str | None = None        # key of a painted region mask; None = whole image
    method: str = "directions"     # one of METHODS
    delta: tuple | None = None     # optimize: the StyleSpace shift at α = 1, flattened (saved as base64 float32)
    opacity: float = 1.0           # the layer's opacity, 0 .. 1: the render applies α × opacity

    def __post_init__(self):
        if not isinstance(self.prompt, str) or not self.prompt.strip():
            raise InputError("an edit needs a non-empty prompt")
        for name in ("neutral", "mask"):
            if getattr(self, name) is not None and not isinstance(getattr(self, name), str):
                raise InputError(f"an edit's {name} must be text or empty, got {getattr(self, name)!r:.40}")
        for name in ("alpha", "beta", "opacity"):
            value = getattr(self, name)
            if not isinstance(value, numbers.Real) or isinstance(value, bool) or not math.isfinite(value):
                raise InputError(f"an edit's {name} must be a finite number, got {value!r:.40}")
        if not isinstance(self.enabled, bool) or not isinstance(self.name, str):
            raise InputError("an edit's 'enabled' must be true or false and its 'name' text")
        if self.layers not in LAYER_GROUPS:
            raise InputError(f"unknown layer group {self.layers!r:.40}; expected one of {', '.join(LAYER_GROUPS)}")
        if self.beta < 0:
            raise InputError(f"beta must be >= 0, got {self.beta}")
        if not 0.0 <= self.opacity <= 1.0:
            raise InputError(f"an edit's opacity must be between 0 and 1, got {self.opacity}")
        if self.method not in METHODS:
            raise InputError(f"unknown edit method {self.method!r:.40}; expected one of {', '.join(METHODS)}")
        if (self.method in STORED) != (self.delta is not None):
            raise InputError("an optimized or instruction edit needs its stored shift ('delta'), and only those have one")
        if self.delta is not None:
            delta = _finite_floats(self.delta)
            object.__setattr__(self, "delta", delta)
            object.__setattr__(self, "_delta_hash", hashlib.sha256(struct.pack(f"<{len(delta)}d", *delta)).hexdigest()[:16])

    @property
    def strength(self) -> float:
        """What the render moves the edit by: α faded by the layer's opacity."""
        return float(self.alpha) * float(self.opacity)

    @property
    def label(self) -> str:
        return self.name or self.prompt

    @property
    def method_label(self) -> str:
        """How the edit was made, as the editor shows it: directions, optimized or mapper."""
        return METHOD_LABELS[self.method]

    def direction_key(self) -> str:
        """What decides the edit's per-channel shift (not α, name, mask or on/off): the key under
        which a resolved shift is pinned in favorites and documents."""
        key = [self.prompt, self.neutral, float(self.beta), self.layers]
        if self.method in STORED:
            key += [self.method, self._delta_hash]
        elif self.method != "directions":
            key.append(self.method)
        return json.dumps(key)

    def with_(self, **changes) -> "EditStep":
        return replace(self, **changes)

    def to_dict(self) -> dict:
        data = {f: getattr(self, f) for f in self.__dataclass_fields__}
        if data["delta"] is not None:
            data["delta"] = delta_text(data["delta"])
        if data["opacity"] == 1.0:
            del data["opacity"]        # the default: files stay readable by versions without layer opacity
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "EditStep":
        if not isinstance(data, dict):
            raise InputError(f"an edit must be a set of named values, got {type(data).__name__}")
        known = {f for f in cls.__dataclass_fields__}
        unknown = set(data) - known
        if unknown:
            raise InputError(f"unknown edit fields: {', '.join(sorted(map(str, unknown)))[:200]}")
        return cls(**data)


METHOD_LABELS = {"directions": "directions", "optimize": "optimized", "mapper": "mapper", "instruction": "instruction"}


def _finite_floats(values) -> tuple:
    """A delta as a tuple of float32-exact floats, from numbers or the saved form (base64 of
    little-endian float32: 4/3 bytes a channel in JSON instead of ~20)."""
    if isinstance(values, str):
        try:
            raw = base64.b64decode(values.encode("ascii"), validate=True)
        except (ValueError, UnicodeError):
            raise InputError("an optimized edit's delta is not valid base64 text") from None
        if len(raw) % 4:
            raise InputError("an optimized edit's delta is not a whole number of float32 values")
        arr = np.frombuffer(raw, dtype="<f4")
    else:
        if isinstance(values, (bytes, dict)) or not hasattr(values, "__len__"):
            raise InputError(f"an optimized edit's delta must be a list of numbers, got {type(values).__name__}")
        arr = np.asarray(values, dtype=object if isinstance(values, (list, tuple)) else None)
        if arr.dtype == object and not all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in values):
            raise InputError("an optimized edit's delta must hold numbers only")
        if arr.dtype != object and arr.dtype.kind not in "fiu":
            raise InputError(f"an optimized edit's delta must hold numbers, got {arr.dtype}")
    if arr.ndim != 1 or arr.size == 0:
        raise InputError(f"an optimized edit's delta must be a non-empty list of numbers, got shape {arr.shape}")
    arr = arr.astype(np.float32)
    if not np.isfinite(arr).all():
        raise InputError("an optimized edit's delta must hold finite numbers (it has NaN or infinity)")
    return tuple(arr.astype(np.float64).tolist())


def delta_text(delta) -> str:
    """The saved form of a delta: base64 of little-endian float32."""
    return base64.b64encode(np.asarray(delta, dtype="<f4").tobytes()).decode("ascii")


@dataclass
class Recipe:
    """An ordered stack of edits, saved as JSON and applicable to any face."""

    steps: list[EditStep] = field(default_factory=list)
    model: str | None = None       # id of the model the recipe was made on (informative)

    def to_dict(self) -> dict:
        return {"version": RECIPE_VERSION, "model": self.model, "steps": [s.to_dict() for s in self.steps]}

    @classmethod
    def from_dict(cls, data: dict) -> "Recipe":
        if not isinstance(data, dict) or not isinstance(data.get("steps"), list):
            raise InputError("not a stylepaint recipe: no 'steps' list")
        version = data.get("version", RECIPE_VERSION)
        if not isinstance(version, int) or isinstance(version, bool):
            raise InputError(f"not a stylepaint recipe: version {version!r:.40} is not a number")
        if version > RECIPE_VERSION:
            raise InputError(f"recipe version {data['version']} is newer than this stylepaint understands")
        model = data.get("model")
        return cls(steps=[EditStep.from_dict(s) for s in data["steps"]], model=model if isinstance(model, str) else None)

    def save(self, path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2), encoding="utf-8")

    @classmethod
    def load(cls, path) -> "Recipe":
        """Read a recipe file; any problem is one ``DataFileError`` naming the file."""
        try:
            return cls.from_dict(read_json(path, "recipe"))
        except DataFileError:
            raise
        except InputError as exc:
            raise DataFileError(path, str(exc)) from None
