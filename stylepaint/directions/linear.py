"""Linearised relevance: every channel's row from derivatives, one reverse pass per CLIP dimension.

The recipe's row for channel c averages over images the unit vector of
``E(s, s_c = μ_c + kσ_c) − E(s, s_c = μ_c − kσ_c)`` (E: CLIP's unit image embedding). To
first order that difference is ``2kσ_c · ∂E/∂s_c``, whose unit vector is that of the Jacobian
column ``J[:, c]``: the size and sign of 2kσ_c drop out. One vector–Jacobian product per CLIP
dimension (D of them, batched with ``is_grads_batched``) gives J for every channel of the graph
at once: D backward passes per image instead of 2 × C forward passes.

Where it is used. A *group* is the layers whose perturbations run to the same last block
(``precompute.layer_span``): all layers up to the early-stop block form one, each later
block its own.

- cost: a group is linearised when D backward passes through its blocks cost less than the
  finite differences of its channels (``linear_is_cheaper``): the wide layers up to the
  early-stop block, rarely the thin high-resolution blocks after it;
- fidelity: before committing, the linear rows of sampled channels on the first
  ``CHECK_IMAGES`` images are compared with finite-difference rows on the same images; a
  group whose mean cosine is below ``MIN_COS`` is built with finite differences (the build's
  ``meta["linear"]`` says which groups, and the cosine).

The subspace sketch. A channel's row lives in CLIP's D-dimensional space, but the rows of
all channels of one model crowd into far fewer directions (what the image tower can notice
of a face). The first ``SKETCH_IMAGES`` images get full Jacobians (D backward passes each);
the leading right singular vectors of their rows form a basis V (k x D), with k the smallest
that keeps ``SKETCH_COS`` of the last of them when V is taken from the others alone (a
held-out check inside the build); every later image then needs k backward passes
(cotangents V instead of the identity) and its rows are ``(J^T V^T) V``. Where no k below
``SKETCH_MAX_SHARE`` x D holds, every image gets the full D passes. ``meta["linear"]`` records
k and the held-out share.
"""

from __future__ import annotations

import torch

from stylepaint.directions.precompute import BuildParams, encode, layer_rows, layer_span, spread, unit_rows
from stylepaint.engine.memory_budget import MemoryBudget, clip_bytes, model_bytes, synthesis_bytes

MIN_COS = 0.95          # sampled linear rows must agree this well with finite differences
CHECK_SAMPLES = 8       # channels sampled per group for that check
CHECK_IMAGES = 2        # images the check uses (their Jacobians count towards the result)
BACKWARD_COST = 2.0     # a backward pass costs about this many forward passes
SKETCH_IMAGES = 3       # images with full Jacobians, from which the sketch's basis comes
SKETCH_COS = 0.99       # the basis must keep this mean cosine of held-out rows
SKETCH_MAX_SHARE = 0.5  # a basis wider than this share of D saves too little: no sketch


def groups(G, clip, layers, params: BuildParams) -> list[tuple[int, int, list]]:
    """(first block, last block, layers) for runs of ``layers`` sharing their last block."""
    out = []
    for layer in layers:
        start, last = layer_span(G, clip, layer, params)
        if out and out[-1][1] == last:
            out[-1] = (min(out[-1][0], start), last, out[-1][2] + [layer])
        else:
            out.append((start, last, [layer]))
    return out


