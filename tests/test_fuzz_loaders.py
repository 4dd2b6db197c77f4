"""Bounded, seeded fuzzing of the public loaders (issue 15, Done-when).

The three fixture checkpoints, a latent, a recipe, a favorite bundle and the settings file
are mutated (`fuzz_mutations`: bit flips, truncation, splices with another input, pickle
opcode insertion, duplicated slices) and each mutant goes through the public loader in one
child process with a 2 GiB memory cap (RLIMIT_DATA) and a per-case alarm. Every case must end
in success or one ``StylepaintError`` that names the file: never a signal, a hang, a
traceback, or a memory error. ``SEED`` and ``CASES`` make it reproducible; it runs in well
under a minute on two busy cores.

Re-measure with:  nice -n 5 python -m pytest -q tests/test_fuzz_loaders.py -s
(prints the outcome counts, the slowest case and the child's peak memory). For a longer
hunt, ``STYLEPAINT_FUZZ_SEED=<n>`` picks other mutants and ``STYLEPAINT_FUZZ_SCALE=<k>`` makes
k times as many.
"""

from __future__ import annotations

import collections
import json
import os
import zipfile

import numpy as np
from conftest import CHECKPOINTS
from fuzz_mutations import OPS
from hostile import run_loaders

from stylepaint import imagefiles
from stylepaint.edits import EditStep, Recipe
from stylepaint.favorites import FavoritesStore

SEED = int(os.environ.get("STYLEPAINT_FUZZ_SEED", 15))
SCALE = int(os.environ.get("STYLEPAINT_FUZZ_SCALE", 1))
#: mutants per source: the 10 MB checkpoint gets fewer (each intact load takes longest)
CASES = {"sg2ada-64px.pkl": 18, "sg2ada-32px-fp16-clamp.pkl": 60, "rosinality-32px.pt": 60,
         "latent.npz": 60, "recipe.json": 60, "favorite.zip": 60, "editor.json": 60}
LOADERS = {".pkl": "checkpoint", ".pt": "checkpoint", ".npz": "latent", "recipe.json": "recipe",
           "favorite.zip": "bundle", "editor.json": "settings"}


def _sources(folder):
    ws = np.random.default_rng(SEED).normal(size=(8, 64)).astype(np.float32)
    imagefiles.save_latent(folder / "latent.npz", ws, {"model": "x.pkl", "seed": 4})
    Recipe([EditStep("curly hair", "hair", 3.0), EditStep("smile", alpha=-1.5, layers="coarse", mask="m")],
           model="abc").save(folder / "recipe.json")
    store = FavoritesStore(folder / "store")
    fav = store.add("Fuzzed", {"seed": 4, "truncation": 0.7, "edits": [{"prompt": "smile", "alpha": 2.0}]},
                    {"ws": ws, "mask_m": np.ones((16, 16), np.float32)}, b"\x89PNG\r\n\x1a\n" + bytes(64))
    store.export(fav.id, folder / "favorite.zip")
    (folder / "editor.json").write_text(json.dumps({"recent_models": ["/m/a.pkl", "/m/b.pt"], "seed": 7,
                                                    "prompt_history": ["smile", "old"], "export_dir": "/tmp"}, indent=1))
    sources = {name: str(CHECKPOINTS / name) for name in CASES if name.endswith((".pkl", ".pt"))}
    sources.update({name: str(folder / name) for name in CASES if name not in sources})
    assert zipfile.is_zipfile(sources["favorite.zip"])
    return sources


def _loader(name: str) -> str:
    return LOADERS.get(name) or LOADERS["." + name.rsplit(".", 1)[1]]


def test_mutated_inputs_end_in_success_or_one_stylepaint_error(tmp_path):
    sources = _sources(tmp_path)
    names = list(sources)
    cases = []
    for k, (name, count) in enumerate(CASES.items()):
        for i in range(count * SCALE):
            op = OPS[i % len(OPS)]
            other = sources[names[(k + 1 + i) % len(names)]]
            cases.append({"loader": _loader(name),
                          "mutate": {"source": sources[name], "seed": SEED * 1000 + i, "op": op, "other": other}})
    results = run_loaders(cases, tmp_path / "work", case_timeout=20, total_timeout=170 * SCALE)
    counts = collections.Counter((r["loader"], r["outcome"]) for r in results)
    print("\nfuzz outcomes:", dict(sorted(counts.items())))
    slowest = max(results, key=lambda r: r.get("seconds", 0))
    print("slowest case:", slowest.get("seconds"), "s", slowest.get("mutate"))
    print("peak memory of the child:", max(r.get("maxrss_mb", 0) for r in results), "MB")
    bad = [r for r in results if r["outcome"] not in ("ok", "error")]
    assert not bad, (collections.Counter((r["loader"], r.get("type", r["outcome"])) for r in bad), json.dumps(bad[:3], indent=1)[:6000])
    unnamed = [r for r in results if r["outcome"] == "error" and r["path"] not in r["message"]]
    assert not unnamed, unnamed[:3]
    assert max(r["maxrss_mb"] for r in results) < 2048
    assert len(results) == sum(CASES.values()) * SCALE
