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
"""

from __future__ import annotations

import torch

from stylepaint.directions.precompute import BuildParams, encode, layer_rows, layer_span, spread, unit_rows
from stylepaint.engine.memory_budget import MemoryBudget, clip_bytes, model_bytes, synthesis_bytes

MIN_COS = 0.95          # sampled linear rows must agree this well with finite differences
CHECK_SAMPLES = 8       # channels sampled per group for that check
CHECK_IMAGES = 2        # images the check uses (their Jacobians count towards the result)
BACKWARD_COST = 2.0     # a backward pass costs about this many forward passes


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
                   batch: int):
    """Yield (dimensions done, None) per batched backward pass, then (D, J [sum C_l, D]).

    ``styles``: one image's styles (name -> [1, C]); J's rows are the channels of ``layers``
    in order: the derivative of CLIP's unit embedding with respect to each.
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
        eye = torch.eye(emb.shape[0], device=emb.device, dtype=emb.dtype)
        parts = []
        for d0 in range(0, emb.shape[0], batch):
            grads = torch.autograd.grad(emb, leaves, eye[d0:d0 + batch], retain_graph=True, is_grads_batched=True)
            parts.append(torch.cat([g[:, 0] for g in grads], dim=1).detach())
            yield float(min(d0 + batch, emb.shape[0])), None
    yield float(emb.shape[0]), torch.cat(parts).t().float().cpu()


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
    check = None
    for i in range(n):
        for dims, J in image_jacobian(G, clip, {k: v[i:i + 1] for k, v in styles0.items()}, layers, start, last,
                                      params, batch):
            if J is None:
                yield width * (i + dims / clip.embed_dim) / n
        sums += unit_rows(J)
        if i + 1 == min(CHECK_IMAGES, n):
            check = fidelity(G, clip, {k: v[:i + 1] for k, v in styles0.items()}, layers, unit_rows(sums),
                             mean, std, params, finite_batch)
            if check["cos"] < MIN_COS:
                return None, check
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
