"""Edits by instruction or description through the universal mapper.

    u = understand(model, clip, "make the hair red")   # Understanding(group="hair_color", value="red", ...)
    u.label                                            # "hair colour → red"
    step = universal_step(G, clip, model, ws, "a bit less smiling", alpha=1.0)
    # an EditStep holding the StyleSpace shift the mapper gives this face (it replays exactly)

The reader of the same model says which vocabulary target a text names, whether it is an
instruction, and how strongly ("a bit" = 0.5). A recognised text edits towards the target's
canonical prompt, so "make the hair red" and "red hair" give the same edit. A description the
reader does not recognise is free text: the mapper takes its own CLIP embedding (any prompt,
any model). An instruction it does not recognise, or an empty text, is one ``InputError``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from stylepaint.errors import InputError
from stylepaint.styleclip.phrasings import canonical, label

CONFIDENCE = 0.5      # the reader's probability below which a text is not recognised
UNSURE = 0.8          # below this a reading is shown as a guess: on the reader folds
                      # (benchmarks/bench_reader_folds.py) 62 % of wrong readings, 8 % of right ones


@dataclass(frozen=True)
class Understanding:
    text: str                      # what was typed
    kind: str                      # "instruction" or "description"
    group: str | None              # vocabulary target, None for free text
    value: str | None
    strength: float                # multiplies α: 1, or 0.5 for "a bit"
    confidence: float              # the reader's probability of the target (or of "unknown")
    target: str                    # the text the mapper is conditioned on
    neutral: str | None            # and its neutral text (None: the model's default)
    gain: float = 1.0              # the target's calibrated strength (``UniversalMapper.gains``)
    alternative: tuple[str, str] | None = None   # a guess's runner-up target (group, value), if any

    @property
    def alpha(self) -> float:
        """What the mapper's edit is scaled by at α = 1: strength x gain."""
        return self.strength * self.gain

    @property
    def guess(self) -> bool:
        """Whether the reader read a target but is not sure of it ("make the hair cobalt")."""
        return self.group is not None and self.confidence < UNSURE

    def reading(self) -> str:
        """How it was read, for a message: "hair colour → red (instruction)", and when the
        reader is unsure, that it is a guess and how sure."""
        text = f"{self.label} ({self.kind})"
        return text + f", a guess ({self.confidence:.0%} sure)" if self.guess else text

    @property
    def label(self) -> str:
        """How the edit was understood: "hair colour → red", or the free text itself."""
        return label(self.group, self.value, self.strength) if self.group else self.target


def empty_message() -> str:
    return ("the instruction is empty: say what to change, e.g. \"make the hair red\", "
            "\"remove her glasses\" or \"a bit less smiling\", or describe it, e.g. \"red hair\"")


@torch.no_grad()
def understand(model, clip, text, target: tuple[str, str] | None = None) -> Understanding:
    """What ``text`` asks for, as the reader of the universal ``model`` reads it. ``target``
    (group, value): the person chose the target (a guess's runner-up); the reader still says
    how strongly and whether it is an instruction."""
    if not isinstance(text, str) or not text.strip():
        raise InputError(empty_message())
    from stylepaint.styleclip.universal_mapper import reader_input

    text = " ".join(text.split())
    out = model.read(reader_input(model, clip, [text]))
    probs = out["logits"].softmax(-1)[0]
    p, k = float(probs.max()), int(probs.argmax())
    if target is not None:
        if tuple(target) not in model.targets:
            raise InputError(f"{target[0]} → {target[1]} is not a target of this model's universal mapper")
        k = model.targets.index(tuple(target))
        p = max(float(probs[k]), UNSURE)          # chosen, not guessed
    instruction = float(out["kind"][0]) > 0
    if k < len(model.targets) and p >= CONFIDENCE:
        group, value = model.targets[k]
        strength = 0.5 if float(out["strength"][0]) < 0.75 else 1.0
        canonical_target, neutral = canonical(group, value)
        alternative = None
        if p < UNSURE and len(model.targets) > 1:             # a guess: the reader's next target
            others = probs[:len(model.targets)].clone()
            others[k] = -1.0
            alternative = model.targets[int(others.argmax())]
        return Understanding(text, "instruction" if instruction else "description", group, value, strength, p,
                             canonical_target, neutral, model.gain_of(group, value), alternative)
    if instruction:
        raise InputError(f"could not understand the instruction \"{text[:80]}\": it names no attribute this "
                         f"model knows; try e.g. \"make the hair red\", \"remove her glasses\" or \"a bit less "
                         f"smiling\", or describe the result (\"red hair\")")
    return Understanding(text, "description", None, None, 1.0, p, text, None)


def universal_delta(G, clip, model, ws, u: Understanding) -> np.ndarray:
    """The [C] StyleSpace shift at α = 1 that ``model`` gives the face ``ws`` for ``u``."""
    from stylepaint.engine.networks import assert_shape
    from stylepaint.styleclip.universal_mapper import condition

    ws = torch.as_tensor(np.asarray(ws, np.float32) if not torch.is_tensor(ws) else ws).to(G.device, torch.float32)
    if ws.ndim == 2:
        ws = ws[None]
    assert_shape(ws, [1, G.num_ws, G.w_dim], "start latent (W+)")
    with torch.no_grad():
        shift = model.shift(G, ws, condition(clip, u.target, u.neutral), alpha=u.alpha)
    return shift[0].float().cpu().numpy()


def universal_step(G, clip, model, ws, text: str, alpha: float = 1.0, target: tuple[str, str] | None = None):
    """(EditStep, Understanding): the edit of the face ``ws`` that ``text`` asks for, as an edit
    step that stores its shift (so the stack, recipes and documents replay it) and shows how the
    text was understood as its name. α scales it like every edit."""
    from stylepaint.edits import EditStep

    u = understand(model, clip, text, target)
    delta = universal_delta(G, clip, model, ws, u)
    step = EditStep(u.text, None, alpha=float(alpha), name=u.label, method="instruction", delta=delta)
    return step, u
