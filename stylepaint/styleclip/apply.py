"""Shifts of optimized and mapper edit steps at render time, for ``directions.apply_steps``.

An optimized step carries its shift. A mapper step's shift depends on the face: the renderer
hands ``mapper_shifter(G, clip, ws)`` to ``apply_steps``; mappers are read from the user cache
once and kept (keyed by file, size and modification time, so a retrained mapper is used).
"""

from __future__ import annotations

import threading
from collections import OrderedDict

import torch

from stylepaint.errors import InputError
from stylepaint.styleclip.mapper import load_mapper, mapper_path

_lock = threading.Lock()
_mappers: "OrderedDict[tuple, object]" = OrderedDict()
CACHE_SIZE = 8


def cached_mapper(G, clip, step):
    """The trained mapper of ``step`` for ``G`` and ``clip`` (None when none is trained)."""
    path = mapper_path(G, clip, step.prompt, step.neutral, step.layers)
    try:
        st = path.stat()
    except OSError:
        return None
    key = (str(path), st.st_size, st.st_mtime_ns, str(G.device))
    with _lock:
        if key in _mappers:
            _mappers.move_to_end(key)
            return _mappers[key]
    mapper = load_mapper(path, G, clip)
    with _lock:
        _mappers[key] = mapper
        while len(_mappers) > CACHE_SIZE:
            _mappers.popitem(last=False)
    return mapper


def mapper_shifter(G, clip, ws: torch.Tensor):
    """``shift(step, required)`` for ``apply_steps``: the [C] shift of a mapper step for the face
    ``ws`` [1, num_ws, w_dim]; None when no mapper is trained and not ``required``."""
    clip_model = _clip(G, clip)

    def shift(step, required: bool = True):
        mapper = cached_mapper(G, clip_model, step)
        if mapper is None:
            if not required:
                return None
            model = getattr(G, "source_path", None) or "MODEL"
            raise InputError(f"no mapper is trained for '{step.prompt}' on this model and CLIP; "
                             f"run: stylepaint mapper train {model} --prompt \"{step.prompt}\"")
        with torch.no_grad():
            return mapper.shift(G, ws)[0].float().cpu()
    return shift


def _clip(G, clip):
    if clip is not None and not isinstance(clip, str):
        return clip
    from stylepaint.clip import load_clip
    from stylepaint.directions.pairing import default_clip_for

    return load_clip(clip or default_clip_for(G), device=G.device)
