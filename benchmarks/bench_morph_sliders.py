"""Do the editor's attribute morph sliders reach their target? Oracle-measured (issue 13).

For ``--samples`` faces the oracle reads every group; for each group a target value other than
the face's own is drawn (seeded), and the morph the editor makes is applied at the slider's
right end: the global direction from "a portrait of a person with <value>" to "... <target>"
at α = ``--alphas`` (the editor's end is ``gui.morph_layers.END_ALPHA``), β = ``--beta``. Then

  success  share of faces whose group now reads as the target;
  kept     share of (face, other group) pairs the morph left unchanged.

The issue's goal, on the shipped default model: success >= 85 % with kept >= 90 % on 200 faces.
Per group and overall, for each α (which α the editor's slider should end at is read off here).

    python benchmarks/bench_morph_sliders.py                       # embedded default, 200 faces
    python benchmarks/bench_morph_sliders.py --model G.safetensors --samples 50
    python benchmarks/bench_morph_sliders.py --fixture --samples 8  # smoke run: 64 px fixture, random directions
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # run from a checkout without installing

SUCCESS, KEPT = 0.85, 0.90


@torch.no_grad()
def labels_of(G, oracle, styles: dict, batch: int = 100) -> list[dict]:
    n = next(iter(styles.values())).shape[0]
    out = []
    for i in range(0, n, batch):
        out += oracle.labels(G.synthesis_from_styles({k: v[i:i + batch] for k, v in styles.items()}, noise_mode="const"))
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=None, help="generator (default: the embedded default)")
    p.add_argument("--clip", default=None, help="CLIP spec (default: the model's pairing)")
    p.add_argument("--fixture", action="store_true", help="the 64 px fixture with random directions (a smoke run)")
    p.add_argument("--samples", type=int, default=200)
    p.add_argument("--alphas", default="2,4,6,8,10")
    p.add_argument("--beta", type=float, default=0.1)
    p.add_argument("--truncation", type=float, default=0.7)
    p.add_argument("--device", default="cpu")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--method", choices=("directions", "code"), default="directions",
                   help="directions: the text direction between the two values' prompts (any model); code: the exact "
                        "move through the portrait code (stylepaint.code_morph; the embedded default), whose "
                        "slider end is α 1 (--alphas then defaults to 0.25,0.5,0.75,1)")
    args = p.parse_args(argv)
    if args.method == "code" and args.alphas == p.get_default("alphas"):
        args.alphas = "0.25,0.5,0.75,1"

    from stylepaint.portraits.oracle import load_oracle
    from stylepaint.portraits.vocabulary import load_vocabulary, prompt

    t0 = time.perf_counter()
    if args.fixture:
        sys.path.insert(0, str(REPO / "tests"))
        from gui_support import make_engine

        model = str(REPO / "tests" / "data" / "checkpoints" / "sg2ada-64px.pkl")
        renderer, clip = make_engine(model, Path(tempfile.mkdtemp()))
        G = renderer.generator(model, args.device)
    else:
        from stylepaint.engine.render import Renderer

        renderer, clip = Renderer(), args.clip
        G = renderer.generator(args.model, args.device)
    editor = renderer.editor(G, clip) if args.method == "directions" else None
    oracle = load_oracle(device=str(G.device))
    print(f"model {G.source_path} ({G.img_resolution} px), method {args.method}"
          + (f", CLIP {editor.text.clip.spec}" if editor else "") + f", ready in {time.perf_counter() - t0:.1f} s")

    gen = torch.Generator().manual_seed(args.seed)
    z = torch.randn(args.samples, G.z_dim, generator=gen).to(G.device)
    with torch.no_grad():
        ws = G.mapping(z, truncation_psi=args.truncation)
        base = G.styles(ws)
    before = labels_of(G, oracle, base)
    vocabulary = load_vocabulary()
    rng = np.random.default_rng(args.seed)
    alphas = [float(a) for a in args.alphas.split(",")]
    table = {}
    for group, values in vocabulary.items():
        targets = [rng.choice([v for v in values if v != b[group]]) for b in before]
        pairs = sorted({(b[group], t) for b, t in zip(before, targets)})
        if args.method == "code":
            from stylepaint.code_morph import code_morph_delta
            from stylepaint.engine.stylespace import flatten, unflatten

            deltas = torch.stack([torch.from_numpy(code_morph_delta(G, ws[i], group, t)[0])
                                  for i, t in enumerate(targets)])
            flat = flatten(base)
            for alpha in alphas:
                edited = unflatten(flat + alpha * deltas.to(flat), G.style_layers)
                after = labels_of(G, oracle, edited)
                success = float(np.mean([a[group] == t for a, t in zip(after, targets)]))
                kept = [a[g] == b[g] for a, b in zip(after, before) for g in b if g != group]
                table[(group, alpha)] = (success, float(np.mean(kept)))
            continue
        for alpha in alphas:
            after = [None] * args.samples
            for source, target in pairs:
                idx = [i for i, (b, t) in enumerate(zip(before, targets)) if (b[group], t) == (source, target)]
                direction = editor.direction(prompt(group, target), prompt(group, source))
                sub = {k: v[idx] for k, v in base.items()}
                with torch.no_grad():
                    edited, _ = editor.apply(sub, direction, alpha, args.beta)
                for i, labels in zip(idx, labels_of(G, oracle, edited)):
                    after[i] = labels
            success = float(np.mean([a[group] == t for a, t in zip(after, targets)]))
            kept = [a[g] == b[g] for a, b in zip(after, before) for g in b if g != group]
            table[(group, alpha)] = (success, float(np.mean(kept)))

    print(f"\n{'group':14}" + "".join(f"   α {a:<4g} succ/kept" for a in alphas))
    for group in vocabulary:
        print(f"{group:14}" + "".join(f"   {table[(group, a)][0]:6.1%} / {table[(group, a)][1]:5.1%}" for a in alphas))
    overall = {a: (np.mean([table[(g, a)][0] for g in vocabulary]), np.mean([table[(g, a)][1] for g in vocabulary]))
               for a in alphas}
    print(f"{'all groups':14}" + "".join(f"   {overall[a][0]:6.1%} / {overall[a][1]:5.1%}" for a in alphas))
    met = [a for a in alphas if overall[a][0] >= SUCCESS and overall[a][1] >= KEPT]
    print(f"\ngoal success >= {SUCCESS:.0%} with kept >= {KEPT:.0%} on {args.samples} faces: "
          + (f"MET at α {', '.join(f'{a:g}' for a in met)}" if met else "NOT MET at any α")
          + f" ({time.perf_counter() - t0:.1f} s)")
    print(json.dumps({f"{g}@{a:g}": v for (g, a), v in table.items()}))
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
