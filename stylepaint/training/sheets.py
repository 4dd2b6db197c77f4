"""Picture sheets of a generator: a sample grid at fixed seeds and a truncation strip."""

from __future__ import annotations

import numpy as np
import torch

SHEET_SEEDS = range(64)
STRIP_PSIS = (1.0, 0.85, 0.7, 0.55, 0.4, 0.25, 0.0)


def seed_latents(G, seeds) -> torch.Tensor:
    """z for each seed, drawn the way ``stylepaint render --seed N`` does (NumPy RandomState)."""
    from stylepaint.engine.stylespace import seed_to_z

    return torch.cat([seed_to_z(G, s, device=next(G.parameters()).device) for s in seeds])


@torch.no_grad()
def _images(G, z: torch.Tensor, psi: float) -> np.ndarray:
    out = []
    for part in z.split(16):
        img = G(part, truncation_psi=psi, noise_mode="const").float().clamp(-1, 1)
        out.append(((img + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy())
    return np.concatenate(out)


def tile(images: np.ndarray, columns: int) -> np.ndarray:
    """uint8 [N, R, R, 3] -> [rows * R, columns * R, 3] (missing tiles black)."""
    n, r = len(images), images.shape[1]
    rows = -(-n // columns)
    grid = np.zeros((rows * r, columns * r, 3), np.uint8)
    for i, im in enumerate(images):
        grid[(i // columns) * r:(i // columns + 1) * r, (i % columns) * r:(i % columns + 1) * r] = im
    return grid


def sample_sheet(G, seeds=SHEET_SEEDS, truncation_psi: float = 1.0, columns: int = 8) -> np.ndarray:
    """An 8x8 (by default) grid of samples at fixed seeds."""
    return tile(_images(G, seed_latents(G, seeds), truncation_psi), columns)


def truncation_strip(G, seeds=range(4), psis=STRIP_PSIS) -> np.ndarray:
    """One row per seed, one column per psi (1 -> 0: from a free sample to the average face)."""
    z = seed_latents(G, seeds)
    cols = [_images(G, z, psi) for psi in psis]               # [P][S, R, R, 3]
    images = np.stack(cols, axis=1).reshape(-1, *cols[0].shape[1:])
    return tile(images, len(psis))
