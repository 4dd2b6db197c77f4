"""Direction builds cached on disk, resumable, and usable while they run.

Files live in ``paths.user_cache_dir()/directions``, named by a hash of the generator's id,
the CLIP's id and the recipe parameters: ``<key>.pt`` (complete) and ``<key>.partial.pt``
(finished layers of a cancelled build). Files are written atomically (temporary file, then
rename) and only when a build completes or is cancelled; a build that fails writes nothing.

Each file carries a sha256 of its contents. A file that is unreadable, from another format
or key, fails its checksum, or holds non-finite or inconsistent numbers is never used: the
build says that it rebuilds and why (``rebuild_reason`` and the first progress message).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

import torch

from stylepaint import paths
from stylepaint.directions.job import relevance_job
from stylepaint.directions.precompute import BuildParams, new_relevance
from stylepaint.directions.relevance import Relevance
from stylepaint.errors import Cancelled, FileError, StylepaintError
from stylepaint.safe_read import open_regular

FORMAT = 2   # 2: files carry a checksum of their contents


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


def checksum(state: dict) -> str:
    """sha256 of a saved relevance's contents (lists, meta and tensor bytes), not of the file."""
    h = hashlib.sha256()
    plain = {k: state[k] for k in ("layers", "channels", "torgb", "resolutions", "done", "meta")}
    h.update(json.dumps(plain, sort_keys=True, default=str).encode())
    for name in ("mean", "std", "R"):
        t = state[name]
        h.update(f"{name}{list(t.shape)}{t.dtype}".encode())
        h.update(t.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def save_atomic(rel: Relevance, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    state = rel.to_state()
    state = {"format": FORMAT, **state, "checksum": checksum(state)}
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            torch.save(state, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _problem(state, key: str | None) -> str | None:
    """Why a loaded state must not be used, or None."""
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        return "it was written in another format"
    if key is not None and (state.get("meta") or {}).get("key") != key:
        return "it belongs to other models or parameters"
    try:
        if state.get("checksum") != checksum(state):
            return "its contents do not match their checksum (the file was changed or damaged)"
        mean, std, R = state["mean"], state["std"], state["R"]
        rows = sum(int(c) for c in state["channels"])
        if mean.shape != (rows,) or std.shape != (rows,) or R.ndim != 2 or R.shape[0] != rows \
                or not len(state["layers"]) == len(state["done"]) == len(state["torgb"]) == len(state["channels"]):
            return "its tables do not fit together"
    except (KeyError, TypeError, AttributeError, ValueError, RuntimeError) as exc:
        return f"it is incomplete ({type(exc).__name__})"
    if not all(bool(torch.isfinite(t).all()) for t in (mean, std, R)):
        return "it holds NaN or infinite values"
    return None


def load_checked(path: Path, key: str | None = None) -> tuple[Relevance | None, str | None]:
    """(relevance, None) for a good cache file, (None, reason) for a damaged one, (None, None) if absent."""
    if not path.exists():
        return None, None
    try:
        f, _ = open_regular(path, "directions")
        with f:
            state = torch.load(f, map_location="cpu", weights_only=True)
    except StylepaintError as exc:
        return None, exc.problem if isinstance(exc, FileError) else str(exc)
    except Exception as exc:  # torch's zip and unpickling errors have no common base
        return None, f"it cannot be read ({type(exc).__name__}: {str(exc)[:80]})"
    reason = _problem(state, key)
    return (None, reason) if reason else (Relevance.from_state(state), None)


def load(path: Path, key: str | None = None) -> Relevance | None:
    """A cached result, or None when absent, unreadable, damaged or from another format/key."""
    return load_checked(path, key)[0]


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


def build(G, clip, params: BuildParams | None = None, batch_size: int | None = None, use_cache: bool = True,
          budget=None):
    """Job: yield progress dicts while computing (or loading) the relevance; the last one has it.

    Every dict has done/total/message and ``relevance`` (usable at once: unfinished layers
    have zero rows), and ``rebuild_reason``: why a cached file was not used (None if there was none). The last dict also has ``finished: True`` and ``cached`` (loaded from
    disk). ``budget``: an ``engine.memory_budget.MemoryBudget`` the batches keep within when
    ``batch_size`` is None (default a quarter of RAM). Closing the generator early saves the finished layers so the next build of the
    same key resumes after the last finished layer. Any error leaves the cache untouched.
    """
    params = params or BuildParams()
    key = cache_key(G, clip, params)
    final, partial = cache_paths(key)
    reason = None
    if use_cache:
        rel, reason = load_checked(final, key)
        if rel is not None:
            total = sum(c for c, t in zip(rel.channels, rel.torgb) if not t)
            yield {"done": total, "total": total, "message": "loaded from cache", "relevance": rel,
                   "finished": True, "cached": True, "key": key}
            return
    rel, partial_reason = load_checked(partial, key) if use_cache else (None, None)
    reason = (f"the cached {final.name} is not usable: {reason}" if reason else
              f"the cached {partial.name} is not usable: {partial_reason}" if partial_reason else None)
    resumed = rel is not None
    if rel is None:
        meta = {"key": key, "generator": generator_id(G), "clip": clip.model_id, "clip_spec": clip.spec,
                "params": params.to_dict()}
        rel = new_relevance(G, clip, params, meta)
    layers_at_start = sum(rel.done)
    completed = False
    try:
        for i, info in enumerate(relevance_job(G, clip, params, rel, batch_size, budget)):
            info.update(key=key, resumed=resumed, finished=False, cached=False, rebuild_reason=reason)
            if reason and i == 0:
                info["message"] = f"rebuilding the directions because {reason}; {info.get('message', '')}"
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
