"""StyleCLIP's three ways side by side: global directions, the latent optimizer, the latent mapper.

For >= 20 prompts that each name one attribute value of the portrait vocabulary (target "a
portrait of a person with red hair", neutral "a portrait of a person"), every method edits the
*same* ``--samples`` faces (seeded z, one truncation); the attribute oracle labels them:

  success  share of faces whose edited group now has the target value;
  kept     share of (face, other group) pairs whose label the edit left unchanged;
  s/edit   median wall seconds per edited face on this device (the edit and its render;
           the optimizer's includes its optimisation); render = a plain render, for reference;
  prep     directions build (once for all prompts) or mapper training (per prompt).

The oracle only measures here; no method steers with it. Run with single-threaded torch for
CPU figures that compare with the issue's limits (optimizer <= 10 s median per edit, mapper
training <= 5 min per prompt, mapper at use <= render + 5 ms).

    python benchmarks/bench_styleclip_methods.py                         # the embedded default
    python benchmarks/bench_styleclip_methods.py --model tests/data/checkpoints/sg2ada-64px.pkl \\
        --clip tiny-clip.json:random --samples 2 --opt-steps 3 --mapper-steps 3 --direction-images 2 \\
        --direction-stats 200                                            # does it run?
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # run from a checkout without installing
sys.path.insert(0, str(HERE))

METHODS = ("directions", "optimize", "mapper")


def measure(oracle, group: str, value: str, before: list[dict], after: list[dict]) -> tuple[float, float]:
    success = sum(a[group] == value for a in after) / len(after)
    others = [(b[g] == a[g]) for b, a in zip(before, after) for g in b if g != group]
    return success, sum(others) / max(len(others), 1)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=None, help="generator (default: the embedded default)")
    p.add_argument("--clip", default=None, help="CLIP spec (default: the model's pairing)")
    p.add_argument("--oracle", default=None, help="oracle file (default: the shipped one)")
    p.add_argument("--samples", type=int, default=20, help="faces per prompt, the same for every method")
    p.add_argument("--truncation", type=float, default=0.7)
    p.add_argument("--prompts", type=int, default=20, help="how many prompts (>= 20 for the issue's table)")
    p.add_argument("--alpha", type=float, default=4.0, help="directions: alpha (beta --beta)")
    p.add_argument("--beta", type=float, default=0.1)
    p.add_argument("--direction-images", type=int, default=None, help="directions build: images (default: the recipe's)")
    p.add_argument("--direction-stats", type=int, default=None, help="directions build: statistics samples")
    p.add_argument("--opt-steps", type=int, default=40)
    p.add_argument("--opt-alpha", type=float, default=1.0)
    p.add_argument("--mapper-steps", type=int, default=2000)
    p.add_argument("--mapper-minutes", type=float, default=5.0)
    p.add_argument("--mapper-alpha", type=float, default=1.0)
    p.add_argument("--methods", default=",".join(METHODS))
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    p.add_argument("--json", default=None, help="also write the rows to this file")
    p.add_argument("--skip", type=int, default=0, help="leave out the first K prompts (run shards side by side)")
    p.add_argument("--merge", nargs="+", default=None, metavar="JSON",
                   help="print the summary of shards written with --json, run nothing")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.merge:
        parts = [json.loads(Path(f).read_text()) for f in args.merge]
        rows = [r for part in parts for r in part["rows"]]
        prep = {k: v for part in parts for k, v in part["prep"].items()}
        summary(rows, prep, statistics.median(part["render_s"] for part in parts),
                [m for m in METHODS if any(r["method"] == m for r in rows)], parts[0].get("samples", "?"))
        return 0

    from bench_edit_success import prompts
    from stylepaint.clip import load_clip
    from stylepaint.directions import BuildParams, default_clip_for, open_editor
    from stylepaint.edits import EditStep
    from stylepaint.engine import stylespace
    from stylepaint.engine.render import Renderer
    from stylepaint.portraits.oracle import load_oracle
    from stylepaint.styleclip import OptimizeParams, optimize, train_mapper
    from stylepaint.styleclip.mapper import MapperParams

    methods = [m for m in args.methods.split(",") if m]
    renderer = Renderer()
    G = renderer.generator(args.model, args.device)
    spec = args.clip or default_clip_for(G)
    clip = load_clip(spec, device=G.device)
    oracle = load_oracle(args.oracle, device=str(G.device))
    gen = torch.Generator().manual_seed(12345)
    z = torch.randn(args.samples, G.z_dim, generator=gen).to(G.device)
    with torch.no_grad():
        ws_all = G.mapping(z, truncation_psi=args.truncation)
        base = [G.styles(ws_all[i:i + 1]) for i in range(args.samples)]
        t = time.perf_counter()
        plain = [G.synthesis_from_styles(s) for s in base]
        render_s = (time.perf_counter() - t) / args.samples
    before = [oracle.labels(img)[0] for img in plain]
    print(f"model {G.source_path} ({G.img_resolution} px), CLIP {spec}, {args.samples} samples, "
          f"render {render_s * 1e3:.1f} ms, torch threads {torch.get_num_threads()}")

    prep = {}
    editor = None
    if "directions" in methods:
        t = time.perf_counter()
        given = {k: v for k, v in (("n_images", args.direction_images), ("n_stats", args.direction_stats)) if v}
        editor = open_editor(G, clip, BuildParams(**given) if given else None, build_missing=True)
        prep["directions"] = time.perf_counter() - t
        shipped = shipped_build_seconds(G, spec)
        if shipped is not None and not given:
            prep["directions_shipped_build_s"] = shipped

    def flat_edit(i, shift, alpha):
        flat = stylespace.flatten(base[i]) + alpha * shift.to(G.device)
        return G.synthesis_from_styles(stylespace.unflatten(flat, G.style_layers))

    rows = []
    chosen = spread(list(prompts()))[args.skip:args.skip + args.prompts]
    print(f"{'prompt':44} {'method':10} {'success':>7} {'kept':>6} {'s/edit':>8} {'prep s':>8}")
    for group, value, target, neutral in chosen:
        for method in methods:
            times, cpu, after, prep_s, prep_cpu = [], [], [], 0.0, 0.0
            if method == "mapper":
                t, c = time.perf_counter(), time.process_time()
                job = train_mapper(G, clip, target, neutral, params=MapperParams(
                    steps=args.mapper_steps, minutes=args.mapper_minutes))
                last = list(job)[-1]
                mapper = last["mapper"]
                prep_s, prep_cpu = time.perf_counter() - t, time.process_time() - c
            for i in range(args.samples):
                ws = ws_all[i:i + 1]
                t, c = time.perf_counter(), time.process_time()
                if method == "directions":
                    with torch.no_grad():
                        edited, _ = editor.apply(base[i], editor.direction(target, neutral), args.alpha, args.beta)
                        img = G.synthesis_from_styles(edited)
                elif method == "optimize":
                    step = list(optimize(G, clip, ws, target, neutral,
                                         params=OptimizeParams(steps=args.opt_steps, preview_every=0)))[-1]["edit"]
                    with torch.no_grad():
                        img = flat_edit(i, torch.tensor(step.delta, dtype=torch.float32)[None], args.opt_alpha)
                else:
                    with torch.no_grad():
                        img = flat_edit(i, mapper.shift(G, ws), args.mapper_alpha)
                times.append(time.perf_counter() - t)
                cpu.append(time.process_time() - c)
                after.append(oracle.labels(img)[0])
            success, kept = measure(oracle, group, value, before, after)
            row = {"group": group, "value": value, "prompt": target, "method": method, "success": success,
                   "kept": kept, "s_per_edit": statistics.median(times), "cpu_s_per_edit": statistics.median(cpu),
                   "prep_s": prep_s, "prep_cpu_s": prep_cpu}
            if method == "mapper":
                row["mapper_steps"] = last.get("done")
            rows.append(row)
            print(f"{target[:44]:44} {method:10} {success:7.0%} {kept:6.0%} {row['s_per_edit']:8.3f} {prep_s:8.1f}",
                  flush=True)

    summary(rows, prep, render_s, methods, args.samples)
    if args.json:
        Path(args.json).write_text(json.dumps({"render_s": render_s, "prep": prep, "rows": rows,
                                               "samples": args.samples}, indent=1))
    return 0


def shipped_build_seconds(G, clip_spec: str) -> float | None:
    """The recorded build time of the shipped directions of ``G`` and ``clip_spec`` (manifest), if any."""
    from stylepaint.portraits.manifest import read_manifest

    name = Path(getattr(G, "source_path", "") or "").name
    for entry in read_manifest().values():
        if (isinstance(entry, dict) and entry.get("role") == "directions" and entry.get("generator") == name
                and entry.get("clip") == clip_spec and entry.get("build_seconds") is not None):
            return float(entry["build_seconds"])
    return None


def spread(items: list) -> list:
    """Prompts taken a group at a time in turn (hair colour, hair style, bangs, eyes, ...), so the
    first N cover every group instead of the first group's values."""
    by_group: dict = {}
    for item in items:
        by_group.setdefault(item[0], []).append(item)
    out, queues = [], list(by_group.values())
    while any(queues):
        for q in queues:
            if q:
                out.append(q.pop(0))
    return out


