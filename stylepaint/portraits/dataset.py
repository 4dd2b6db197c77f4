"""Rendering many portraits in parallel, and writing/reading them as a data set folder.

A data set folder holds:

* ``images.npy`` (uint8 ``[N, S, S, 3]``) or ``images/000000.png`` ... (``fmt="png"``),
* ``attributes.jsonl``: one JSON record per image (``index``, ``seed``, ``attributes``, ``nuisances``),
* ``captions.jsonl``: one JSON line per image (``index``, ``captions``: list of strings),
* ``info.json``: count, size, first seed, format.

Images smaller than 128 px are rendered at 128 and area-downsampled (the way the oracle and
the small CLIP resize their input), so thin strokes stay anti-aliased.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import cv2
import numpy as np

from stylepaint.errors import InputError
from stylepaint.portraits.captions import captions_for
from stylepaint.portraits.renderer import render, sample_portrait

#: seeds at or above this are never used for training (held-out evaluation sets start here)
HELD_OUT_SEED = 10_000_000
MIN_RENDER = 128


def render_records(records: Sequence[dict], size: int) -> np.ndarray:
    """Paint these records (``{"attributes", "nuisances"}``) in this process: uint8 ``[N, size, size, 3]``."""
    rsize = max(size, MIN_RENDER)
    out = np.empty((len(records), size, size, 3), np.uint8)
    for i, rec in enumerate(records):
        img = render(rec, rsize)
        if rsize != size:
            img = cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA)
        out[i] = img
    return out


def render_seeds(seeds: Sequence[int], size: int) -> tuple[np.ndarray, list[dict]]:
    """Render these seeds in this process: ``(uint8 [N, size, size, 3], records)``."""
    records = [sample_portrait(int(seed)) for seed in seeds]
    return render_records(records, size), records


def _work(job):
    cv2.setNumThreads(1)
    items, size = job
    if items and isinstance(items[0], dict):
        return render_records(items, size), list(items)
    return render_seeds(items, size)


def iter_render(seeds: Sequence, size: int, workers: int | None = None, chunk: int = 128) -> Iterator[tuple[int, np.ndarray, list[dict]]]:
    """Yield ``(offset, images, records)`` chunks in order, rendered by ``workers`` processes.
    ``seeds`` are render seeds, or records to paint as they are (``{"attributes", "nuisances"}``)."""
    items = [s if isinstance(s, dict) else int(s) for s in seeds]
    jobs = [(items[i : i + chunk], size) for i in range(0, len(items), chunk)]
    workers = workers or min(len(jobs), os.cpu_count() or 1)
    if workers <= 1 or len(jobs) <= 1:
        for k, job in enumerate(jobs):
            yield (k * chunk, *_work(job))
        return
    # spawn, never fork: a child forked after this process started OpenCV's (or torch's) thread
    # pool deadlocks on its first cv2/torch call (seen: the test suite hung in cv2.setNumThreads)
    ctx = mp.get_context("spawn")
    with ctx.Pool(workers) as pool:
        for k, (imgs, recs) in enumerate(pool.imap(_work, jobs)):
            yield k * chunk, imgs, recs


def write_dataset(out: Path | str, count: int, size: int = 128, start_seed: int = 0, fmt: str = "npy",
                  captions: int = 3, workers: int | None = None) -> Iterator[dict]:
    """Render ``count`` portraits (seeds ``start_seed ...``) into folder ``out``; yields progress dicts."""
    if count <= 0 or size < 16:
        raise InputError("count must be positive and size at least 16")
    if fmt not in ("npy", "png"):
        raise InputError(f"unknown image format {fmt!r} (use npy or png)")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    seeds = range(start_seed, start_seed + count)
    images = None
    if fmt == "npy":
        images = np.lib.format.open_memmap(out / "images.npy", mode="w+", dtype=np.uint8, shape=(count, size, size, 3))
    else:
        (out / "images").mkdir(exist_ok=True)
    with open(out / "attributes.jsonl", "w", encoding="utf-8") as fa, open(out / "captions.jsonl", "w", encoding="utf-8") as fc:
        for offset, imgs, recs in iter_render(seeds, size, workers):
            for j, (img, rec) in enumerate(zip(imgs, recs)):
                index = offset + j
                line = {"index": index, **rec}
                if fmt == "png":
                    name = f"images/{index:06d}.png"
                    cv2.imwrite(str(out / name), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
                    line["file"] = name
                fa.write(json.dumps(line) + "\n")
                if captions:
                    fc.write(json.dumps({"index": index, "captions": captions_for(rec, captions)}) + "\n")
            if images is not None:
                images[offset : offset + len(imgs)] = imgs
            yield {"done": offset + len(imgs), "total": count, "message": f"rendered {offset + len(imgs)}/{count}"}
    if images is not None:
        images.flush()
        del images
    info = {"count": count, "size": size, "start_seed": start_seed, "format": fmt, "captions_per_image": captions}
    (out / "info.json").write_text(json.dumps(info, indent=1))


def read_records(folder: Path | str) -> list[dict]:
    """The per-image records of a data set folder, in index order."""
    path = Path(folder) / "attributes.jsonl"
    if not path.exists():
        raise InputError(f"{folder} is not a portrait data set (no attributes.jsonl)")
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


def read_captions(folder: Path | str) -> list[list[str]]:
    with open(Path(folder) / "captions.jsonl", encoding="utf-8") as fh:
        return [json.loads(line)["captions"] for line in fh]


def read_images(folder: Path | str, mmap: bool = True) -> np.ndarray:
    """uint8 ``[N, S, S, 3]`` images of a data set folder (``npy`` format, memory-mapped)."""
    path = Path(folder) / "images.npy"
    if not path.exists():
        raise InputError(f"{folder} has no images.npy (render it with --format npy)")
    return np.load(path, mmap_mode="r" if mmap else None)


def label_matrix(records: Sequence[dict], groups: dict[str, list[str]]) -> np.ndarray:
    """int64 ``[N, n_groups]``: the index of each record's value in each group."""
    index = {g: {v: i for i, v in enumerate(vals)} for g, vals in groups.items()}
    return np.array([[index[g][r["attributes"][g]] for g in groups] for r in records], np.int64)
