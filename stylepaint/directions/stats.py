"""Per-channel StyleSpace mean and std over random samples (mapping + affine layers only).

Only the mapping network and the affine layers run, so 10,000 samples take seconds even on a
CPU; the estimate of each std is then within about 1 % (its relative standard error is
1/sqrt(2n)), far below what moves an edit.
"""

from __future__ import annotations

import torch

from stylepaint.engine import stylespace


@torch.no_grad()
def style_statistics(G, n_samples: int = 10_000, seed: int = 0, truncation_psi: float = 1.0,
                     batch: int = 1000) -> tuple[torch.Tensor, torch.Tensor]:
    """(mean [C], std [C]) of the flattened styles of ``n_samples`` random z (float32, CPU)."""
    gen = torch.Generator().manual_seed(int(seed))
    total = sum(layer.channels for layer in G.style_layers)
    acc = torch.zeros(total, dtype=torch.float64)
    acc2 = torch.zeros(total, dtype=torch.float64)
    shift = None  # subtract a first estimate so the variance does not cancel catastrophically
    done = 0
    while done < n_samples:
        b = min(batch, n_samples - done)
        z = torch.randn(b, G.z_dim, generator=gen).to(G.device)
        flat = stylespace.flatten(G.styles(G.mapping(z, truncation_psi=truncation_psi))).double().cpu()
        if shift is None:
            shift = flat.mean(0)
        flat = flat - shift
        acc += flat.sum(0)
        acc2 += flat.square().sum(0)
        done += b
    mean = acc / done
    var = (acc2 / done - mean.square()).clamp_min(0) * done / max(done - 1, 1)
    return (mean + shift).float(), var.sqrt().float()
