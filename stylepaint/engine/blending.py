"""Feature blending (SOAT feature interpolation) of two faces in one synthesis pass.

From layer `from_layer` on, after every synthesis layer the feature maps of A and B (and their
skip images) are mixed with a spatial mask: ``x = x_A * (1 - m) + x_B * m``; the mixed features
then feed both A's and B's next layer. m = 0 gives A's image exactly, m = 1 gives B's.
Region edits use it with A = the unedited styles and B = the edited ones.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from stylepaint.engine.networks import Generator, assert_shape, upsample2d


def _mask_at(mask: torch.Tensor, res: int, cache: dict) -> torch.Tensor:
    if res not in cache:
        if mask.shape[-1] == res and mask.shape[-2] == res:
            cache[res] = mask
        elif mask.shape[-1] > res:   # box filter: a pixel far from the seam stays exactly 0 or 1
            cache[res] = F.adaptive_avg_pool2d(mask, (res, res))
        else:
            cache[res] = F.interpolate(mask, size=(res, res), mode="bilinear", align_corners=False).clamp(0, 1)
    return cache[res]


def _mix(a: torch.Tensor, b: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    m = m.to(a.dtype)
    return a * (1 - m) + b * m


def blend_synthesis(G: Generator, styles_a: dict, styles_b: dict, mask: torch.Tensor,
                    from_layer: str | None = None, noise_mode: str = "const") -> torch.Tensor:
    """Render A and B with their features mixed by `mask` ([N or 1, 1, h, w], 0 = A, 1 = B)."""
    names = [l.name for l in G.style_layers]
    if from_layer is not None and from_layer not in names:
        raise ValueError(f"unknown layer {from_layer!r}; expected one of {', '.join(names)}")
    assert_shape(mask, [None, 1, None, None], "mask")
    n = next(iter(styles_a.values())).shape[0]
    mask = mask.to(G.device, torch.float32)
    if mask.shape[0] not in (1, n):
        raise ValueError(f"mask batch {mask.shape[0]} does not match {n} images")
    start = 0 if from_layer is None else names.index(from_layer)
    cache: dict = {}
    synthesis = G.synthesis
    xa = xb = img_a = img_b = None
    index = 0
    for block in synthesis.blocks():
        res = block.resolution
        m = _mask_at(mask, res, cache)
        if img_a is not None:
            img_a = upsample2d(img_a, block.resample_filter)
            img_b = upsample2d(img_b, block.resample_filter)
        for lname in block.layer_names:
            name = f"b{res}.{lname}"
            layer = getattr(block, lname)
            if lname == "torgb":
                ya = layer(xa, styles_a[name]).to(torch.float32)
                yb = layer(xb, styles_b[name]).to(torch.float32)
                img_a = ya if img_a is None else img_a + ya
                img_b = yb if img_b is None else img_b + yb
            else:
                if lname == "conv1" and block.in_channels == 0:
                    const = block.const.to(torch.float32).unsqueeze(0).repeat([n, 1, 1, 1])
                    xa, xb = const, const
                xa = layer(xa, styles_a[name], noise_mode)
                xb = layer(xb, styles_b[name], noise_mode)
            if index >= start:
                if lname == "torgb":
                    img_a = img_b = _mix(img_a, img_b, m)
                else:
                    xa = xb = _mix(xa, xb, m)
            index += 1
    return img_a
