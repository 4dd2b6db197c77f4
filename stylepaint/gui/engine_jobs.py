"""The editor's StyleCLIP and tag jobs: generator functions the worker runs on a job thread.

Like ``worker.build_directions_job`` they reach the engine through the worker's renderer (its
generator cache) and import the engine lazily, on the job thread; they yield progress dicts,
return plain numpy/EditStep values and raise ``StylepaintError`` for what the user must fix.
Closing one (cancel) stops it between steps: nothing is returned, nothing is saved.

* ``optimize_edit_job``: the latent optimizer for the current face -> the edit's StyleSpace Δ.
* ``mapper_edit_job``: reuse this prompt's cached latent mapper, or train and cache one.
* ``universal_edit_job``: an instruction or description through the universal mapper -> the Δ.
* ``tag_faces_job``: faces from tags (portrait code or CLIP search) -> ws and thumbnails.
* ``read_face_job``: the oracle's reading of each vocabulary group on the face without its edits.
* ``code_morph_job``: an attribute morph through the portrait code (the embedded default) -> the Δ.
"""

from __future__ import annotations

import numpy as np

from stylepaint.errors import StylepaintError
from stylepaint.gui.worker import engine_job

def _engine(worker, model, clip, device, with_clip: bool = True):
    """(generator, loaded CLIP or None) through the worker's renderer (``load_clip`` keeps CLIPs)."""
    renderer = worker.renderer if worker is not None else None
    if renderer is None:
        raise StylepaintError("this render function cannot run StyleCLIP jobs")
    G = renderer.generator(model, device)
    if not with_clip:
        return G, None
    from stylepaint.clip import load_clip
    from stylepaint.directions.pairing import default_clip_for

    return G, load_clip(clip or default_clip_for(G), device=G.device)


def _steps(job, keep: str):
    """Run an engine job, yielding its progress without big values; returns its last dict."""
    last = None
    try:
        for info in job:
            if info.get("finished"):
                last = info
            else:
                yield {k: v for k, v in info.items() if k not in (keep, "parts")}
    finally:
        job.close()
    if last is None:
        raise StylepaintError("the job stopped without a result")
    return last


