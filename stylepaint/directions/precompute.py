"""Channel relevance, fast: the StyleCLIP recipe computed in batches on a shortened synthesis.

For every non-toRGB channel c and each of N images, the channel is set to mean ± k·std, both
images go through CLIP, and the normalised difference of their unit embeddings is averaged
over images and normalised: row c of R. What makes it fast, without changing the recipe:

- **Early stop**: CLIP sees ``clip.input_resolution`` pixels, so synthesis stops after the
  first block whose resolution reaches it (in a trained generator the later blocks add detail
  that downsampling to CLIP's input removes). Layers in later blocks run up to their own
  block. Because that premise can fail (random or unusual generators), each build first
  checks it: rows of a few sampled channels computed both ways must agree (mean cosine >=
  ``EARLY_STOP_MIN_COS``), otherwise the build renders at full resolution.
- **Prefix reuse**: blocks before the perturbed layer's block are computed once per image
  chunk; only the perturbed block and those after it run for the perturbations.
- **Batching**: many (image, channel, sign) perturbations go through one forward.
- **CUDA**: channels-last feature maps and fp16 autocast for CLIP.
- **Memory bounded**: unless a batch is given, each layer's batch is the most perturbed
  images whose estimated peak fits the memory budget (``engine.memory_budget``; default a
  quarter of RAM, never more than is free).

``method="linear"`` computes the same rows from derivatives instead of differences where
that is cheaper and checked to agree (``directions/linear.py``).

``directions.job.relevance_job`` drives these pieces: a generator yielding progress dicts;
the ``Relevance`` it fills is usable at any time (finished layers only), and it can start
from a partial result.
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import asdict, dataclass, replace

import torch

from stylepaint.directions.relevance import Relevance
from stylepaint.directions.stats import style_statistics
from stylepaint.engine.memory_budget import MemoryBudget, clip_bytes, model_bytes, synthesis_bytes
from stylepaint.errors import InputError


EARLY_STOP_MIN_COS = 0.98     # sampled rows must agree this well for the early stop to be used
EARLY_STOP_SAMPLES = 8        # channels sampled for that check
EARLY_STOP_IMAGES = 4         # on the first images only: full-resolution renders of big models cost seconds


@dataclass(frozen=True)
class BuildParams:
    """The recipe's parameters: they (and both models) key the on-disk cache."""

    n_images: int = 100          # images the relevance is averaged over
    k: float = 5.0               # perturbation size in stds
    n_stats: int = 10_000        # samples for the StyleSpace mean/std
    seed: int = 0                # seeds the statistics and the images
    truncation_psi: float = 1.0  # truncation of the N images
    noise_mode: str = "const"
    early_stop: bool = True      # stop synthesis at the CLIP input resolution
    method: str = "finite"       # "finite": the recipe's differences; "linear": derivatives where faithful

    def __post_init__(self):
        if self.n_images < 1 or self.n_stats < 2 or self.k <= 0:
            raise InputError("direction build needs n_images >= 1, n_stats >= 2 and k > 0")
        if self.method not in METHODS:
            raise InputError(f"the direction build method must be one of {', '.join(METHODS)}, not {self.method!r}")

    def to_dict(self) -> dict:
        """The fields that key the cache (the default method is left out: older caches stay valid)."""
        out = asdict(self)
        if out["method"] == "finite":
            del out["method"]
        return out


METHODS = ("finite", "linear")
MAX_BATCH = {"cuda": 1024, "cpu": 256}    # perturbed images per forward: more does not go faster


def default_batch_size(device) -> int:
    return MAX_BATCH["cuda" if torch.device(device).type == "cuda" else "cpu"]


def layer_span(G, clip, layer, params: BuildParams) -> tuple[int, int]:
    """(index of the layer's block, index of the last block a perturbation of it runs to)."""
    block_index = G.synthesis.block_resolutions.index(layer.resolution)
    return block_index, max(stop_block(G, clip.input_resolution, params.early_stop), block_index)


def spread(items: list, n: int) -> list:
    """``n`` items evenly spread over ``items``, first and last included (all of them if fewer)."""
    return [items[round(i * (len(items) - 1) / max(n - 1, 1))] for i in range(min(n, len(items)))]


def unit_rows(x: torch.Tensor) -> torch.Tensor:
    return x / x.norm(dim=-1, keepdim=True).clamp_min(1e-12)


def finite_batch(G, clip, layer, params: BuildParams, budget: MemoryBudget | None = None) -> int:
    """Perturbed images per forward for ``layer`` that keep the estimated peak within the budget."""
    start, last = layer_span(G, clip, layer, params)
    per_item = synthesis_bytes(G, max(start - 1, 0), last + 1) + clip_bytes(clip)
    fixed = model_bytes(G, clip.model)
    return (budget or MemoryBudget()).batch(per_item, fixed, G.device, cap=default_batch_size(G.device))


def stop_block(G, clip_resolution: int, early_stop: bool = True) -> int:
    """Index of the last block to run: the first whose resolution >= CLIP's input."""
    resolutions = G.synthesis.block_resolutions
    if not early_stop:
        return len(resolutions) - 1
    return next((i for i, r in enumerate(resolutions) if r >= clip_resolution), len(resolutions) - 1)


def image_styles(G, params: BuildParams) -> "dict[str, torch.Tensor]":
    """Styles of the N images the relevance is averaged over (seeded, reproducible)."""
    gen = torch.Generator().manual_seed(int(params.seed) + 1)
    z = torch.randn(params.n_images, G.z_dim, generator=gen).to(G.device)
    with torch.no_grad():
        return G.styles(G.mapping(z, truncation_psi=params.truncation_psi))


