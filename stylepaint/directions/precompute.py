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

``relevance_job`` is a generator yielding progress dicts; the ``Relevance`` it fills is
usable at any time (finished layers only), and it can start from a partial result.
"""

from __future__ import annotations

import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass, replace

import torch

from stylepaint.directions.relevance import Relevance
from stylepaint.directions.stats import style_statistics
from stylepaint.errors import InputError


EARLY_STOP_MIN_COS = 0.98     # sampled rows must agree this well for the early stop to be used
EARLY_STOP_SAMPLES = 8        # channels sampled for that check


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

    def __post_init__(self):
        if self.n_images < 1 or self.n_stats < 2 or self.k <= 0:
            raise InputError("direction build needs n_images >= 1, n_stats >= 2 and k > 0")

    def to_dict(self) -> dict:
        return asdict(self)


def default_batch_size(device) -> int:
    return 1024 if torch.device(device).type == "cuda" else 256


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


def _encode(clip, images: torch.Tensor) -> torch.Tensor:
    on_cuda = images.device.type == "cuda"
    with torch.autocast("cuda", dtype=torch.float16) if on_cuda else nullcontext():
        return clip.encode_images(images).float()


@torch.no_grad()
def layer_rows(G, clip, styles0: dict, layer, mean: torch.Tensor, std: torch.Tensor, params: BuildParams,
               batch_size: int, channels: range | None = None):
    """Yield (channels finished so far, rows [C_l, D] or None); the last item carries the rows."""
    synth = G.synthesis
    block_index = synth.block_resolutions.index(layer.resolution)
    last = max(stop_block(G, clip.input_resolution, params.early_stop), block_index)
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
            emb = _encode(clip, out).view(2, len(cs), m, -1)
            diff = emb[0] - emb[1]
            diff = diff / diff.norm(dim=-1, keepdim=True).clamp_min(1e-12)
            sums[j0:j0 + len(cs)] += diff.sum(dim=1)
            yield (i0 * len(channels) + (j0 + len(cs)) * m) / n, None
    rows = sums / sums.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    yield float(len(channels)), rows.float().cpu()


def check_early_stop(G, clip, styles0: dict, mean, std, params: BuildParams, batch_size: int,
                     samples: int = EARLY_STOP_SAMPLES) -> float | None:
    """Mean cosine between early-stopped and full-resolution rows of sampled channels.

    None when the early stop would change nothing (CLIP's input >= the generator's output).
    Channels are spread evenly over the layers that sit at or below the stop block.
    """
    stop = stop_block(G, clip.input_resolution, True)
    if stop == len(G.synthesis.block_resolutions) - 1:
        return None
    resolutions = G.synthesis.block_resolutions
    layers = [l for l in G.style_layers if not l.is_torgb and resolutions.index(l.resolution) <= stop]
    pool = [(l, c) for l in layers for c in range(l.channels)]
    picks = [pool[round(i * (len(pool) - 1) / max(samples - 1, 1))] for i in range(min(samples, len(pool)))]
    full = replace(params, early_stop=False)
    cosines = []
    for layer, c in picks:
        rows = []
        for variant in (params, full):
            *_, (_, r) = layer_rows(G, clip, styles0, layer, mean, std, variant, batch_size, range(c, c + 1))
            rows.append(r[0])
        cosines.append(float(rows[0] @ rows[1]))
    return sum(cosines) / len(cosines)


def relevance_job(G, clip, params: BuildParams, rel: Relevance, batch_size: int | None = None):
    """Fill ``rel`` layer by layer (skipping layers already done); yield progress dicts.

    Each dict: done/total (channels), layer, layers_done/layers_total, message, relevance
    (the live, partially filled result). Stopping the iteration (``close()``) leaves every
    finished layer in ``rel``.
    """
    batch_size = batch_size or default_batch_size(G.device)
    styles0 = image_styles(G, params)
    todo = [l for l in G.style_layers if not l.is_torgb]
    total = sum(l.channels for l in todo)
    finished = {name for name, d in zip(rel.layers, rel.done) if d}
    done = sum(l.channels for l in todo if l.name in finished)
    offsets = rel.offsets()
    started = time.perf_counter()

    def progress(layer_name, done_now, message):
        return {"done": done_now, "total": total, "layer": layer_name,
                "layers_done": sum(1 for l in todo if l.name in finished), "layers_total": len(todo),
                "elapsed_s": time.perf_counter() - started, "message": message, "relevance": rel}

    yield progress(None, done, f"{len(finished)}/{len(todo)} layers already done")
    if params.early_stop and "early_stop_used" not in rel.meta:
        cos = check_early_stop(G, clip, styles0, rel.mean, rel.std, params, batch_size)
        rel.meta["early_stop_check_cos"] = cos
        rel.meta["early_stop_used"] = cos is not None and cos >= EARLY_STOP_MIN_COS
        yield progress(None, done, "early stop: " + ("not needed" if cos is None else
                                                     f"sampled rows agree to {cos:.3f}, "
                                                     f"{'used' if rel.meta['early_stop_used'] else 'full resolution'}"))
    run_params = replace(params, early_stop=bool(params.early_stop and rel.meta.get("early_stop_used", False)))
    for layer in todo:
        if layer.name in finished:
            continue
        for partial, rows in layer_rows(G, clip, styles0, layer, rel.mean, rel.std, run_params, batch_size):
            if rows is None:
                yield progress(layer.name, done + partial, f"{layer.name}")
        start, stop = offsets[layer.name]
        rel.R[start:stop] = rows
        rel.done[rel.layers.index(layer.name)] = True
        finished.add(layer.name)
        done += layer.channels
        yield progress(layer.name, done, f"{layer.name} done")
