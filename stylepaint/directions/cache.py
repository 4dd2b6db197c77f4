"""Direction builds cached on disk, resumable, and usable while they run.

Files live in ``paths.user_cache_dir()/directions``, named by a hash of the generator's id,
the CLIP's id and the recipe parameters: ``<key>.pt`` (complete) and ``<key>.partial.pt``
(finished layers of a cancelled build). Files are written atomically (temporary file, then
rename) and only when a build completes or is cancelled; a build that fails writes nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

import torch

from stylepaint import paths
from stylepaint.directions.precompute import BuildParams, new_relevance, relevance_job
from stylepaint.directions.relevance import Relevance
from stylepaint.errors import Cancelled

FORMAT = 1


def generator_id(G) -> str:
    """The generator's weight id; fresh untrained generators get one from their state dict."""
    ident = getattr(G, "model_id", None)
    if ident and ident != "untrained":
        return str(ident)
    h = hashlib.sha256(json.dumps(getattr(G, "config", {}), sort_keys=True, default=str).encode())
    for key, value in G.state_dict().items():
        h.update(key.encode())
        h.update(value.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()[:16]


def cache_key(G, clip, params: BuildParams) -> str:
    """``<generator id>-<clip id>-<recipe hash>``: one file name per models-and-recipe triple."""
    blob = json.dumps({"format": FORMAT, "params": params.to_dict()}, sort_keys=True)
    return f"{generator_id(G)}-{clip.model_id}-{hashlib.sha256(blob.encode()).hexdigest()[:12]}"


def cache_dir() -> Path:
    return paths.user_cache_dir() / "directions"


def cache_paths(key: str) -> tuple[Path, Path]:
    folder = cache_dir()
    return folder / f"{key}.pt", folder / f"{key}.partial.pt"


def save_atomic(rel: Relevance, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            torch.save({"format": FORMAT, **rel.to_state()}, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def load(path: Path, key: str | None = None) -> Relevance | None:
    """A cached result, or None when absent, unreadable or from another format/key."""
    if not path.is_file():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        if state.get("format") != FORMAT or (key is not None and state.get("meta", {}).get("key") != key):
            return None
        return Relevance.from_state(state)
    except Exception:  # a damaged cache file is rebuilt, never trusted
        return None


def cached(G, clip, params: BuildParams | None = None) -> Relevance | None:
    """The complete cached relevance for these models and parameters, if built.

    With ``params`` None: the default recipe's build if there is one, else the newest
    complete build for this generator and CLIP with any recipe.
    """
    key = cache_key(G, clip, params or BuildParams())
    rel = load(cache_paths(key)[0], key)
    if rel is not None or params is not None:
        return rel
    prefix = f"{generator_id(G)}-{clip.model_id}-"
    candidates = [p for p in cache_dir().glob(f"{prefix}*.pt") if not p.name.endswith(".partial.pt")]
    for path in sorted(candidates, key=lambda p: p.stat().st_mtime, reverse=True):
        rel = load(path, path.name[:-len(".pt")])
        if rel is not None:
            return rel
    return None


def build(G, clip, params: BuildParams | None = None, batch_size: int | None = None, use_cache: bool = True):
    """Job: yield progress dicts while computing (or loading) the relevance; the last one has it.

    Every dict has done/total/message and ``relevance`` (usable at once: unfinished layers
    have zero rows). The last dict also has ``finished: True`` and ``cached`` (loaded from
    disk). Closing the generator early saves the finished layers so the next build of the
    same key resumes after the last finished layer. Any error leaves the cache untouched.
    """
    params = params or BuildParams()
    key = cache_key(G, clip, params)
    final, partial = cache_paths(key)
    if use_cache:
        rel = load(final, key)
        if rel is not None:
            total = sum(c for c, t in zip(rel.channels, rel.torgb) if not t)
            yield {"done": total, "total": total, "message": "loaded from cache", "relevance": rel,
                   "finished": True, "cached": True, "key": key}
            return
    rel = load(partial, key) if use_cache else None
    resumed = rel is not None
    if rel is None:
        meta = {"key": key, "generator": generator_id(G), "clip": clip.model_id, "clip_spec": clip.spec,
                "params": params.to_dict()}
        rel = new_relevance(G, clip, params, meta)
    layers_at_start = sum(rel.done)
    completed = False
    try:
        for info in relevance_job(G, clip, params, rel, batch_size):
            info.update(key=key, resumed=resumed, finished=False, cached=False)
            yield info
        completed = True
    except (GeneratorExit, Cancelled, KeyboardInterrupt):
        if use_cache and sum(rel.done) > layers_at_start:
            save_atomic(rel, partial)
        raise
    if completed:
        if use_cache:
            save_atomic(rel, final)
            if partial.exists():
                partial.unlink()
        total = sum(c for c, t in zip(rel.channels, rel.torgb) if not t)
        yield {"done": total, "total": total, "message": "done", "relevance": rel, "finished": True,
               "cached": False, "resumed": resumed, "key": key}


def run(job, progress=None) -> Relevance:
    """Drive a build job to the end (optionally calling ``progress(info)``); return the relevance."""
    info = None
    for info in job:
        if progress is not None:
            progress(info)
    return info["relevance"]