def empty_relevance(G, mean: torch.Tensor, std: torch.Tensor, clip_dim: int, meta: dict) -> Relevance:
    layers = G.style_layers
    return Relevance(
        layers=[l.name for l in layers], channels=[l.channels for l in layers],
        torgb=[l.is_torgb for l in layers], resolutions=[l.resolution for l in layers],
        mean=mean.cpu(), std=std.cpu(), R=torch.zeros(sum(l.channels for l in layers), clip_dim),
        done=[False] * len(layers), meta=dict(meta))


def new_relevance(G, clip, params: BuildParams, meta: dict | None = None) -> Relevance:
    mean, std = style_statistics(G, params.n_stats, params.seed)
    return empty_relevance(G, mean, std, clip.embed_dim, meta or {})


def encode(clip, images: torch.Tensor) -> torch.Tensor:
    on_cuda = images.device.type == "cuda"
    with torch.autocast("cuda", dtype=torch.float16) if on_cuda else nullcontext():
        return clip.encode_images(images).float()


@torch.no_grad()
def layer_rows(G, clip, styles0: dict, layer, mean: torch.Tensor, std: torch.Tensor, params: BuildParams,
               batch_size: int, channels: range | None = None):
    """Yield (channels finished so far, rows [C_l, D] or None); the last item carries the rows."""
    synth = G.synthesis
    block_index, last = layer_span(G, clip, layer, params)
    needed = [l.name for l in G.style_layers
              if block_index <= synth.block_resolutions.index(l.resolution) <= last]
    offset = sum(l.channels for l in G.style_layers[:G.style_layers.index(layer)])
    channels = range(layer.channels) if channels is None else channels
    lo = (mean[offset:offset + layer.channels] - params.k * std[offset:offset + layer.channels]).to(G.device)
    hi = (mean[offset:offset + layer.channels] + params.k * std[offset:offset + layer.channels]).to(G.device)
    n = next(iter(styles0.values())).shape[0]
    per_chunk = max(1, min(n, batch_size // 2))           # images per chunk
    per_batch = max(1, batch_size // (2 * per_chunk))     # channels per forward
    channels_last = G.device.type == "cuda"
    sums = torch.zeros(len(channels), clip.embed_dim, device=G.device)
    for i0 in range(0, n, per_chunk):
        chunk = {name: s[i0:i0 + per_chunk] for name, s in styles0.items()}
        m = next(iter(chunk.values())).shape[0]
        x_in = img_in = None
        if block_index > 0:
            x_in, img_in = synth.run_blocks(chunk, params.noise_mode, 0, block_index)
            if channels_last:
                x_in = x_in.contiguous(memory_format=torch.channels_last)
        for j0 in range(0, len(channels), per_batch):
            cs = list(channels[j0:j0 + per_batch])
            reps = 2 * len(cs)
            batch = {name: chunk[name].repeat(reps, 1) for name in needed}
            view = batch[layer.name].view(2, len(cs), m, layer.channels)
            idx = torch.as_tensor(cs, device=G.device)
            view[0, torch.arange(len(cs)), :, idx] = hi[idx].unsqueeze(1).expand(len(cs), m)
            view[1, torch.arange(len(cs)), :, idx] = lo[idx].unsqueeze(1).expand(len(cs), m)
            x = None if x_in is None else x_in.repeat(reps, 1, 1, 1)
            img = None if img_in is None else img_in.repeat(reps, 1, 1, 1)
            _, out = synth.run_blocks(batch, params.noise_mode, block_index, last + 1, x=x, img=img)
            emb = encode(clip, out).view(2, len(cs), m, -1)
            sums[j0:j0 + len(cs)] += unit_rows(emb[0] - emb[1]).sum(dim=1)
            yield (i0 * len(channels) + (j0 + len(cs)) * m) / n, None
    yield float(len(channels)), unit_rows(sums).float().cpu()


def check_early_stop(G, clip, styles0: dict, mean, std, params: BuildParams, batch_size: int | None = None,
                     samples: int = EARLY_STOP_SAMPLES, budget: MemoryBudget | None = None) -> float | None:
    """Mean cosine between early-stopped and full-resolution rows of sampled channels.

    None when the early stop would change nothing (CLIP's input >= the generator's output).
    Channels are spread evenly over the layers that sit at or below the stop block; rows are
    computed on the first ``EARLY_STOP_IMAGES`` images (both ways on the same ones).
    """
    stop = stop_block(G, clip.input_resolution, True)
    if stop == len(G.synthesis.block_resolutions) - 1:
        return None
    resolutions = G.synthesis.block_resolutions
    layers = [l for l in G.style_layers if not l.is_torgb and resolutions.index(l.resolution) <= stop]
    pool = [(l, c) for l in layers for c in range(l.channels)]
    picks = spread(pool, samples)
    full = replace(params, early_stop=False)
    styles0 = {name: s[:EARLY_STOP_IMAGES] for name, s in styles0.items()}
    cosines = []
    for layer, c in picks:
        rows = []
        for variant in (params, full):
            batch = batch_size or finite_batch(G, clip, layer, variant, budget)
            *_, (_, r) = layer_rows(G, clip, styles0, layer, mean, std, variant, batch, range(c, c + 1))
            rows.append(r[0])
        cosines.append(float(rows[0] @ rows[1]))
    return sum(cosines) / len(cosines)
