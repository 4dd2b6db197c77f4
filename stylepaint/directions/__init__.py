"""StyleCLIP global directions: statistics, fast relevance precompute, disk cache, editor.

    from stylepaint.directions import build, run, Editor, apply_steps
    rel = run(build(G, clip))                              # or iterate build(...) for progress
    editor = Editor(rel, clip, G.img_resolution)
    styles2, moved = editor.apply(G.styles(ws), editor.direction("curly hair", "hair"), 4.0, 0.12)
"""

from stylepaint.directions.cache import build, cache_key, cached, generator_id, run
from stylepaint.directions.editor import Editor, apply_steps, edit_shift
from stylepaint.directions.precompute import BuildParams, relevance_job
from stylepaint.directions.relevance import Relevance


def editor_for(G, clip, params: BuildParams | None = None, build_missing: bool = True, progress=None) -> Editor:
    """An Editor for this generator and CLIP, building (and caching) the directions if needed."""
    from stylepaint.errors import StylepaintError

    rel = cached(G, clip, params)
    if rel is None:
        if not build_missing:
            raise StylepaintError(f"directions for this model and {clip.spec} are not built yet "
                                  f"(stylepaint directions build MODEL --clip {clip.spec})")
        rel = run(build(G, clip, params), progress)
    return Editor(rel, clip, G.img_resolution)


__all__ = ["BuildParams", "Editor", "Relevance", "apply_steps", "build", "cache_key", "cached", "edit_shift",
           "editor_for", "generator_id", "relevance_job", "run"]