def _block_macs(G, i: int) -> float:
    synth = G.synthesis
    r = synth.block_resolutions[i]
    c, c_in = synth.channels[r], (synth.channels[r // 2] if i > 0 else 0)
    return 9.0 * r * r * c * (c + c_in)


def _clip_macs(clip) -> float:
    """Multiply-adds of one image through CLIP's image tower: about parameters x tokens."""
    visual = clip.model.visual
    params = sum(p.numel() for p in visual.parameters())
    patch = getattr(visual, "patch_size", (32, 32))
    patch = patch[0] if isinstance(patch, (tuple, list)) else int(patch)
    return float(params) * ((clip.input_resolution // max(patch, 1)) ** 2 + 1)


def linear_is_cheaper(G, clip, start: int, last: int, layers, params: BuildParams) -> bool:
    """Whether D backward passes through blocks start..last beat the group's finite differences."""
    clip_macs = _clip_macs(clip)
    run = sum(_block_macs(G, i) for i in range(start, last + 1)) + clip_macs
    linear = run * (1 + BACKWARD_COST * clip.embed_dim)
    finite = sum(2 * l.channels * (sum(_block_macs(G, i) for i in range(layer_span(G, clip, l, params)[0], last + 1))
                                   + clip_macs) for l in layers)
    return linear < finite


def vjp_batch(G, clip, start: int, last: int, budget: MemoryBudget | None = None) -> int:
    """CLIP dimensions per batched backward pass that keep the estimated peak within the budget."""
    fixed = model_bytes(G, clip.model) + synthesis_bytes(G, start, last + 1, grad=True) + clip_bytes(clip, grad=True)
    per_item = synthesis_bytes(G, start, last + 1) + clip_bytes(clip)
    return (budget or MemoryBudget()).batch(per_item, fixed, G.device, cap=clip.embed_dim)


def image_jacobian(G, clip, styles: dict, layers, start: int, last: int, params: BuildParams,
                   batch: int, basis: torch.Tensor | None = None):
    """Yield (passes done, None) per batched backward pass, then (passes, J [sum C_l, D]).

    ``styles``: one image's styles (name -> [1, C]); J's rows are the channels of ``layers``
    in order: the derivative of CLIP's unit embedding with respect to each. With ``basis``
    (k x D, orthonormal rows) only k passes run and J is projected onto the basis' span.
    """
    synth = G.synthesis
    with torch.no_grad():
        x, img = synth.run_blocks(styles, params.noise_mode, 0, start) if start > 0 else (None, None)
    leaves = [styles[l.name].detach().clone().requires_grad_(True) for l in layers]
    with torch.enable_grad():
        run = dict(styles)
        run.update({l.name: leaf for l, leaf in zip(layers, leaves)})
        _, out = synth.run_blocks(run, params.noise_mode, start, last + 1, x=x, img=img)
        emb = encode(clip, out)[0]
        cotangents = (torch.eye(emb.shape[0], device=emb.device, dtype=emb.dtype) if basis is None
                      else basis.to(emb.device, emb.dtype))
        passes = cotangents.shape[0]
        parts = []
        for d0 in range(0, passes, batch):
            grads = torch.autograd.grad(emb, leaves, cotangents[d0:d0 + batch], retain_graph=True,
                                        is_grads_batched=True)
            parts.append(torch.cat([g[:, 0] for g in grads], dim=1).detach())
            yield float(min(d0 + batch, passes)), None
    J = torch.cat(parts).t().float().cpu()
    yield float(passes), (J if basis is None else J @ basis.float().cpu())


def _kept(rows: torch.Tensor, basis: torch.Tensor) -> torch.Tensor:
    """Mean over ``rows`` (unit) of the norm kept by the first k rows of ``basis``, for every k."""
    return ((rows @ basis.t()) ** 2).cumsum(1).clamp_max(1.0).sqrt().mean(0)


def sketch_basis(images: list[torch.Tensor], min_cos: float | None = None,
                 max_share: float | None = None) -> tuple[torch.Tensor | None, float]:
    """(basis k x D from all ``images``' unit rows, held-out kept share), or (None, best share)
    when no k <= max_share x D keeps ``min_cos`` of the last image's rows with a basis from the others."""
    min_cos = SKETCH_COS if min_cos is None else min_cos
    max_share = SKETCH_MAX_SHARE if max_share is None else max_share
    *fit, held_out = images
    limit = max(1, int(held_out.shape[1] * max_share))
    kept = _kept(held_out, torch.linalg.svd(torch.cat(fit), full_matrices=False).Vh)[:limit]
    enough = (kept >= min_cos).nonzero()
    if not len(enough):
        return None, float(kept[-1])
    k = int(enough[0]) + 1
    return torch.linalg.svd(torch.cat(images), full_matrices=False).Vh[:k].contiguous(), float(kept[k - 1])


def sketches(n_images: int) -> bool:
    """Whether a build of ``n_images`` uses the sketch: with fewer, the full passes cost no more."""
    return n_images > SKETCH_IMAGES + 1


def group_rows(G, clip, styles0: dict, layers, start: int, last: int, mean, std, params: BuildParams,
               budget: MemoryBudget | None = None, finite_batch: int = 16):
    """Yield progress (channels' worth done, as a float); return (rows by layer name or None, check).

    ``check`` = {"cos": mean cosine of the sampled rows, "channels": how many were sampled}.
    The rows are None when the check fails: the caller builds the group with finite differences.
    """
    n = next(iter(styles0.values())).shape[0]
    width = sum(l.channels for l in layers)
    batch = vjp_batch(G, clip, start, last, budget)
    sums = torch.zeros(width, clip.embed_dim)
    check, basis, full = None, None, []
    sketch = sketches(n)
    for i in range(n):
        passes = clip.embed_dim if basis is None else basis.shape[0]
        for done, J in image_jacobian(G, clip, {k: v[i:i + 1] for k, v in styles0.items()}, layers, start, last,
                                      params, batch, basis):
            if J is None:
                yield width * (i + done / passes) / n
        rows_i = unit_rows(J)
        sums += rows_i
        if sketch and i < SKETCH_IMAGES:
            full.append(rows_i)
            if i + 1 == SKETCH_IMAGES:
                basis, kept = sketch_basis(full)
                check_sketch = {"sketch_k": None if basis is None else basis.shape[0], "sketch_kept": round(kept, 4)}
                full = []
        if i + 1 == min(CHECK_IMAGES, n):
            check = fidelity(G, clip, {k: v[:i + 1] for k, v in styles0.items()}, layers, unit_rows(sums),
                             mean, std, params, finite_batch)
            if check["cos"] < MIN_COS:
                return None, check
    if sketch:
        check.update(check_sketch)
    rows = unit_rows(sums)
    out, offset = {}, 0
    for layer in layers:
        out[layer.name] = rows[offset:offset + layer.channels]
        offset += layer.channels
    return out, check


def fidelity(G, clip, styles0: dict, layers, rows: torch.Tensor, mean, std, params: BuildParams,
             batch: int = 16, samples: int = CHECK_SAMPLES) -> dict:
    """Mean cosine between ``rows`` (linear, the channels of ``layers`` in order) and the
    finite-difference rows of ``samples`` channels spread over them, on the images of ``styles0``."""
    pool = [(l, c, j) for j, (l, c) in enumerate((l, c) for l in layers for c in range(l.channels))]
    picks = spread(pool, samples)
    cosines = []
    for layer, c, j in picks:
        *_, (_, finite) = layer_rows(G, clip, styles0, layer, mean, std, params, batch, range(c, c + 1))
        cosines.append(float(finite[0] @ rows[j]))
    return {"cos": sum(cosines) / len(cosines), "channels": len(cosines)}