def summary(rows, prep, render_s, methods, samples) -> None:
    n_prompts = len({r["prompt"] for r in rows})
    print(f"\n{'method':10} {'success':>7} {'kept':>6} {'s/edit':>7} {'cpu s/edit':>10} {'prep s':>8} {'prep cpu s':>10}"
          f"   (render {render_s * 1e3:.1f} ms; {n_prompts} prompts x {samples} samples; medians of s/edit and prep)")
    for method in methods:
        mine = [r for r in rows if r["method"] == method]
        if not mine:
            continue
        if method == "directions":
            prep_s, prep_cpu, what = prep.get(method, 0.0), float("nan"), "build, once per model and CLIP"
            if "directions_shipped_build_s" in prep:   # loaded from the shipped file: say what building took
                prep_s, what = prep["directions_shipped_build_s"], "shipped; the build's recorded time (manifest)"
        else:
            prep_s = statistics.median(r["prep_s"] for r in mine)
            prep_cpu = statistics.median(r.get("prep_cpu_s", float("nan")) for r in mine)
            what = "training, per prompt" if method == "mapper" else "none"
        print(f"{method:10} {statistics.mean(r['success'] for r in mine):7.0%} "
              f"{statistics.mean(r['kept'] for r in mine):6.0%} {statistics.median(r['s_per_edit'] for r in mine):7.3f} "
              f"{statistics.median(r.get('cpu_s_per_edit', float('nan')) for r in mine):10.3f} "
              f"{prep_s:8.1f} {prep_cpu:10.1f}   ({what})")
    groups = sorted({r["group"] for r in rows})
    print("\nper group: 'keeps 90 %' is the most successful method among those keeping >= 90 % of the other"
          " groups ('-': none does); 'most success' ignores what else changed:")
    print(f"  {'group':12} {'keeps 90 %':12} {'most success':13} " + "  ".join(f"{m} success/kept" for m in methods))
    for g in groups:
        mine = [r for r in rows if r["group"] == g]
        means = {m: (statistics.mean(r["success"] for r in mine if r["method"] == m),
                     statistics.mean(r["kept"] for r in mine if r["method"] == m))
                 for m in methods if any(r["method"] == m for r in mine)}
        keeping = {m: v for m, v in means.items() if v[1] >= 0.9 and v[0] > 0}
        kept_best = max(keeping, key=lambda m: keeping[m][0]) if keeping else "-"
        most = max(means, key=lambda m: means[m][0])
        print(f"  {g:12} {kept_best:12} {most:13} " + "  ".join(f"{m} {s:.0%}/{k:.0%}" for m, (s, k) in means.items()))


if __name__ == "__main__":
    sys.exit(main())
