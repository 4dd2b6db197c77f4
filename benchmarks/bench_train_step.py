"""Training throughput (images per second) of a preset on this machine.

    python benchmarks/bench_train_step.py --preset default --device cuda [--batch 32] [--precision auto]

Runs warm-up steps, then times `--steps` full training steps (G step, D step, lazy R1 on its
schedule, EMA) on random "real" images, and prints images/s and the kimg per hour that gives.
"""

from __future__ import annotations

import argparse
import time

import torch

from stylepaint.training.trainer import _Run, build_config, resolve_device, resolve_precision


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="default")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--batch", type=int, default=None)
    parser.add_argument("--steps", type=int, default=32)
    parser.add_argument("--warmup", type=int, default=8)
    parser.add_argument("--threads", type=int, default=None, help="CPU threads (default: torch's)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    precision = resolve_precision(args.precision, device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    config = build_config(args.preset, batch=args.batch)
    run = _Run(config, device, precision)
    batch, res = config["training"]["batch"], config["generator"]["img_resolution"]
    real = torch.rand(batch, 3, res, res, device=device) * 2 - 1

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize()

    for _ in range(args.warmup):
        run.train_step(real)
    sync()
    t0 = time.perf_counter()
    for _ in range(args.steps):
        run.train_step(real)
    sync()
    seconds = time.perf_counter() - t0
    ips = batch * args.steps / seconds
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    print(f"preset {args.preset}: {res} px, batch {batch}, {precision} on {name}")
    print(f"{seconds / args.steps * 1000:.1f} ms/step, {ips:.0f} img/s, {ips * 3.6:.0f} kimg/hour")


if __name__ == "__main__":
    main()