@engine_job
def optimize_edit_job(model, clip, device, ws, prompt: str, neutral=None, layers: str = "all", steps: int = 40,
                      seed: int = 0, worker=None):
    """The latent optimizer from the face ``ws`` [num_ws, w_dim]; returns {"delta" [C] float32,
    "model_id", "losses"}. Progress dicts carry a ``preview`` picture every few steps."""
    from stylepaint.styleclip import OptimizeParams, optimize

    G, clip_model = _engine(worker, model, clip, device)
    yield {"done": 0, "total": steps, "message": f"Optimizing “{prompt}”"}
    job = optimize(G, clip_model, np.asarray(ws, np.float32), prompt, neutral, layers,
                   OptimizeParams(steps=int(steps), seed=int(seed), preview_every=max(1, int(steps) // 4)))
    last = yield from _steps(job, "edit")
    return {"delta": np.asarray(last["delta"], np.float32), "model_id": G.model_id, "losses": list(last["losses"])}


@engine_job
def mapper_edit_job(model, clip, device, prompt: str, neutral=None, layers: str = "all", steps: int = 2000,
                    minutes: float | None = 5.0, seed: int = 0, worker=None):
    """This prompt's latent mapper: the cached one when there is one (a file made for another
    model or CLIP is a clear ``DataFileError``), else trained and saved; returns {"trained",
    "path", "model_id"}."""
    from stylepaint.styleclip import load_mapper, mapper_path, save_mapper, train_mapper
    from stylepaint.styleclip.mapper import MapperParams

    G, clip_model = _engine(worker, model, clip, device)
    path = mapper_path(G, clip_model, prompt, neutral, layers)
    if path.exists():
        load_mapper(path, G, clip_model)
        return {"trained": False, "path": str(path), "model_id": G.model_id}
    yield {"done": 0, "total": steps, "message": f"Training a mapper for “{prompt}”"}
    params = MapperParams(steps=int(steps), minutes=minutes, seed=int(seed))
    last = yield from _steps(train_mapper(G, clip_model, prompt, neutral, layers, params), "mapper")
    return {"trained": True, "path": str(save_mapper(last["mapper"], G, clip_model)), "model_id": G.model_id}


@engine_job
def universal_edit_job(model, clip, device, ws, text: str, target=None, worker=None):
    """The universal mapper's edit of the face ``ws`` for an instruction ("make the hair red") or a
    description; returns {"delta" [C] float32, "name" (how it was understood, "hair colour → red"),
    "kind", "reading" (the message's words for it), "guess" (the reader is unsure), "alternative"
    ((group, value, label) of a guess's runner-up, or None), "model_id"}. ``target`` (group, value):
    the target the person chose instead of the reader's guess. No mapper for this model and CLIP,
    or an instruction it cannot read, is one ``StylepaintError``."""
    from stylepaint.styleclip.instructions import universal_step
    from stylepaint.styleclip.phrasings import label
    from stylepaint.styleclip.universal_mapper import require_universal

    G, clip_model = _engine(worker, model, clip, device)
    yield {"done": 0, "total": 1, "message": f"Reading “{text}”"}
    step, understood = universal_step(G, clip_model, require_universal(G, clip_model), np.asarray(ws, np.float32), text,
                                      target=target)
    alt = understood.alternative
    return {"delta": np.asarray(step.delta, np.float32), "name": understood.label, "kind": understood.kind,
            "reading": understood.reading(), "guess": understood.guess,
            "alternative": (*alt, label(*alt)) if alt else None, "model_id": G.model_id}


@engine_job
def tag_faces_job(model, clip, device, tags, count: int = 8, seed: int = 0, truncation: float = 1.0, worker=None):
    """Faces with ``tags`` (group -> value, or free-text phrases scored by CLIP); returns {"ws"
    [count, num_ws, w_dim], "images" [count, H, W, 3] uint8, "method", "model_id"}."""
    from stylepaint.tag_faces import faces_from_tags, render_faces

    G, clip_model = _engine(worker, model, clip, device, with_clip=isinstance(tags, list))
    yield {"done": 0, "total": count, "message": "Finding faces"}
    last = None
    for last in faces_from_tags(G, tags, count=count, seed=seed, clip=clip_model, truncation=truncation):
        yield {k: v for k, v in last.items() if k in ("done", "total", "message")}
    ws, images = render_faces(G, last["z"], truncation if last["method"] == "CLIP search" else 1.0)
    return {"ws": ws, "images": images, "method": last["method"], "model_id": G.model_id}


@engine_job
def read_face_job(args: dict, worker=None):
    """The oracle's value of every vocabulary group on the picture ``render(**args)`` makes."""
    from stylepaint.tag_faces import read_tags

    yield {"done": 0, "total": 1, "message": "Reading the face"}
    result = worker.render_fn(**args)
    if result.get("error"):
        raise StylepaintError(result["error"])
    return read_tags(result["image"])[0]


@engine_job
def code_morph_job(args: dict, group: str, target: str, worker=None):
    """The exact morph of the face of ``args`` (the render arguments without edits: its seed or
    latent and truncation) to ``group = target`` through the portrait code (``stylepaint.code_morph``); returns {"delta" [C] float32,
    "source", "model_id"}, or None when the model does not compute the code (a morph then takes
    text directions)."""
    from stylepaint.code_morph import code_morph_delta
    from stylepaint.tag_faces import portrait_code

    yield {"done": 0, "total": 1, "message": "Morphing"}
    G, _ = _engine(worker, args.get("model"), None, args.get("device", "cpu"), with_clip=False)
    code = portrait_code(G)
    if code is None:
        return None
    ws = worker.renderer.face_ws(G, args.get("seed", 0), args.get("ws"), float(args.get("truncation", 1.0)))
    delta, source = code_morph_delta(G, ws, group, target, code=code)
    return {"delta": delta, "source": source, "model_id": G.model_id}
