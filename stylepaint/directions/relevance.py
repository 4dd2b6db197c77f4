"""The result of a direction build: StyleSpace statistics plus the channel relevance matrix.

``R`` has one row per flattened StyleSpace channel (execution order, toRGB included) and one
column per CLIP embedding dimension. A row is the unit CLIP-space direction that moving that
channel produces; toRGB rows, and rows of layers not computed yet, are zero. ``done`` says,
per layer, whether its rows are final, so a half-built result is usable: unfinished layers
simply never move.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch


@dataclass
class Relevance:
    layers: list[str]                  # style layer names in execution order
    channels: list[int]                # channels per layer
    torgb: list[bool]                  # which layers are toRGB (never relevant)
    resolutions: list[int]             # block resolution of each layer
    mean: torch.Tensor                 # [C] StyleSpace mean per channel
    std: torch.Tensor                  # [C] StyleSpace std per channel
    R: torch.Tensor                    # [C, D] relevance (unit rows; zero where unknown)
    done: list[bool]                   # per layer: rows final
    meta: dict = field(default_factory=dict)   # generator/clip ids, recipe parameters, timings

    @property
    def total_channels(self) -> int:
        return int(sum(self.channels))

    @property
    def clip_dim(self) -> int:
        return int(self.R.shape[1])

    @property
    def complete(self) -> bool:
        return all(d or t for d, t in zip(self.done, self.torgb))

    def offsets(self) -> dict[str, tuple[int, int]]:
        out, start = {}, 0
        for name, c in zip(self.layers, self.channels):
            out[name] = (start, start + c)
            start += c
        return out

    def rows(self, layer: str) -> torch.Tensor:
        start, stop = self.offsets()[layer]
        return self.R[start:stop]

    def to_state(self) -> dict:
        """Plain tensors, lists and scalars (loadable with torch.load(weights_only=True))."""
        return {"layers": list(self.layers), "channels": [int(c) for c in self.channels],
                "torgb": [bool(t) for t in self.torgb], "resolutions": [int(r) for r in self.resolutions],
                "mean": self.mean.cpu(), "std": self.std.cpu(),
                "R": self.R.cpu(), "done": [bool(d) for d in self.done], "meta": dict(self.meta)}

    @classmethod
    def from_state(cls, state: dict) -> "Relevance":
        return cls(layers=list(state["layers"]), channels=list(state["channels"]), torgb=list(state["torgb"]),
                   resolutions=list(state["resolutions"]),
                   mean=state["mean"], std=state["std"], R=state["R"], done=list(state["done"]),
                   meta=dict(state.get("meta", {})))
