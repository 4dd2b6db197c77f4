"""Import the global directions StyleCLIP published for FFHQ (``fs3.npy``) into the cache.

StyleCLIP's ``fs3.npy`` (github.com/orpatashnik/StyleCLIP, ``global_torch/npy/ffhq/fs3.npy``;
raw file: ``STYLECLIP_FFHQ_URL``) holds one row per StyleSpace channel of the conv layers of the
FFHQ config-f generator, in execution order, no toRGB (6048 x 512 for CLIP ViT-B/32): the same
recipe as ours (N = 100 images, ±5 std, unit rows). Its rows become the relevance matrix of
that generator and CLIP; the StyleSpace mean and std come from the generator. The result is
saved as the complete build of the default recipe, so editing finds it like a built one.
"""

from __future__ import annotations

import hashlib
import io

import numpy as np
import torch

from stylepaint.directions.cache import cache_key, cache_paths, generator_id, save_atomic
from stylepaint.directions.precompute import BuildParams, empty_relevance, unit_rows
from stylepaint.directions.relevance import Relevance
from stylepaint.directions.stats import style_statistics
from stylepaint.errors import DataFileError, InputError
from stylepaint.safe_read import open_regular

STYLECLIP_FFHQ_URL = "https://raw.githubusercontent.com/orpatashnik/StyleCLIP/main/global_torch/npy/ffhq/fs3.npy"


def read_fs3(path) -> tuple[np.ndarray, str]:
    """(float32 [channels, D] matrix, sha256 of the file); never unpickles."""
    f, _ = open_regular(path, "directions")
    with f:
        data = f.read()
    try:
        fs3 = np.load(io.BytesIO(data), allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise DataFileError(path, f"is not a .npy matrix ({str(exc)[:80]})") from None
    if fs3.ndim != 2 or not np.issubdtype(fs3.dtype, np.floating):
        raise DataFileError(path, f"holds a {fs3.dtype} array of shape {list(fs3.shape)}, not a [channels, D] matrix")
    if not np.isfinite(fs3).all():
        raise DataFileError(path, "holds NaN or infinite values")
    return fs3.astype(np.float32), hashlib.sha256(data).hexdigest()


def relevance_from_fs3(fs3: np.ndarray, G, mean: torch.Tensor, std: torch.Tensor, meta: dict) -> Relevance:
    """A complete ``Relevance`` whose conv-layer rows are fs3's rows, in order (toRGB rows zero)."""
    conv = [l for l in G.style_layers if not l.is_torgb]
    expected = sum(l.channels for l in conv)
    if fs3.shape[0] != expected:
        raise InputError(f"these directions have {fs3.shape[0]} rows, but the generator's conv layers have "
                         f"{expected} channels ({len(conv)} layers): they were made for another architecture")
    rel = empty_relevance(G, mean, std, fs3.shape[1], meta)
    offsets, row = rel.offsets(), 0
    for layer in conv:
        start, stop = offsets[layer.name]
        rel.R[start:stop] = unit_rows(torch.from_numpy(fs3[row:row + layer.channels]))
        rel.done[rel.layers.index(layer.name)] = True
        row += layer.channels
    return rel


def import_fs3(G, clip, path, params: BuildParams | None = None) -> tuple[Relevance, str]:
    """Read ``path``, check it fits G and ``clip``, save it as the cached build; (relevance, cache file)."""
    params = params or BuildParams()
    fs3, sha = read_fs3(path)
    if fs3.shape[1] != clip.embed_dim:
        raise InputError(f"these directions have {fs3.shape[1]} CLIP dimensions, but CLIP {clip.spec} has "
                         f"{clip.embed_dim}: import them with the CLIP they were made with (ViT-B-32:openai)")
    key = cache_key(G, clip, params)
    mean, std = style_statistics(G, params.n_stats, params.seed)
    meta = {"key": key, "generator": generator_id(G), "clip": clip.model_id, "clip_spec": clip.spec,
            "params": params.to_dict(), "source": "styleclip-fs3", "source_sha256": sha}
    rel = relevance_from_fs3(fs3, G, mean, std, meta)
    final = cache_paths(key)[0]
    save_atomic(rel, final)
    return rel, str(final)
