"""Previews while dragging (issue 19): quality and time of the skip architecture's intermediate RGB.

For each preview size: PSNR of the preview against the full render, both ways (the preview
upsampled bicubically to full size vs the full render; the full render area-downsampled to the
preview size vs the preview), over several seeds; then milliseconds per frame while α moves,
for an edit of every layer (nothing reusable) and for an edit of the fine layers only (the
blocks before them come from the prefix cache), and the full render on release.

    python benchmarks/bench_preview.py --synthetic config-f-1024 --sizes 64 128 256
    python benchmarks/bench_preview.py --model ffhq.pkl --sizes 128 256

With random weights the later blocks add large random detail, so their PSNR is a floor: a
trained generator's intermediate RGB is much closer to its output.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import OrderedDict
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from stylepaint.engine import stylespace  # noqa: E402
from stylepaint.engine.checkpoints import load_generator  # noqa: E402
from stylepaint.engine.prefix_cache import PrefixCache, cpu_has_bf16  # noqa: E402


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    """Both in [-1, 1] (clamped, as displayed): peak-to-peak 2."""
    mse = F.mse_loss(a.clamp(-1, 1), b.clamp(-1, 1)).item()
    return float("inf") if mse == 0 else 10 * torch.log10(torch.tensor(4.0 / mse)).item()


def percentile(values, q):
    values = sorted(values)
    k = (len(values) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def edited(styles, direction, alpha, layers):
    return OrderedDict((k, v + alpha * direction[k] if k in layers else v) for k, v in styles.items())


def drag_ms(G, styles, direction, layers, size, frames, precision):
    cache = PrefixCache()
    times = []
    with torch.inference_mode():
        cache.synthesize(G, styles)                                             # the picture before the drag
        for i in range(frames):
            t = time.perf_counter()
            cache.synthesize(G, edited(styles, direction, 0.1 * (i + 1), layers), max_resolution=size,
                             precision=precision)
            times.append((time.perf_counter() - t) * 1e3)
        t = time.perf_counter()
        cache.synthesize(G, edited(styles, direction, 0.1 * frames, layers))   # released: full size
        release = (time.perf_counter() - t) * 1e3
    return statistics.median(times), percentile(times, 0.95), release


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=None)
    p.add_argument("--synthetic", default=None, help="config-f-1024, config-f-256 or small (random weights)")
    p.add_argument("--sizes", nargs="+", type=int, default=[64, 128, 256])
    p.add_argument("--seeds", type=int, default=4)
    p.add_argument("--frames", type=int, default=10)
    p.add_argument("--threads", type=int, default=None)
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.synthetic:
        from bench_engine import synthetic

        G, name = synthetic(args.synthetic, "cpu"), args.synthetic
    else:
        G, name = load_generator(args.model), Path(args.model).name
    res = G.img_resolution
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; {name} ({res} px)")
    sizes = [s for s in args.sizes if s < res]
    precisions = ["fp32"] + (["bf16"] if cpu_has_bf16() else [])
    scores = {(s, p): ([], [], []) for s in sizes for p in precisions}
    with torch.inference_mode():
        for seed in range(args.seeds):
            styles = G.styles(stylespace.seed_to_ws(G, seed))
            full = G.synthesis_from_styles(styles)
            for s in sizes:
                exact, _ = PrefixCache().synthesize(G, styles, max_resolution=s)
                for p in precisions:
                    preview, _ = PrefixCache().synthesize(G, styles, max_resolution=s, precision=p)
                    up = F.interpolate(preview, size=(res, res), mode="bicubic", align_corners=False)
                    down = F.interpolate(full, size=preview.shape[-2:], mode="area")
                    scores[s, p][0].append(psnr(up, full))
                    scores[s, p][1].append(psnr(preview, down))
                    scores[s, p][2].append(psnr(preview, exact))
    for (s, p), (up, down, same) in scores.items():
        print(f"preview {s:4d} px {p}: PSNR upsampled vs full {statistics.mean(up):5.1f} dB, "
              f"vs full downsampled {statistics.mean(down):5.1f} dB, vs the fp32 preview "
              f"{statistics.mean(same):5.1f} dB  ({args.seeds} seeds)")
    gen = torch.Generator().manual_seed(1)
    with torch.inference_mode():
        styles = G.styles(stylespace.seed_to_ws(G, 0))
        direction = {k: torch.randn(v.shape, generator=gen) for k, v in styles.items()}
    fine_from = G.synthesis.block_resolutions[len(G.synthesis.block_resolutions) // 2 + 1]
    groups = {"every layer": set(styles),
              f"layers >= {fine_from} px": {l.name for l in G.style_layers if l.resolution >= fine_from}}
    drag_ms(G, styles, direction, set(styles), sizes[0], 3, precisions[0])    # warm-up: first allocations, thread pool
    for s in sizes:
        for p in precisions:
            for label, layers in groups.items():
                p50, p95, release = drag_ms(G, styles, direction, layers, s, args.frames, p)
                print(f"drag, preview {s:4d} px {p}, edit of {label:16}: p50 {p50:7.1f} ms  p95 {p95:7.1f} ms; "
                      f"release (full {res} px, fp32) {release:7.0f} ms", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
