"""How fast the portrait renderer is: images per CPU-second and the projected time for 100k.

    python benchmarks/portraits_render_speed.py [--count 400] [--size 128]

Prints CPU time per image (what the renderer costs, whatever else runs on the machine) and
the wall time of rendering ``count`` images with all cores through ``iter_render``.
"""

from __future__ import annotations

import argparse
import os
import time

from stylepaint.portraits.dataset import iter_render, render_seeds


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--count", type=int, default=400)
    p.add_argument("--size", type=int, default=128)
    args = p.parse_args()
    c0, t0 = time.process_time(), time.time()
    render_seeds(range(args.count), args.size)
    cpu = (time.process_time() - c0) / args.count
    wall1 = (time.time() - t0) / args.count
    cores = os.cpu_count() or 1
    t0 = time.time()
    for _ in iter_render(range(args.count), args.size, workers=cores):
        pass
    wallp = (time.time() - t0) / args.count
    print(f"{args.size} px: {1000 * cpu:.1f} ms CPU per image, {1000 * wall1:.1f} ms wall in one process")
    print(f"{cores} processes: {1000 * wallp:.1f} ms wall per image -> 100k in {100_000 * wallp / 60:.1f} min "
          f"(on {cores} free cores: {100_000 * cpu / cores / 60:.1f} min)")


if __name__ == "__main__":
    main()
