"""Which CLIP and neutral text go with a generator, and opening an editor from the cache.

The embedded default generator pairs with ``stylepaint/resources/clip_models.json``'s default; a
catalogue model pairs with its catalogue entry's ``clip`` and ``neutral_prompt``; anything
else falls back to the embedded default's pairing.
"""

from __future__ import annotations

from pathlib import Path

from stylepaint.clip import registry
from stylepaint.errors import StylepaintError


def _catalogue_entry(G):
    source = getattr(G, "source_path", None)
    if not source:
        return None
    try:
        from stylepaint.catalogue.registry import load_catalogue

        for entry in load_catalogue():
            if entry.kind == "generator" and entry.filename == Path(source).name:
                return entry
    except Exception:  # a broken catalogue must not stop editing
        return None
    return None


def default_clip_for(G) -> str:
    entry = _catalogue_entry(G)
    return entry.clip if entry is not None and entry.clip else registry.default_clip()


def default_neutral_for(G) -> str:
    entry = _catalogue_entry(G)
    if entry is not None and getattr(entry, "neutral_prompt", None):
        return entry.neutral_prompt
    return registry.default_neutral()


def open_editor(G, clip=None, params=None, build_missing: bool = False, progress=None):
    """An Editor for ``G`` and a CLIP (a spec, None = the model's pairing, or a loaded ClipModel).

    Raises StylepaintError when they are not built yet (unless ``build_missing``): building
    takes minutes and belongs in a background job (``stylepaint.directions.build``).
    """
    from stylepaint.clip import load_clip
    from stylepaint.directions.cache import build, cached, run
    from stylepaint.directions.editor import Editor
    from stylepaint.directions.precompute import BuildParams
    from stylepaint.directions.shipped import shipped_directions

    if clip is None or isinstance(clip, str):
        spec = clip or default_clip_for(G)
        clip_model = load_clip(spec, device=G.device)
    else:
        clip_model, spec = clip, clip.spec
    rel = cached(G, clip_model, params) or shipped_directions(G, clip_model, params)
    if rel is None:
        if not build_missing:
            model = getattr(G, "source_path", "this model")
            raise StylepaintError(f"text directions for {Path(str(model)).name} with CLIP {spec} are not built yet; "
                                  f"run: stylepaint directions build {model} --clip {spec}")
        rel = run(build(G, clip_model, params or BuildParams()), progress)
    return Editor(rel, clip_model, G.img_resolution, default_neutral_for(G))
