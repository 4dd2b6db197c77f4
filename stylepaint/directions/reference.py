"""The relevance recipe as written: full resolution, one perturbation at a time.

Slow on purpose: it is the yardstick the fast precompute is checked and timed against
(tests compare rows; ``benchmarks/bench_directions.py`` times it on a sample of channels).
"""

from __future__ import annotations

import torch

from stylepaint.directions.precompute import BuildParams


@torch.no_grad()
def brute_force_row(G, clip, styles0: dict, layer_name: str, channel: int,
                    mean: torch.Tensor, std: torch.Tensor, params: BuildParams) -> torch.Tensor:
    """Row of R for one channel: every image rendered at full resolution, one at a time."""
    offsets, start = {}, 0
    for layer in G.style_layers:
        offsets[layer.name] = start
        start += layer.channels
    flat_index = offsets[layer_name] + channel
    n = next(iter(styles0.values())).shape[0]
    acc = torch.zeros(clip.embed_dim)
    for i in range(n):
        embeddings = []
        for sign in (1.0, -1.0):
            styles = {name: s[i:i + 1].clone() for name, s in styles0.items()}
            styles[layer_name][0, channel] = mean[flat_index] + sign * params.k * std[flat_index]
            img = G.synthesis_from_styles(styles, noise_mode=params.noise_mode)
            embeddings.append(clip.encode_images(img)[0].float().cpu())
        diff = embeddings[0] - embeddings[1]
        acc += diff / diff.norm().clamp_min(1e-12)
    return acc / acc.norm().clamp_min(1e-12)
