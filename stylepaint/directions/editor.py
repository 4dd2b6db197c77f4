"""Global-direction edits: text direction -> per-channel StyleSpace shift, scaled by α, gated by β.

    r = R · Δt                         relevance of each channel to the text direction
    r_c = 0 where |r_c| < β            disentanglement threshold
    r = r / max|r| · std               unit peak, in each channel's own units
    s' = s + α · r

``edit_shift`` is that formula alone (pure tensors); ``Editor`` wraps it with a CLIP text
encoder and a relevance result; ``apply_steps`` replays a list of ``EditStep``.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import torch

from stylepaint.clip import registry
from stylepaint.directions.relevance import Relevance
from stylepaint.edits import LAYER_GROUPS, EditStep
from stylepaint.errors import InputError


def edit_shift(relevance: torch.Tensor, std: torch.Tensor, beta: float,
               mask: torch.Tensor | None = None) -> tuple[torch.Tensor, int]:
    """Per-channel shift for α = 1 and how many channels it moves.

    ``relevance`` [C] is R·Δt; ``std`` [C]; ``mask`` [C] bool restricts the channels that may
    move (layer groups). β = 0 keeps every channel with non-zero relevance; a β above
    max|r| keeps none (zero shift).
    """
    if beta < 0:
        raise InputError(f"beta must be >= 0, got {beta}")
    r = relevance.to(torch.float32)
    if mask is not None:
        r = torch.where(mask.to(r.device), r, torch.zeros_like(r))
    keep = (r.abs() >= beta) & (r != 0)
    r = torch.where(keep, r, torch.zeros_like(r))
    peak = r.abs().max() if r.numel() else torch.tensor(0.0)
    count = int(keep.sum())
    if count == 0 or float(peak) == 0.0:
        return torch.zeros_like(r), 0
    return r / peak * std.to(r), count


def group_mask(rel: Relevance, group: str, img_resolution: int) -> torch.Tensor | None:
    """Bool [C] of the channels in a layer group ("all" -> None: no restriction)."""
    if group not in LAYER_GROUPS:
        raise InputError(f"unknown layer group {group!r}; expected one of {', '.join(LAYER_GROUPS)}")
    if group == "all":
        return None
    from stylepaint.engine.networks import StyleLayer
    from stylepaint.engine.stylespace import layer_group

    parts = []
    for name, c, is_rgb, resolution in zip(rel.layers, rel.channels, rel.torgb, rel.resolutions):
        layer = StyleLayer(name, c, resolution, is_rgb, 0)
        parts.append(torch.full([c], layer_group(layer, img_resolution) == group, dtype=torch.bool))
    return torch.cat(parts)


class Editor:
    """Turns prompts into StyleSpace edits for one generator and one CLIP."""

    def __init__(self, relevance: Relevance, text, img_resolution: int, default_neutral: str | None = None):
        self.relevance = relevance
        self.text = getattr(text, "text", text)   # a ClipModel or its TextEncoder
        self.img_resolution = int(img_resolution)
        self.default_neutral = default_neutral or registry.default_neutral()
        self._masks: dict[str, torch.Tensor | None] = {}
        if relevance.R.shape[1] != self.text.clip.embed_dim:
            raise InputError(f"the directions were built with a {relevance.R.shape[1]}-d CLIP, "
                             f"this CLIP embeds in {self.text.clip.embed_dim} dimensions")

    def direction(self, target: str, neutral: str | None = None) -> torch.Tensor:
        """Unit CLIP text direction from ``neutral`` (default: the templates file's) to ``target``."""
        return self.text.direction(target, self.default_neutral if neutral is None else neutral)

    def prompt_check(self, target: str, neutral: str | None = None) -> dict:
        """How far the prompt is from the neutral text for this CLIP: {similarity, near_neutral, neutral_text}."""
        from stylepaint.clip.text import NEAR_NEUTRAL

        neutral = self.default_neutral if neutral is None else neutral
        sim = self.text.similarity(target, neutral)
        return {"similarity": sim, "near_neutral": sim > NEAR_NEUTRAL, "neutral_text": neutral}

    def channel_relevance(self, direction: torch.Tensor) -> torch.Tensor:
        """r = R · Δt, one value per flattened StyleSpace channel."""
        return self.relevance.R.to(torch.float32) @ direction.to(torch.float32).cpu()

    def shift(self, direction, beta: float, layers: str = "all") -> tuple[torch.Tensor, int]:
        if isinstance(direction, str):
            direction = self.direction(direction)
        if layers not in self._masks:
            self._masks[layers] = group_mask(self.relevance, layers, self.img_resolution)
        return edit_shift(self.channel_relevance(direction), self.relevance.std, beta, self._masks[layers])

    def apply(self, styles: dict, direction, alpha: float, beta: float,
              layers: str = "all") -> tuple["OrderedDict[str, torch.Tensor]", int]:
        """styles (name -> [N, C]) moved by α along the edit; returns (new styles, channels moved)."""
        missing = [name for name in self.relevance.layers if name not in styles]
        if missing:
            raise InputError(f"these styles lack layers {missing[:3]}: the directions belong to another model")
        shift, count = self.shift(direction, beta, layers)
        return shift_styles(styles, shift, alpha, zip(self.relevance.layers, self.relevance.channels)), count


def shift_styles(styles: dict, shift: torch.Tensor, alpha: float, layers=None) -> "OrderedDict[str, torch.Tensor]":
    """styles + α · shift, with the flat [C] ``shift`` cut per layer (``layers``: (name, channels)
    pairs; default: the styles' own order and widths)."""
    layers = list(layers) if layers is not None else [(k, v.shape[-1]) for k, v in styles.items()]
    missing = [name for name, _ in layers if name not in styles]
    if missing:
        raise InputError(f"these styles lack layers {missing[:3]}: the directions belong to another model")
    if sum(c for _, c in layers) != shift.numel():
        raise InputError(f"a shift of {shift.numel()} channels does not fit these styles: it belongs to another model")
    out, start = OrderedDict(), 0
    for name, c in layers:
        s = styles[name]
        part = shift[start:start + c]
        start += c
        if alpha == 0 or not bool(part.any()):
            out[name] = s
        else:
            out[name] = s + float(alpha) * part.to(device=s.device, dtype=s.dtype)
    for name in styles:  # keep anything else the caller passed along
        out.setdefault(name, styles[name])
    return out


def apply_steps(editor: Editor | None, styles: dict, steps, pinned: dict | None = None,
                resolved: dict | None = None, mapper_shift=None) -> tuple["OrderedDict[str, torch.Tensor]", list[int]]:
    """Apply the enabled ``EditStep``s (or their dicts) in order; masks are the caller's business.

    ``pinned`` maps ``EditStep.direction_key()`` to a shift resolved earlier (a favorite or a
    document made while the directions were partial renders as it was saved); ``resolved``, when
    given, receives the shift each step used. ``editor`` may be None when every directions step
    is pinned. An optimized step carries its own shift; a mapper step's comes from
    ``mapper_shift(step, required)`` (``styleclip.apply.mapper_shifter``: None when no mapper
    is trained and a pinned shift may stand in). Returns the edited styles and the number of
    channels each applied step moved.
    """
    moved = []
    for step in steps:
        if isinstance(step, dict):
            step = EditStep.from_dict(step)
        if not step.enabled:
            continue
        key = step.direction_key()
        shift = (pinned or {}).get(key)
        if step.delta is not None:              # optimized or instruction: the stored shift
            shift = torch.as_tensor(np.asarray(step.delta, np.float32))
        elif step.method == "mapper":
            fresh = mapper_shift(step, shift is None) if mapper_shift is not None else None
            if fresh is None and shift is None:
                raise InputError(f"the mapper edit '{step.label}' needs its trained mapper")
            shift = fresh if fresh is not None else shift
        if shift is not None:
            shift = torch.as_tensor(np.asarray(shift, np.float32))
            count = int((shift != 0).sum())
            styles = shift_styles(styles, shift, step.strength)
        else:
            direction = editor.direction(step.prompt, step.neutral)
            shift, count = editor.shift(direction, step.beta, step.layers)
            styles = shift_styles(styles, shift, step.strength, zip(editor.relevance.layers, editor.relevance.channels))
        if resolved is not None:
            resolved[key] = shift.detach().cpu().numpy().astype(np.float32)
        moved.append(count)
    return styles, moved
