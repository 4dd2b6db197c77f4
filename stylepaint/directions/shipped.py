"""Directions shipped beside an embedded model, so its first prompt edits without a build.

``resources/models/<model>.directions.pt`` is a directions file in the cache's own format
(checksummed, keyed by the generator, the CLIP and the recipe), listed in the models manifest
with ``role: directions``. The editor and the CLI take it exactly as they take a cached build;
a build in the user cache (e.g. with a bigger recipe) wins over it.
"""

from __future__ import annotations

import time
from pathlib import Path

from stylepaint.directions.cache import cache_key, generator_id, load_checked, save_atomic
from stylepaint.directions.precompute import BuildParams
from stylepaint.directions.relevance import Relevance
from stylepaint.errors import InputError

SUFFIX = ".directions.pt"


def shipped_path(G) -> Path | None:
    """Where directions for ``G`` would be shipped (beside its file), or None for an in-memory model."""
    source = getattr(G, "source_path", None)
    return Path(source).with_name(Path(source).name + SUFFIX) if source else None


def shipped_directions(G, clip, params: BuildParams | None = None) -> Relevance | None:
    """The directions shipped beside ``G`` for ``clip``: with ``params``, only that recipe's;
    without, whatever recipe they were built with. None when absent, damaged or for other models."""
    path = shipped_path(G)
    if path is None or not path.is_file():
        return None
    if params is not None:
        return load_checked(path, cache_key(G, clip, params))[0]
    rel, _ = load_checked(path)
    prefix = f"{generator_id(G)}-{clip.model_id}-"
    return rel if rel is not None and str(rel.meta.get("key", "")).startswith(prefix) else None


def ship_directions(G, rel: Relevance, clip_spec: str, params: BuildParams, seconds: float | None = None) -> dict:
    """Install ``rel`` (a complete build for ``G``) beside ``G``'s file in the embedded models
    folder and list it in the manifest; returns the manifest entry."""
    from stylepaint.paths import MODELS_DIR
    from stylepaint.portraits.manifest import update_entry

    path = shipped_path(G)
    if path is None or path.parent.resolve() != Path(MODELS_DIR).resolve():
        raise InputError(f"only a model in {MODELS_DIR} carries shipped directions; "
                         f"{getattr(G, 'source_path', 'this model')} is not one")
    if not rel.complete:
        raise InputError("these directions are not finished; build them to the end before shipping")
    save_atomic(rel, path)
    entry = update_entry(path, role="directions", generator=Path(G.source_path).name, clip=clip_spec,
                         key=rel.meta.get("key"), recipe=params.to_dict(), build_seconds=seconds,
                         shipped=time.strftime("%Y-%m-%d"),
                         command=f"stylepaint directions build {Path(G.source_path).name} --clip {clip_spec} "
                                 f"--images {params.n_images} --ship")
    entry["file"] = path.name
    return entry
