"""Kernel distance between two feature sets (KID: Binkowski et al. 2018).

Unbiased estimate of the squared maximum mean discrepancy with the cubic polynomial kernel
``k(x, y) = (x . y / d + 1) ** 3``, averaged over random subsets. Its expectation is 0 when
both sets come from the same distribution, so single estimates scatter around 0 (and can be
slightly negative); compare a model against the same figure for two independent sets of
real samples (the floor).
"""

from __future__ import annotations

import numpy as np


def polynomial_kernel(x: np.ndarray, y: np.ndarray, degree: int = 3, coef: float = 1.0) -> np.ndarray:
    return (x @ y.T / x.shape[1] + coef) ** degree


def mmd2_unbiased(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased MMD^2 between samples ``x`` [m, d] and ``y`` [n, d] (m, n >= 2)."""
    m, n = len(x), len(y)
    if m < 2 or n < 2:
        raise ValueError("each set needs at least 2 samples")
    kxx = polynomial_kernel(x, x)
    kyy = polynomial_kernel(y, y)
    kxy = polynomial_kernel(x, y)
    term_x = (kxx.sum() - np.trace(kxx)) / (m * (m - 1))
    term_y = (kyy.sum() - np.trace(kyy)) / (n * (n - 1))
    return float(term_x + term_y - 2.0 * kxy.mean())


def kernel_distance(
    x: np.ndarray, y: np.ndarray, num_subsets: int = 100, subset_size: int = 1000, seed: int = 0
) -> dict:
    """KID between feature sets ``x`` [M, d] and ``y`` [N, d]: mean and std of MMD^2 over subsets."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.ndim != 2 or y.ndim != 2 or x.shape[1] != y.shape[1]:
        raise ValueError(f"feature sets must be [N, d] with the same d, not {x.shape} and {y.shape}")
    size = min(subset_size, len(x), len(y))
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(num_subsets):
        xs = x[rng.choice(len(x), size, replace=False)]
        ys = y[rng.choice(len(y), size, replace=False)]
        values.append(mmd2_unbiased(xs, ys))
    values = np.asarray(values)
    return {"mean": float(values.mean()), "std": float(values.std()), "subset_size": size,
            "num_subsets": num_subsets}
