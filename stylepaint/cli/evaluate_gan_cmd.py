"""`stylepaint evaluate-gan MODEL`: oracle-scored quality report of a portrait generator."""

from __future__ import annotations

import json


def register(sub) -> None:
    p = sub.add_parser("evaluate-gan", help="score a portrait generator with the attribute oracle",
                       description="Samples at psi 1 versus held-out renders: share of samples the oracle is "
                                   "confident about in every group (also at psi 0.7 and on W midpoints), per-value frequencies, and a kernel distance "
                                   "(KID) on oracle features beside the renders-vs-renders floor.")
    p.add_argument("model", nargs="?", default=None, help="generator file (default: the embedded default model)")
    p.add_argument("--count", type=int, default=10_000, help="samples, and renders per render set (default 10000)")
    p.add_argument("--batch", type=int, default=100, help="generator batch size (default 100)")
    p.add_argument("--device", default="cpu", help="cpu, cuda or auto (default cpu)")
    p.add_argument("--threshold", type=float, default=0.9, help="oracle confidence threshold (default 0.9)")
    p.add_argument("--seed", type=int, default=0, help="seed of the sampled latents (default 0)")
    p.add_argument("--workers", type=int, default=None, help="render processes (default: all cores)")
    p.add_argument("--midpoints", type=int, default=500,
                   help="random W pairs whose midpoints are scored for ghosts (default 500; 0 skips)")
    p.add_argument("--oracle", default=None, help="oracle file (default: the shipped one)")
    p.add_argument("--json", default=None, metavar="FILE", help="also write the full report as JSON")
    p.add_argument("--sheet", default=None, metavar="PNG", help="also write an 8x8 sample sheet (seeds 0-63, psi 1)")
    p.add_argument("--strip", default=None, metavar="PNG",
                   help="also write a truncation strip (seeds 0-3, psi 1.0 ... 0.0)")
    p.add_argument("--ship", default=None, metavar="NAME",
                   help="if every target passes, install MODEL as the embedded default "
                        "stylepaint/resources/models/NAME.safetensors (with StyleSpace statistics and a manifest entry)")
    p.add_argument("--force", action="store_true", help="with --ship: install even if targets fail")
    p.set_defaults(func=run)


def run(args) -> int:
    from tqdm import tqdm

    from stylepaint.errors import InputError
    from stylepaint.training.evaluate import evaluate_gan, format_report

    if args.count < 2:
        raise InputError("--count must be at least 2")
    if args.device == "auto":
        import torch

        args.device = "cuda" if torch.cuda.is_available() else "cpu"
    oracle = None
    if args.oracle:
        from pathlib import Path

        from stylepaint.errors import CheckpointError
        from stylepaint.portraits.oracle import load_oracle

        if not Path(args.oracle).is_file():
            raise CheckpointError(args.oracle, "no such oracle file")
        oracle = load_oracle(args.oracle, device=args.device)
    report = None
    job = evaluate_gan(args.model, count=args.count, batch=args.batch, device=args.device, oracle=oracle,
                       threshold=args.threshold, seed=args.seed, workers=args.workers, midpoints=args.midpoints)
    with tqdm(total=4 * args.count + args.midpoints, unit="img", desc="evaluate") as bar:
        for progress in job:
            bar.set_description(progress["message"])
            bar.update(progress["done"] - bar.n)
            report = progress.get("report", report)
    print(format_report(report))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(report, fh, indent=1)
    if args.sheet or args.strip:
        from PIL import Image

        from stylepaint.engine.checkpoints import load_generator
        from stylepaint.training.sheets import sample_sheet, truncation_strip

        G = load_generator(args.model, device=args.device)
        for path, make in ((args.sheet, sample_sheet), (args.strip, truncation_strip)):
            if path:
                Image.fromarray(make(G)).save(path)
                print(f"wrote {path}")
    if args.ship:
        from stylepaint.training.ship import ship_generator

        if args.model is None:
            raise InputError("--ship needs a MODEL file (the embedded default is already shipped)")
        entry = ship_generator(args.model, args.ship, report, force=args.force)
        print(f"shipped {args.ship}.safetensors (sha256 {entry['sha256'][:12]}..., {entry['kimg']} kimg) "
              "as the embedded default")
    return 0
