"""CLIP image preprocessing on torch tensors, so gradients flow through it.

Generator images ([N, 3, H, W], about [-1, 1]) are mapped to [0, 1], resized the way the CLIP
weights were trained (shortest side then centre crop, longest side then pad, or squash),
and normalised with the model's own mean and std. Everything is differentiable.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

INTERPOLATIONS = {"bicubic", "bilinear", "nearest", "area"}


def _resize(x: torch.Tensor, size: tuple[int, int], interpolation: str) -> torch.Tensor:
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    if interpolation in ("bicubic", "bilinear"):
        return F.interpolate(x, size=size, mode=interpolation, align_corners=False, antialias=True)
    return F.interpolate(x, size=size, mode=interpolation)


def to_clip_input(
    images: torch.Tensor,                      # [N, 3, H, W] float
    image_size: int | tuple[int, int],         # the model's visual.image_size
    mean,                                      # per-channel mean, 3 floats
    std,                                       # per-channel std, 3 floats
    interpolation: str = "bicubic",
    resize_mode: str = "shortest",             # shortest (+ centre crop) | longest (+ pad) | squash
    value_range: tuple[float, float] = (-1.0, 1.0),
) -> torch.Tensor:
    """Images in ``value_range`` -> normalised CLIP input [N, 3, S, S] (differentiable)."""
    if images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(f"expected images [N, 3, H, W], got {tuple(images.shape)}")
    if interpolation not in INTERPOLATIONS:
        interpolation = "bicubic"
    out_h, out_w = (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)
    lo, hi = value_range
    x = ((images.float() - lo) / (hi - lo)).clamp(0.0, 1.0)
    h, w = x.shape[-2:]
    if resize_mode == "squash":
        x = _resize(x, (out_h, out_w), interpolation)
    elif resize_mode == "longest":
        scale = min(out_h / h, out_w / w)
        nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
        x = _resize(x, (nh, nw), interpolation)
        top, left = (out_h - nh) // 2, (out_w - nw) // 2
        x = F.pad(x, (left, out_w - nw - left, top, out_h - nh - top))
    else:  # shortest side to the target, then centre crop
        scale = max(out_h / h, out_w / w)
        nh, nw = max(out_h, round(h * scale)), max(out_w, round(w * scale))
        x = _resize(x, (nh, nw), interpolation)
        top, left = (nh - out_h) // 2, (nw - out_w) // 2
        x = x[..., top:top + out_h, left:left + out_w]
    mean_t = torch.as_tensor(mean, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    std_t = torch.as_tensor(std, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    return (x - mean_t) / std_t
