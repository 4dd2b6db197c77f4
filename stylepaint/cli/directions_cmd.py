"""`stylepaint directions build [MODEL] --clip SPEC`: precompute text directions, with a progress bar.

Ctrl-C stops the build and keeps every finished layer; running the command again resumes.
"""

from __future__ import annotations

import sys
import time


def register(sub) -> None:
    p = sub.add_parser("directions", help="precompute StyleCLIP global directions for a model and a CLIP")
    verbs = p.add_subparsers(dest="verb", metavar="VERB", required=True)
    b = verbs.add_parser("build", help="build (or resume, or find cached) the directions")
    b.add_argument("model", nargs="?", default=None, help="checkpoint file (default: the embedded default model)")
    b.add_argument("--clip", default=None, metavar="SPEC",
                   help="CLIP as NAME[:TAG|FILE] (default: the model's pairing, e.g. portrait-clip)")
    b.add_argument("--images", type=int, default=100, help="images the relevance is averaged over (default 100)")
    b.add_argument("--k", type=float, default=5.0, help="perturbation in stds (default 5)")
    b.add_argument("--stats", type=int, default=10_000, help="samples for StyleSpace mean/std (default 10000)")
    b.add_argument("--seed", type=int, default=0, help="seed of the statistics and images (default 0)")
    b.add_argument("--batch", type=int, default=None,
                   help="perturbed images per forward (default: as many as fit the memory budget, at most 256 CPU, "
                        "1024 CUDA)")
    b.add_argument("--memory", default=None, metavar="SIZE",
                   help="memory budget of the build, e.g. 6G or 30%% (default 25%% of RAM; never more than is free)")
    b.add_argument("--method", choices=("finite", "linear"), default="finite",
                   help="finite: the recipe's finite differences; linear: derivatives (one backward pass per CLIP "
                        "dimension) where they are cheaper and agree with sampled finite differences, finite "
                        "differences elsewhere (default finite)")
    b.add_argument("--full-resolution", action="store_true",
                   help="render every perturbation at full resolution instead of stopping at CLIP's input size")
    b.add_argument("--device", default="cpu", help="cpu, cuda, mps or auto (default cpu)")
    b.add_argument("--download", action="store_true", help="allow downloading missing CLIP weights")
    b.add_argument("--rebuild", action="store_true", help="ignore the cache (and write nothing to it)")
    b.add_argument("--ship", action="store_true",
                   help="install the result beside an embedded model (resources/models/MODEL.directions.pt, with a "
                        "manifest entry), so the first prompt edits without a build")
    b.set_defaults(func=run)
    i = verbs.add_parser("import-styleclip", help="use StyleCLIP's published FFHQ directions (fs3.npy) for a model")
    i.add_argument("model", help="the generator they were made for (FFHQ config-f 1024, e.g. ffhq-1024)")
    i.add_argument("fs3", help="StyleCLIP's fs3.npy (global_torch/npy/ffhq/fs3.npy in orpatashnik/StyleCLIP)")
    i.add_argument("--clip", default="ViT-B-32:openai", metavar="SPEC",
                   help="the CLIP they were made with (default ViT-B-32:openai)")
    i.add_argument("--stats", type=int, default=10_000, help="samples for StyleSpace mean/std (default 10000)")
    i.add_argument("--device", default="cpu", help="cpu, cuda, mps or auto (default cpu)")
    i.add_argument("--download", action="store_true", help="allow downloading missing CLIP weights")
    i.set_defaults(func=run_import)


def run_import(args) -> int:
    import stylepaint
    from stylepaint.clip import load_clip
    from stylepaint.directions import BuildParams
    from stylepaint.directions.styleclip_import import import_fs3
    from stylepaint.engine.checkpoints import resolve_device

    G = stylepaint.load_generator(args.model, resolve_device(args.device))
    clip = load_clip(args.clip, device=G.device, download=args.download)
    rel, path = import_fs3(G, clip, args.fs3, BuildParams(n_stats=args.stats))
    moved = sum(c for c, t in zip(rel.channels, rel.torgb) if not t)
    print(f"imported {moved} channels x {rel.clip_dim} dims from {args.fs3} for {G.source_path} with CLIP "
          f"{args.clip}: {path}")
    return 0


def run(args) -> int:
    from tqdm import tqdm

    import stylepaint
    from stylepaint.clip import load_clip
    from stylepaint.directions import BuildParams, build, default_clip_for
    from stylepaint.engine.checkpoints import resolve_device
    from stylepaint.engine.memory_budget import MemoryBudget

    budget = MemoryBudget.parse(args.memory)
    params = BuildParams(n_images=args.images, k=args.k, n_stats=args.stats, seed=args.seed,
                         early_stop=not args.full_resolution, method=args.method)
    G = stylepaint.load_generator(args.model, resolve_device(args.device))
    spec = args.clip or default_clip_for(G)
    clip = load_clip(spec, device=G.device, download=args.download)
    if args.batch is None:
        print(f"memory budget {budget.describe(G.device)}", file=sys.stderr)
    started = time.perf_counter()
    job = build(G, clip, params, batch_size=args.batch, use_cache=not args.rebuild, budget=budget)
    bar = None
    info = None
    try:
        for info in job:
            if info.get("cached"):
                break
            if bar is None:
                if info.get("rebuild_reason"):
                    print(f"rebuilding: {info['rebuild_reason']}", file=sys.stderr)
                bar = tqdm(total=info["total"], unit="ch", desc="directions", dynamic_ncols=True)
                if info.get("resumed"):
                    bar.write(f"resuming: {info['layers_done']}/{info['layers_total']} layers already done")
            bar.n = int(info["done"])
            bar.set_postfix_str(info.get("layer") or "", refresh=False)
            bar.refresh()
    except KeyboardInterrupt:
        job.close()  # saves the finished layers
        if bar is not None:
            bar.close()
        print("stopped; the finished layers are kept: run the same command again to resume")
        return 130
    finally:
        if bar is not None:
            bar.close()
    rel = info["relevance"]
    moved = sum(c for c, t in zip(rel.channels, rel.torgb) if not t)
    how = "found in the cache" if info.get("cached") else f"built in {time.perf_counter() - started:.1f} s"
    cos = rel.meta.get("early_stop_check_cos")
    stop = ("" if cos is None else
            f"; early stop {'used' if rel.meta.get('early_stop_used') else 'not used'} (sampled rows agree to {cos:.3f})")
    lin = "".join(f"; {g['layers'][0]}..{g['layers'][-1]} {'linear' if g['used'] else 'finite (linear rejected)'}"
                  f" (sampled rows agree to {g['cos']:.3f})" for g in rel.meta.get("linear", []))
    print(f"directions for {G.source_path} with CLIP {spec}: {moved} channels x {rel.clip_dim} dims, {how}{stop}{lin} "
          f"(key {info['key']})")
    if args.ship:
        from stylepaint.directions.shipped import ship_directions

        entry = ship_directions(G, rel, spec, params, seconds=None if info.get("cached") else
                                round(time.perf_counter() - started, 1))
        print(f"shipped {entry['file']} ({entry['bytes'] / 1e6:.1f} MB, sha256 {entry['sha256'][:12]}...)")
    return 0
