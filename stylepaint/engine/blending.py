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
    return blend_streams(G, styles_a, [(styles_b, mask)], from_layer, noise_mode)


def blend_streams(G: Generator, base: dict, layers: list[tuple[dict, torch.Tensor]],
                  from_layer: str | None = None, noise_mode: str = "const") -> torch.Tensor:
    """Mix several style sets in one pass: start from `base`, then each (styles, mask) in order
    replaces the mixed features where its mask is 1 (later entries win where masks overlap)."""
    names = [l.name for l in G.style_layers]
    if from_layer is not None and from_layer not in names:
        raise ValueError(f"unknown layer {from_layer!r}; expected one of {', '.join(names)}")
    n = next(iter(base.values())).shape[0]
    masks = []
    for _, mask in layers:
        assert_shape(mask, [None, 1, None, None], "mask")
        if mask.shape[0] not in (1, n):
            raise ValueError(f"mask batch {mask.shape[0]} does not match {n} images")
        masks.append((mask.to(G.device, torch.float32), {}))
    streams = [base] + [styles for styles, _ in layers]
    start = 0 if from_layer is None else names.index(from_layer)
    xs = [None] * len(streams)
    imgs = [None] * len(streams)
    index = 0
    for block in G.synthesis.blocks():
        res = block.resolution
        if imgs[0] is not None:
            imgs = [upsample2d(img, block.resample_filter) for img in imgs]
        for lname in block.layer_names:
            name = f"b{res}.{lname}"
            layer = getattr(block, lname)
            if lname == "torgb":
                ys = [layer(x, st[name]).to(torch.float32) for x, st in zip(xs, streams)]
                imgs = [y if img is None else img + y for img, y in zip(imgs, ys)]
                values = imgs
            else:
                if block.in_channels == 0:
                    const = block.const.to(torch.float32).unsqueeze(0).repeat([n, 1, 1, 1])
                    xs = [const] * len(streams)
                xs = [layer(x, st[name], noise_mode) for x, st in zip(xs, streams)]
                values = xs
            if index >= start:
                mixed = values[0]
                for value, (mask, cache) in zip(values[1:], masks):
                    mixed = _mix(mixed, value, _mask_at(mask, res, cache))
                values[:] = [mixed] * len(values)
            index += 1
    return imgs[0]


def default_from_layer(G: Generator) -> str:
    """Where region edits and two-face blends start mixing when the caller does not say.

    Mixing at the 4x4 and 8x8 layers spreads a mask over the whole face; from the first block of
    at least min(32, resolution / 4) pixels on, an edit stays within a few cells of its mask.
    """
    target = min(32, G.img_resolution // 4)
    block = next(b for b in G.synthesis.blocks() if b.resolution >= target)
    return f"b{block.resolution}.{block.layer_names[0]}"
