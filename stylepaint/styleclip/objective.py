"""The StyleCLIP objective shared by the latent optimizer and the latent mapper.

    L = w_clip · D_clip(image, text) + w_l2 · |Δ|² + w_content · (1 − cos(CLIP(image), CLIP(start)))
        [+ w_features · mse(F(image), F(start)) for a separately trained feature network F]

D_clip is the cosine distance to the target text, or, with a neutral text, the directional
form 1 − cos(CLIP(image) − CLIP(start), Δt). The content term is a differentiable stand-in for
the paper's ArcFace identity loss. ``features`` must be a network trained for that purpose;
never the shipped oracle, which is kept for measuring edits, not for steering them.

Changes live in StyleSpace: a W+ change Δw maps to the flat style shift A·Δw exactly (each
style is an affine function of its w), so α scales every method's result linearly.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F

from stylepaint.clip.text import clean_prompt
from stylepaint.edits import LAYER_GROUPS
from stylepaint.engine import stylespace
from stylepaint.errors import InputError


@dataclass(frozen=True)
class LossWeights:
    clip: float = 1.0          # CLIP distance to the text
    l2: float = 0.008          # pull to the start: sum of squares of the optimised change
    content: float = 0.1       # 1 − CLIP image–image cosine to the start picture
    features: float = 0.1      # mse of a separately trained feature network (when one is given)

    def to_dict(self) -> dict:
        return asdict(self)


def ws_shift(G, dws: torch.Tensor) -> torch.Tensor:
    """[N, num_ws, w_dim] change of W+ -> [N, C] flat StyleSpace shift (exact: A·Δw)."""
    zero = torch.zeros_like(dws)
    return stylespace.flatten(G.styles(dws)) - stylespace.flatten(G.styles(zero))


class Objective:
    """The loss of an edit of ``prompt`` for generator ``G`` and a loaded ``clip``."""

    def __init__(self, G, clip, prompt: str, neutral: str | None = None, layers: str = "all",
                 weights: LossWeights | None = None, features=None):
        if layers not in LAYER_GROUPS:
            raise InputError(f"unknown layer group {layers!r}; expected one of {', '.join(LAYER_GROUPS)}")
        self.G, self.clip, self.features = G, clip, features
        self.prompt = clean_prompt(prompt)
        self.neutral = None if neutral is None or not str(neutral).strip() else clean_prompt(neutral)
        self.layers = layers
        self.weights = weights or LossWeights()
        # clones: the text cache may hold tensors a render made under inference mode, which
        # autograd refuses to save (the editor optimizes after rendering the same prompt)
        self.target = clip.text.embed(self.prompt).clone().to(clip.device)
        self.direction = (clip.text.direction(self.prompt, self.neutral).clone().to(clip.device)
                          if self.neutral is not None else None)
        self.mask = stylespace.group_mask(G.style_layers, G.img_resolution, layers).to(G.device).float()
        self.resolution = min(G.img_resolution, clip.input_resolution)

    def render(self, flat_styles: torch.Tensor, full: bool = False) -> torch.Tensor:
        styles = stylespace.unflatten(flat_styles, self.G.style_layers)
        return self.G.synthesis_from_styles(styles, "const", None if full else self.resolution)

    def start(self, ws: torch.Tensor) -> dict:
        """What the loss compares against, for start latents ``ws`` [N, num_ws, w_dim]."""
        with torch.no_grad():
            styles = stylespace.flatten(self.G.styles(ws.to(self.G.device)))
            image = self.render(styles)
            out = {"ws": ws, "styles": styles, "emb": self.clip.encode_images(image)}
            if self.features is not None:
                out["features"] = self.features(image)
        return out

    def shift(self, dws: torch.Tensor) -> torch.Tensor:
        """A W+ change -> the flat style shift this edit may make (outside its layer group: 0)."""
        return ws_shift(self.G, dws) * self.mask

    def __call__(self, start: dict, shift: torch.Tensor, l2_of: torch.Tensor) -> tuple[torch.Tensor, dict]:
        """Mean loss over the batch for style ``shift`` [N, C]; ``l2_of`` is the optimised change."""
        image = self.render(start["styles"] + shift)
        emb = self.clip.encode_images(image)
        if self.direction is None:
            d_clip = 1 - emb @ self.target
        else:
            moved = emb - start["emb"]
            d_clip = 1 - (moved @ self.direction) / moved.norm(dim=-1).clamp_min(1e-8)
        l2 = l2_of.flatten(1).pow(2).sum(1)
        content = 1 - (emb * start["emb"]).sum(-1)
        w = self.weights
        total = w.clip * d_clip + w.l2 * l2 + w.content * content
        parts = {"clip": d_clip.mean(), "l2": l2.mean(), "content": content.mean()}
        if self.features is not None:
            feats = F.mse_loss(self.features(image), start["features"], reduction="none").flatten(1).mean(1)
            total = total + w.features * feats
            parts["features"] = feats.mean()
        return total.mean(), {k: float(v.detach()) for k, v in parts.items()}
