"""Edits as replayable steps: one plain-data form shared by the edit stack, favorites,
recipes (JSON files) and the CLI.

No torch here: an ``EditStep`` only *describes* an edit. ``stylepaint.directions`` turns it
into a change of StyleSpace.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from stylepaint.errors import InputError

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
        if self.layers not in LAYER_GROUPS:
            raise InputError(f"unknown layer group {self.layers!r}; expected one of {', '.join(LAYER_GROUPS)}")
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
        known = {f for f in cls.__dataclass_fields__}
        unknown = set(data) - known
        if unknown:
            raise InputError(f"unknown edit fields: {', '.join(sorted(unknown))}")
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
        if not isinstance(data, dict) or "steps" not in data:
            raise InputError("not a stylepaint recipe: no 'steps' list")
        if data.get("version", RECIPE_VERSION) > RECIPE_VERSION:
            raise InputError(f"recipe version {data['version']} is newer than this stylepaint understands")
        return cls(steps=[EditStep.from_dict(s) for s in data["steps"]], model=data.get("model"))

    def save(self, path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2), encoding="utf-8")

    @classmethod
    def load(cls, path) -> "Recipe":
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise InputError(f"{path}: cannot read recipe ({exc})") from exc
        return cls.from_dict(data)
