"""StyleCLIP global directions: statistics, fast relevance precompute, disk cache, editor.

    from stylepaint.directions import build, run, Editor, apply_steps
    rel = run(build(G, clip))                              # or iterate build(...) for progress
    editor = Editor(rel, clip, G.img_resolution)
    styles2, moved = editor.apply(G.styles(ws), editor.direction("curly hair", "hair"), 4.0, 0.12)
"""

from stylepaint.directions.cache import build, cache_key, cached, generator_id, run
from stylepaint.directions.editor import Editor, apply_steps, edit_shift
from stylepaint.directions.pairing import default_clip_for, default_neutral_for, open_editor
from stylepaint.directions.job import relevance_job
from stylepaint.directions.precompute import BuildParams
from stylepaint.directions.relevance import Relevance


__all__ = ["BuildParams", "Editor", "Relevance", "apply_steps", "build", "cache_key", "cached", "edit_shift",
           "default_clip_for", "default_neutral_for", "generator_id", "open_editor",
           "relevance_job", "run"]
