"""Edits as replayable steps: one plain-data form shared by the edit stack, favorites,
recipes (JSON files) and the CLI.

No torch here: an ``EditStep`` only *describes* an edit. ``stylepaint.directions`` turns it
into a change of StyleSpace.
"""

from __future__ import annotations

import json
import math
import numbers
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from stylepaint.errors import DataFileError, InputError
from stylepaint.safe_read import read_json

#: Which StyleSpace layers an edit may move. Ranges are fractions of the synthesis depth
#: (coarse = low resolutions: pose/shape; fine = high resolutions: colour/texture).
LAYER_GROUPS = ("all", "coarse", "middle", "fine")

RECIPE_VERSION = 1


@dataclass(frozen=True)
class EditStep:
    """One text-driven global-direction edit."""

    prompt: str                    # target text, e.g. "curly hair"
    neutral: str | None = None     # neutral text, e.g. "hair"; None = the model's default
    alpha: float = 0.0             # strength, about -10 .. 10
    beta: float = 0.1              # disentanglement threshold on |relevance|, 0 .. 1
    layers: str = "all"            # one of LAYER_GROUPS
    enabled: bool = True
    name: str = ""                 # label shown in the edit stack ("" = the prompt)
    mask: str | None = None        # key of a painted region mask; None = whole image

    def __post_init__(self):
        if not isinstance(self.prompt, str) or not self.prompt.strip():
            raise InputError("an edit needs a non-empty prompt")
        for name in ("neutral", "mask"):
            if getattr(self, name) is not None and not isinstance(getattr(self, name), str):
                raise InputError(f"an edit's {name} must be text or empty, got {getattr(self, name)!r:.40}")
        for name in ("alpha", "beta"):
            value = getattr(self, name)
            if not isinstance(value, numbers.Real) or isinstance(value, bool) or not math.isfinite(value):
                raise InputError(f"an edit's {name} must be a finite number, got {value!r:.40}")
        if not isinstance(self.enabled, bool) or not isinstance(self.name, str):
            raise InputError("an edit's 'enabled' must be true or false and its 'name' text")
        if self.layers not in LAYER_GROUPS:
            raise InputError(f"unknown layer group {self.layers!r:.40}; expected one of {', '.join(LAYER_GROUPS)}")
        if self.beta < 0:
            raise InputError(f"beta must be >= 0, got {self.beta}")

    @property
    def label(self) -> str:
        return self.name or self.prompt

    def direction_key(self) -> str:
        """What decides the edit's per-channel shift (not α, name, mask or on/off): the key under
        which a resolved shift is pinned in favorites and documents."""
        return json.dumps([self.prompt, self.neutral, float(self.beta), self.layers])

    def with_(self, **changes) -> "EditStep":
        return replace(self, **changes)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "EditStep":
        if not isinstance(data, dict):
            raise InputError(f"an edit must be a set of named values, got {type(data).__name__}")
        known = {f for f in cls.__dataclass_fields__}
        unknown = set(data) - known
        if unknown:
            raise InputError(f"unknown edit fields: {', '.join(sorted(map(str, unknown)))[:200]}")
        return cls(**data)


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
