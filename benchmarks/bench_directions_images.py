"""How many images the directions need (issue 19): row cosine of N = 5, 10, 20, 50 against N = 100.

Each N is a full build (same seed, statistics and k); the table gives the mean and 5th
percentile of the cosine between each channel's row and its row at the reference N, and the
smallest N whose mean reaches 0.95.

    python benchmarks/bench_directions_images.py                        # the 64 px fixture, tiny CLIP
    python benchmarks/bench_directions_images.py --model MODEL --clip portrait-clip --method linear
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import stylepaint  # noqa: E402
from bench_directions import load_clip_for_bench  # noqa: E402
from stylepaint.directions import BuildParams, build, run  # noqa: E402

FIXTURE = Path(__file__).resolve().parent.parent / "tests" / "data" / "checkpoints" / "sg2ada-64px.pkl"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=str(FIXTURE))
    p.add_argument("--clip", default="tiny-224", help="tiny-224, tiny-32, portrait-clip or any CLIP spec")
    p.add_argument("--method", default="finite", choices=("finite", "linear"))
    p.add_argument("--sizes", nargs="+", type=int, default=[5, 10, 20, 50])
    p.add_argument("--reference", type=int, default=100)
    p.add_argument("--stats", type=int, default=2000)
    p.add_argument("--threads", type=int, default=None)
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        os.environ.setdefault("STYLEPAINT_HOME", tmp)
        G = stylepaint.load_generator(args.model)
        clip = load_clip_for_bench(args.clip, Path(tmp))
        rels, seconds = {}, {}
        for n in sorted(set(args.sizes + [args.reference])):
            t = time.perf_counter()
            rels[n] = run(build(G, clip, BuildParams(n_images=n, n_stats=args.stats, method=args.method),
                                use_cache=False))
            seconds[n] = time.perf_counter() - t
        ref = rels[args.reference].R
        keep = ref.norm(dim=1) > 0
        print(f"{Path(args.model).name} x {args.clip}, {args.method}; rows vs N = {args.reference} "
              f"({seconds[args.reference]:.0f} s)")
        chosen = None
        for n in sorted(args.sizes):
            cos = (rels[n].R[keep] * ref[keep]).sum(1)
            mean, p5 = cos.mean().item(), cos.quantile(0.05).item()
            if chosen is None and mean >= 0.95:
                chosen = n
            print(f"  N = {n:3d}: mean row cosine {mean:.4f}, 5th percentile {p5:.4f}  ({seconds[n]:.0f} s)")
        print(f"smallest N with mean >= 0.95: {chosen or 'none of these'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
