"""Render time of candidate embedded-default generator sizes on this CPU (batch 1).

The embedded default must render one image in <= 25 ms at batch 1 on a 2-core CPU. This
builds each candidate architecture from `stylepaint.training.presets` (random weights: the
time does not depend on the values) and prints ms per image, median and best of many runs.

    python benchmarks/bench_gan_size.py [--threads 2] [--repeats 50] [--extra]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from stylepaint.engine.networks import Generator
from stylepaint.training.discriminator import Discriminator, discriminator_config
from stylepaint.training.presets import CANDIDATES, PRESETS


def time_generator(config: dict, repeats: int) -> tuple[float, float]:
    G = Generator(**config).eval()
    z = torch.randn(1, G.z_dim)
    times = []
    with torch.inference_mode():
        for _ in range(5):
            G(z, noise_mode="const")
        for _ in range(repeats):
            t0 = time.perf_counter()
            G(z, noise_mode="const")
            times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times), min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--extra", action="store_true", help="also time the non-preset candidates")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    configs = dict(PRESETS)
    if args.extra:
        configs.update(CANDIDATES)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, batch 1, noise const")
    print(f"{'config':<14} {'res':>4} {'channels (4..R)':<34} {'G params':>9} {'D params':>9} {'median ms':>9} {'best ms':>8}")
    for name, preset in configs.items():
        g = preset["generator"]
        G = Generator(**g)
        D = Discriminator(**discriminator_config(g))
        chans = ",".join(str(c) for c in G.synthesis.channels.values())
        med, best = time_generator(g, args.repeats)
        print(f"{name:<14} {g['img_resolution']:>4} {chans:<34} {sum(p.numel() for p in G.parameters()):>9} "
              f"{sum(p.numel() for p in D.parameters()):>9} {med:>9.1f} {best:>8.1f}")


if __name__ == "__main__":
    main()
