"""The build job: fills a ``Relevance`` layer by layer with finite differences
(``precompute``) or, for ``method="linear"``, group by group with derivatives where they are
cheaper and faithful (``linear``), finite differences elsewhere.
"""

from __future__ import annotations

import time
from dataclasses import replace

from stylepaint.directions import linear, precompute
from stylepaint.directions.precompute import BuildParams, check_early_stop, finite_batch, image_styles, layer_rows
from stylepaint.directions.relevance import Relevance
from stylepaint.engine.memory_budget import MemoryBudget


def plan(G, clip, params: BuildParams, layers) -> list[tuple[str, int, int, list]]:
    """Units of work in order: ("finite", block, block, [layer]) or ("linear", first, last, layers)."""
    units = []
    for start, last, group in linear.groups(G, clip, layers, params):
        if params.method == "linear" and linear.linear_is_cheaper(G, clip, start, last, group, params):
            units.append(("linear", start, last, group))
        else:
            units.extend(("finite", start, last, [layer]) for layer in group)
    return units


def relevance_job(G, clip, params: BuildParams, rel: Relevance, batch_size: int | None = None,
                  budget: MemoryBudget | None = None):
    """Fill ``rel`` (skipping layers already done); yield progress dicts.

    Each dict: done/total (channels), layer, layers_done/layers_total, message, relevance
    (the live, partially filled result). Stopping the iteration (``close()``) leaves every
    finished layer in ``rel``. ``batch_size`` None: each layer's batch is chosen from the memory
    ``budget`` (default a quarter of RAM).
    """
    budget = budget or MemoryBudget()
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

    def store(layer, rows):
        nonlocal done
        start, stop = offsets[layer.name]
        rel.R[start:stop] = rows
        rel.done[rel.layers.index(layer.name)] = True
        finished.add(layer.name)
        done += layer.channels

    yield progress(None, done, f"{len(finished)}/{len(todo)} layers already done")
    if params.early_stop and "early_stop_used" not in rel.meta:
        cos = check_early_stop(G, clip, styles0, rel.mean, rel.std, params, batch_size, budget=budget)
        rel.meta["early_stop_check_cos"] = cos
        rel.meta["early_stop_used"] = cos is not None and cos >= precompute.EARLY_STOP_MIN_COS
        yield progress(None, done, "early stop: " + ("not needed" if cos is None else
                                                     f"sampled rows agree to {cos:.3f}, "
                                                     f"{'used' if rel.meta['early_stop_used'] else 'full resolution'}"))
    run_params = replace(params, early_stop=bool(params.early_stop and rel.meta.get("early_stop_used", False)))
    for kind, start, last, layers in plan(G, clip, run_params, [l for l in todo if l.name not in finished]):
        if kind == "linear":
            names = f"{layers[0].name}..{layers[-1].name}"
            job = linear.group_rows(G, clip, styles0, layers, start, last, rel.mean, rel.std, run_params, budget,
                                    batch_size or 16)
            while True:
                try:
                    partial = next(job)
                except StopIteration as stop:
                    rows, check = stop.value
                    break
                yield progress(layers[0].name, done + partial, f"{names} (linear)")
            rel.meta.setdefault("linear", []).append({"layers": [l.name for l in layers], **check,
                                                      "used": rows is not None})
            if rows is not None:
                for layer in layers:
                    store(layer, rows[layer.name])
                yield progress(layers[-1].name, done, f"{names} done (linear, sampled rows agree to {check['cos']:.3f})")
                continue
            yield progress(layers[0].name, done, f"{names}: the linearisation agrees only to {check['cos']:.3f}; "
                                                 "finite differences for these layers")
        for layer in layers:
            batch = batch_size or finite_batch(G, clip, layer, run_params, budget)
            for partial, rows in layer_rows(G, clip, styles0, layer, rel.mean, rel.std, run_params, batch):
                if rows is None:
                    yield progress(layer.name, done + partial, f"{layer.name}")
            store(layer, rows)
            yield progress(layer.name, done, f"{layer.name} done")
