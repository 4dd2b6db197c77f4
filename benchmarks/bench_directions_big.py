"""Direction build of a big generator within memory: time, peak memory, fidelity (issue 19).

A generator of a published architecture with random weights (``bench_engine.SYNTHETIC``, the
engine's random-init path; speed does not depend on the weights) and an open_clip architecture with random weights
(``pretrained=None``, saved to a file and loaded as ``ARCH:FILE``: nothing is downloaded).

    # the real build (all layers), then fidelity on 200 sampled channels against finite differences
    python benchmarks/bench_directions_big.py --arch config-f-1024 --method linear --images 1 --fidelity 200
    # what each unit of the plan costs, measured on a slice and scaled (minutes, not hours)
    python benchmarks/bench_directions_big.py --arch config-f-1024 --estimate --method both
    # check the script on a small generator with a tiny CLIP; both methods, top-k agreement on 20 prompts
    python benchmarks/bench_directions_big.py --arch small --clip tiny --method both --images 3

Peak memory is the process's peak resident set (``ru_maxrss``), which includes the models.
The build is linear in the number of images N: the time for N images is N times the time per
image (the statistics, seconds, aside), so a run with --images 1 gives the figure for any N.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_engine import SYNTHETIC, synthetic  # noqa: E402

from stylepaint.directions import BuildParams, Editor, build  # noqa: E402
from stylepaint.directions import linear  # noqa: E402
from stylepaint.directions.job import plan  # noqa: E402
from stylepaint.directions.precompute import finite_batch, image_styles, layer_rows, spread  # noqa: E402
from stylepaint.directions.stats import style_statistics  # noqa: E402
from stylepaint.engine.memory_budget import MemoryBudget  # noqa: E402

TINY_CLIP = {"embed_dim": 64, "vision_cfg": {"image_size": 32, "layers": 2, "width": 64, "patch_size": 8,
                                             "head_width": 32},
             "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 64, "heads": 2, "layers": 1}}
PROMPTS = ["curly hair", "smiling", "older", "blue eyes", "beard", "glasses", "bald", "red lipstick", "tanned skin",
           "long hair", "a child", "angry", "surprised", "blond hair", "makeup", "freckles", "a hat", "grey hair",
           "a frown", "pale skin"]


def peak_rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / (1 << 20)   # KiB on Linux


def random_clip(name: str, folder: Path, device="cpu"):
    """open_clip ``name`` with pretrained=None saved to a file, loaded back through stylepaint."""
    import open_clip

    from stylepaint.clip import load_clip

    torch.manual_seed(0)
    if name == "tiny":
        config = folder / "tiny-clip.json"
        config.write_text(json.dumps(TINY_CLIP))
        return load_clip(f"{config}:random", device=device)
    model = open_clip.create_model(name, pretrained=None)
    weights = folder / f"{name}-random.pt"
    torch.save(model.state_dict(), weights)
    del model
    return load_clip(f"{name}:{weights}", device=device)


def describe_plan(G, clip, params, budget):
    rows = []
    for kind, start, last, layers in plan(G, clip, params, [l for l in G.style_layers if not l.is_torgb]):
        res = G.synthesis.block_resolutions
        batch = (linear.vjp_batch(G, clip, start, last, budget) if kind == "linear"
                 else finite_batch(G, clip, layers[0], params, budget))
        rows.append(f"  {kind:6} {layers[0].name}..{layers[-1].name} ({sum(l.channels for l in layers)} ch, "
                    f"blocks {res[start]}..{res[last]} px): batch {batch} {'CLIP dims' if kind == 'linear' else 'images'}")
    return "\n".join(rows)


def run_build(G, clip, params, budget, batch, time_limit):
    t0 = time.perf_counter()
    info = None
    job = build(G, clip, params, batch_size=batch, use_cache=False, budget=budget)
    stopped = False
    last_print = 0.0
    for info in job:
        now = time.perf_counter() - t0
        if now - last_print > 30:
            last_print = now
            print(f"    {now:7.0f} s  {info['done']:8.1f}/{info['total']} ch  {info.get('message', '')[:70]}  "
                  f"peak {peak_rss_gib():.2f} GiB", flush=True)
        if time_limit and now > time_limit:
            job.close()
            stopped = True
            break
    return info, time.perf_counter() - t0, stopped


def fidelity(G, clip, rel, params, budget, samples: int) -> dict:
    """Row cosine of ``samples`` channels (spread over every layer) against finite differences."""
    styles0 = image_styles(G, params)
    run_params = replace(params, early_stop=bool(params.early_stop and rel.meta.get("early_stop_used", False)))
    layers = [l for l in G.style_layers if not l.is_torgb]
    pool = [(l, c) for l in layers for c in range(l.channels)]
    picks = spread(pool, samples)
    offsets = rel.offsets()
    by_group = {}
    for layer, c in picks:
        *_, (_, row) = layer_rows(G, clip, styles0, layer, rel.mean, rel.std, run_params,
                                  finite_batch(G, clip, layer, run_params, budget), range(c, c + 1))
        by_group.setdefault(layer.resolution, []).append(float(row[0] @ rel.R[offsets[layer.name][0] + c]))
    cos = [c for v in by_group.values() for c in v]
    return {"channels": len(cos), "cos_mean": statistics.mean(cos), "cos_min": min(cos),
            "by_resolution": {r: round(statistics.mean(v), 4) for r, v in sorted(by_group.items())}}


def topk_agreement(G, clip, a, b, k: int = 10) -> float:
    """Mean share of the top-k channels (by |relevance|) two builds agree on, over PROMPTS."""
    ea, eb = Editor(a, clip, G.img_resolution), Editor(b, clip, G.img_resolution)
    shares = []
    for prompt in PROMPTS:
        d = ea.direction(prompt, "a face")
        ta = set(ea.channel_relevance(d).abs().topk(k).indices.tolist())
        tb = set(eb.channel_relevance(d).abs().topk(k).indices.tolist())
        shares.append(len(ta & tb) / k)
    return statistics.mean(shares)


def estimate(G, clip, params, budget, dims: int, methods=("finite", "linear"), sketch_k: int | None = None) -> None:
    """Time a slice of each plan unit (one image) and scale it to the whole unit and N images."""
    styles0 = image_styles(G, replace(params, n_images=1))
    mean, std = style_statistics(G, 200, 0)
    layers = [l for l in G.style_layers if not l.is_torgb]
    total = {method: 0.0 for method in methods}
    for method in methods:
        p = replace(params, method=method)
        for kind, start, last, group in plan(G, clip, p, layers):
            if kind == "linear":
                batch = min(linear.vjp_batch(G, clip, start, last, budget), dims)
                t = time.perf_counter()
                job = linear.image_jacobian(G, clip, {k: v[:1] for k, v in styles0.items()}, group, start, last, p,
                                            batch)
                next(job)                                 # the forward and one batched backward pass
                first = time.perf_counter() - t
                t = time.perf_counter()
                next(job, None)                           # a second batched backward pass
                per_chunk = time.perf_counter() - t
                job.close()
                chunks = -(-clip.embed_dim // batch)
                seconds = first + per_chunk * (chunks - 1)
                print(f"  linear {group[0].name}..{group[-1].name}: {batch} dims per pass, first pass {first:.1f} s, "
                      f"then {per_chunk:.1f} s x {chunks - 1}: {seconds:.0f} s per image")
            else:
                layer = group[0]
                n = min(8, layer.channels)                # 8 channels x 2 signs in one batch, as the build batches
                t = time.perf_counter()
                *_, _ = layer_rows(G, clip, styles0, layer, mean, std, p, 2 * n, range(0, n))
                per_channel = (time.perf_counter() - t) / n
                seconds = per_channel * layer.channels
                print(f"  finite {layer.name}: {per_channel:.2f} s per channel x {layer.channels}: "
                      f"{seconds:.0f} s per image", flush=True)
            total[method] += seconds
    for method, seconds in total.items():
        print(f"{method:7}: {seconds / 60:7.1f} min per image -> {seconds * params.n_images / 60:7.1f} min "
              f"for N = {params.n_images}")
    if sketch_k and "linear" in total:
        n_sketched = params.n_images - linear.SKETCH_IMAGES if linear.sketches(params.n_images) else 0
        full = params.n_images - n_sketched
        seconds = total["linear"] * (full + n_sketched * sketch_k / clip.embed_dim)
        print(f"linear with a sketch of k = {sketch_k}: {full} full images + {n_sketched} at {sketch_k}/"
              f"{clip.embed_dim} of the passes -> {seconds / 60:7.1f} min for N = {params.n_images}")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--arch", default="config-f-1024", choices=sorted(SYNTHETIC))
    p.add_argument("--clip", default="ViT-B-32", help="open_clip architecture (random weights), or 'tiny'")
    p.add_argument("--method", default="linear", choices=("finite", "linear", "both"))
    p.add_argument("--images", type=int, default=1)
    p.add_argument("--stats", type=int, default=200)
    p.add_argument("--memory", default=None, help="memory budget (default a quarter of RAM)")
    p.add_argument("--batch", type=int, default=None, help="fixed batch instead of the budget's")
    p.add_argument("--time-limit", type=float, default=None, help="stop the build after this many seconds")
    p.add_argument("--fidelity", type=int, default=0, help="channels sampled for the row-cosine check")
    p.add_argument("--min-cos", type=float, default=None,
                   help="the linear method's acceptance threshold (default linear.MIN_COS; -1 always accepts)")
    p.add_argument("--sketch-cos", type=float, default=None,
                   help=f"held-out share the linear build's subspace sketch must keep (default {linear.SKETCH_COS}; "
                        "above 1: no sketch)")
    p.add_argument("--sketch-k", type=int, default=None,
                   help="with --estimate: also the time with the subspace sketch of this width (measured by a build)")
    p.add_argument("--full-resolution", action="store_true",
                   help="no early stop (what the build falls back to when its check fails, as on random weights)")
    p.add_argument("--estimate", action="store_true", help="time slices of each unit instead of building")
    p.add_argument("--estimate-dims", type=int, default=16, help="CLIP dims per timed backward pass in --estimate")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--device", default="cpu", help="cpu or cuda (peak memory then also on the GPU)")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    tmp = Path(tempfile.mkdtemp(prefix="bench-directions-"))
    os.environ.setdefault("STYLEPAINT_HOME", str(tmp))
    budget = MemoryBudget.parse(args.memory)
    if args.min_cos is not None:
        linear.MIN_COS = args.min_cos
    if args.sketch_cos is not None:
        linear.SKETCH_COS = args.sketch_cos
    G = synthetic(args.arch, args.device)   # the engine's random init, biases and noise randomised too
    clip = random_clip(args.clip, tmp, args.device)
    params = BuildParams(n_images=args.images, n_stats=args.stats, method="linear" if args.method == "both"
                         else args.method, early_stop=not args.full_resolution)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; {args.arch} ({sum(p.numel() for p in G.parameters()) / 1e6:.1f} M "
          f"parameters) + CLIP {args.clip} random (D = {clip.embed_dim}, {clip.input_resolution} px); "
          f"N = {args.images}; budget {budget.describe(G.device)}; models loaded: peak {peak_rss_gib():.2f} GiB")
    print(f"plan ({'full resolution' if args.full_resolution else 'if the early stop is kept'}):\n" + describe_plan(G, clip, params, budget))
    if args.estimate:
        estimate(G, clip, params, budget, args.estimate_dims,
                 ("finite", "linear") if args.method == "both" else (args.method,), args.sketch_k)
        return 0
    results = {}
    for method in (("finite", "linear") if args.method == "both" else (args.method,)):
        mp = replace(params, method=method)
        info, seconds, stopped = run_build(G, clip, mp, budget, args.batch, args.time_limit)
        rel = info["relevance"]
        results[method] = rel
        state = (f"stopped at {info['done']:.0f}/{info['total']} channels" if stopped else "complete")
        gpu = (f", GPU peak {torch.cuda.max_memory_allocated() / (1 << 30):.2f} GiB" if G.device.type == "cuda" else "")
        print(f"{method}: {seconds:.1f} s ({seconds / 60:.1f} min), {state}; peak RSS {peak_rss_gib():.2f} GiB{gpu}; "
              f"early stop {rel.meta.get('early_stop_used')} (check {rel.meta.get('early_stop_check_cos')}); "
              f"linear groups {rel.meta.get('linear')}", flush=True)
        if args.fidelity and not stopped:
            t = time.perf_counter()
            f = fidelity(G, clip, rel, mp, budget, args.fidelity)
            print(f"  fidelity vs finite differences on {f['channels']} sampled channels: mean row cosine "
                  f"{f['cos_mean']:.4f} (min {f['cos_min']:.4f}); by block resolution {f['by_resolution']} "
                  f"({time.perf_counter() - t:.0f} s)", flush=True)
    if len(results) == 2 and all(r.complete for r in results.values()):
        a, b = results["finite"], results["linear"]
        nz = a.R.norm(dim=1) > 0
        cos = (a.R[nz] * b.R[nz]).sum(1)
        print(f"all rows: mean cosine {cos.mean():.4f} (min {cos.min():.4f}); top-10 channels agree on "
              f"{topk_agreement(G, clip, a, b):.0%} over {len(PROMPTS)} prompts")
    return 0


if __name__ == "__main__":
    sys.exit(main())
