"""StyleSpace helpers: flatten/unflatten style dicts, layer groups, z/w/w+ conversions."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import torch

from stylepaint.engine.networks import Generator, StyleLayer, assert_shape

LAYER_GROUPS = ("coarse", "middle", "fine")


def flatten(styles: dict) -> torch.Tensor:
    """OrderedDict name -> [N, C_l]  ->  [N, sum C_l] in execution order."""
    return torch.cat(list(styles.values()), dim=1)


def unflatten(flat: torch.Tensor, layers: list[StyleLayer]) -> "OrderedDict[str, torch.Tensor]":
    total = sum(l.channels for l in layers)
    assert_shape(flat, [None, total], "flattened styles")
    out, start = OrderedDict(), 0
    for layer in layers:
        out[layer.name] = flat[:, start:start + layer.channels]
        start += layer.channels
    return out


def layer_offsets(layers: list[StyleLayer]) -> dict[str, tuple[int, int]]:
    """name -> (start, stop) column range in the flattened vector."""
    out, start = {}, 0
    for layer in layers:
        out[layer.name] = (start, start + layer.channels)
        start += layer.channels
    return out


def layer_group(layer: StyleLayer, img_resolution: int) -> str:
    """coarse (pose, shape) / middle (features) / fine (colour, texture), by thirds of log2 resolution.

    For a 1024 px FFHQ model this gives coarse 4-16, middle 32-128, fine 256-1024.
    """
    steps = int(np.log2(img_resolution)) - 1          # number of blocks, 4 px .. img_resolution
    index = int(np.log2(layer.resolution)) - 2         # 0 for the 4 px block
    third = index * 3 // steps
    return LAYER_GROUPS[min(third, 2)]


def group_mask(layers: list[StyleLayer], img_resolution: int, group: str) -> torch.Tensor:
    """Bool [total_channels]: which flattened channels belong to `group` ('all' = every one)."""
    parts = []
    for layer in layers:
        keep = group == "all" or layer_group(layer, img_resolution) == group
        parts.append(torch.full([layer.channels], keep, dtype=torch.bool))
    return torch.cat(parts)


def seed_to_z(G: Generator, seed: int, device=None) -> torch.Tensor:
    """The z of a seed, the way the official scripts make it (NumPy RandomState)."""
    z = np.random.RandomState(int(seed) % (2 ** 32)).randn(1, G.z_dim)
    return torch.from_numpy(z).to(torch.float32).to(device or G.device)


def seed_to_ws(G: Generator, seed: int, truncation_psi: float = 1.0) -> torch.Tensor:
    with torch.no_grad():
        return G.mapping(seed_to_z(G, seed), truncation_psi=truncation_psi)


def w_to_ws(G: Generator, w: torch.Tensor) -> torch.Tensor:
    """[N, w_dim] -> [N, num_ws, w_dim] (W -> W+)."""
    assert_shape(w, [None, G.w_dim], "w")
    return w.unsqueeze(1).repeat(1, G.num_ws, 1)
