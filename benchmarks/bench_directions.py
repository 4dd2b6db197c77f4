"""Direction precompute: our batched early-stop build versus the recipe as written, and
prompt -> pixels latency on CPU.

For each generator x CLIP pair:
  ours    full build (every non-toRGB channel, N images), timed;
  brute   the recipe as written (full resolution, one perturbation per forward, batch 1),
          timed on a sample of channels per layer and extrapolated by each layer's width;
  fidelity  mean (and min) cosine between our rows and the brute-force rows of the sampled channels;
  stop    the block resolution synthesis stopped at (after the build's own early-stop check,
          whose sampled-row cosine is the 'check' column; '-' = CLIP's input >= the output).

Both methods use the same N images, statistics and k, so the speed ratio does not depend on N
(both are linear in it); pass --images 100 for the full recipe when the machine is free.

    python benchmarks/bench_directions.py                          # fixtures x tiny CLIPs
    python benchmarks/bench_directions.py --images 100 --clips portrait-clip
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without installing

import stylepaint  # noqa: E402
from stylepaint.clip import build as build_clip
from stylepaint.clip import preflight
from stylepaint.directions import BuildParams, build, run
from stylepaint.directions.precompute import image_styles, stop_block
from stylepaint.directions.reference import brute_force_row

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "data" / "checkpoints"
TINY_CLIPS = {
    # a CLIP-sized input (224 px) with a tiny transformer: early stop never triggers on these fixtures
    "tiny-224": {"embed_dim": 64, "vision_cfg": {"image_size": 224, "layers": 2, "width": 64, "patch_size": 32,
                                                 "head_width": 32},
                 "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 64, "heads": 2, "layers": 1}},
    # a small-input CLIP (32 px): synthesis of the 64 px fixture stops one block early
    "tiny-32": {"embed_dim": 64, "vision_cfg": {"image_size": 32, "layers": 2, "width": 64, "patch_size": 8,
                                                "head_width": 32},
                "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 64, "heads": 2, "layers": 1}},
}


def load_clip_for_bench(name: str, folder: Path):
    torch.manual_seed(0)
    if name in TINY_CLIPS:
        path = folder / f"{name}.json"
        path.write_text(json.dumps(TINY_CLIPS[name]))
        return build_clip(preflight(f"{path}:random"))
    if name == "portrait-clip":
        try:
            return build_clip(preflight("portrait-clip"))
        except Exception as exc:  # not trained yet: same architecture, random weights
            print(f"  ({exc}; using portrait-clip:random)")
            return build_clip(preflight("portrait-clip:random"))
    return build_clip(preflight(name))


def sample_channels(G, per_layer: int):
    for layer in G.style_layers:
        if layer.is_torgb:
            continue
        step = max(1, layer.channels // per_layer)
        yield layer, list(range(0, layer.channels, step))[:per_layer]


def bench_pair(G, clip, params: BuildParams, per_layer: int, batch: int | None) -> dict:
    t = time.perf_counter()
    rel = run(build(G, clip, params, batch_size=batch, use_cache=False))
    ours_s = time.perf_counter() - t
    styles0 = image_styles(G, params)
    offsets = rel.offsets()
    brute_s, cosines = 0.0, []
    for layer, channels in sample_channels(G, per_layer):
        times = []
        for c in channels:
            t = time.perf_counter()
            row = brute_force_row(G, clip, styles0, layer.name, c, rel.mean, rel.std, params)
            times.append(time.perf_counter() - t)
            cosines.append(float(row @ rel.R[offsets[layer.name][0] + c]))
        brute_s += statistics.mean(times) * layer.channels
    channels = sum(l.channels for l in G.style_layers if not l.is_torgb)
    used = bool(rel.meta.get("early_stop_used"))
    stop = G.synthesis.block_resolutions[stop_block(G, clip.input_resolution, used)]
    return rel, {"channels": channels, "stop_res": stop, "ours_s": ours_s, "brute_s": brute_s,
                 "speedup": brute_s / ours_s, "cos_mean": statistics.mean(cosines), "cos_min": min(cosines),
                 "sampled": len(cosines), "early_stop_check": rel.meta.get("early_stop_check_cos")}


def latency(G, clip, rel, repeats: int = 7) -> dict:
    from stylepaint.directions import Editor
    from stylepaint.engine import stylespace

    editor = Editor(rel, clip, G.img_resolution)
    ws = stylespace.seed_to_ws(G, 1)
    new_prompt, slider = [], []
    with torch.inference_mode():
        for i in range(repeats):
            t = time.perf_counter()
            d = editor.direction(f"curly hair {i}", "hair")          # new text: 12 templates through CLIP
            styles, _ = editor.apply(G.styles(ws), d, 4.0, 0.1)
            G.synthesis_from_styles(styles)
            new_prompt.append((time.perf_counter() - t) * 1e3)
            t = time.perf_counter()
            styles, _ = editor.apply(G.styles(ws), editor.direction(f"curly hair {i}", "hair"), 2.0 + i, 0.1)
            G.synthesis_from_styles(styles)
            slider.append((time.perf_counter() - t) * 1e3)
    return {"new_prompt_ms": statistics.median(new_prompt), "slider_ms": statistics.median(slider)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", nargs="*", default=["sg2ada-32px-fp16-clamp.pkl", "rosinality-32px.pt", "sg2ada-64px.pkl"])
    p.add_argument("--clips", nargs="*", default=["tiny-224", "tiny-32"])
    p.add_argument("--images", type=int, default=20, help="N images (the recipe uses 100)")
    p.add_argument("--stats", type=int, default=10_000)
    p.add_argument("--per-layer", type=int, default=2, help="brute-force channels sampled per layer")
    p.add_argument("--batch", type=int, default=None)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--force-early-stop", action="store_true",
                   help="use the early stop even where its sampled-row check fails (to see what it costs)")
    args = p.parse_args(argv)
    if args.force_early_stop:
        from stylepaint.directions import precompute

        precompute.EARLY_STOP_MIN_COS = -2.0
    if args.threads:
        torch.set_num_threads(args.threads)
    params = BuildParams(n_images=args.images, n_stats=args.stats)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, N={args.images} images, k={params.k}, "
          f"brute force sampled {args.per_layer} channels/layer")
    header = f"{'generator':28} {'clip':14} {'ch':>4} {'stop':>4} {'ours s':>8} {'brute s':>9} {'speed-up':>8} " \
             f"{'cos mean':>8} {'cos min':>7} {'check':>6} {'new prompt ms':>13} {'slider ms':>9}"
    print(header)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        os.environ.setdefault("STYLEPAINT_HOME", tmp)
        for clip_name in args.clips:
            clip = load_clip_for_bench(clip_name, Path(tmp))
            for model in args.models:
                path = Path(model) if Path(model).exists() else FIXTURES / model
                G = stylepaint.load_generator(path)
                rel, r = bench_pair(G, clip, params, args.per_layer, args.batch)
                r.update(latency(G, clip, rel))
                rows.append({"generator": path.name, "clip": clip_name, **r})
                print(f"{path.name:28} {clip_name:14} {r['channels']:4d} {r['stop_res']:4d} {r['ours_s']:8.1f} "
                      f"{r['brute_s']:9.1f} {r['speedup']:7.1f}x {r['cos_mean']:8.4f} {r['cos_min']:7.4f} "
                      f"{'-' if r['early_stop_check'] is None else format(r['early_stop_check'], '.3f'):>6} "
                      f"{r['new_prompt_ms']:13.1f} {r['slider_ms']:9.1f}", flush=True)
    print(json.dumps(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
