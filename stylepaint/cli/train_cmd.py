"""``stylepaint train oracle|clip``: reproducible training of the portrait oracle and small CLIP.

Both read data set folders written by ``stylepaint dataset render --format npy`` (training
seeds below 10,000,000; held-out seeds from 10,000,000), save the model, and record its
sha256, config, this command line and its held-out metrics in ``stylepaint/resources/models/manifest.json``.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time

from stylepaint.paths import MODELS_DIR


def register(subparsers) -> None:
    parser = subparsers.add_parser("train", help="train the portrait oracle or the small CLIP")
    sub = parser.add_subparsers(dest="train_command", metavar="MODEL", required=True)

    o = sub.add_parser("oracle", help="train the attribute oracle")
    _common(o, MODELS_DIR / "oracle.safetensors", epochs=4, batch_size=128, lr=3e-3)
    o.set_defaults(func=_oracle)

    c = sub.add_parser("clip", help="train the small CLIP (open_clip config portrait-clip)")
    _common(c, MODELS_DIR / "portrait-clip.pt", epochs=3, batch_size=256, lr=2e-3)
    c.add_argument("--aux-weight", type=float, default=0.5, help="weight of the auxiliary attribute loss (default 0.5)")
    c.add_argument("--prompt-weight", type=float, default=1.0,
                   help="weight of the per-group prompt contrast (default 1.0; see train_clip)")
    c.add_argument("--eval-count", type=int, default=1000, help="held-out images to measure (default 1000)")
    c.add_argument("--max-minutes", type=float, default=None, help="stop training after this many minutes")
    c.set_defaults(func=_clip)


def _common(p: argparse.ArgumentParser, default_out, epochs: int, batch_size: int, lr: float) -> None:
    p.add_argument("--data", required=True, help="training data set folder (npy format)")
    p.add_argument("--heldout", default=None, help="held-out data set folder for the metrics")
    p.add_argument("--out", default=str(default_out), help=f"output file (default {default_out})")
    p.add_argument("--epochs", type=int, default=epochs)
    p.add_argument("--batch-size", type=int, default=batch_size)
    p.add_argument("--lr", type=float, default=lr)
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1: on a busy machine more threads spin-wait)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--init", default=None, help="continue training from these weights")
    p.add_argument("--no-manifest", action="store_true", help="do not record the result in the manifest")


def _run(job, args) -> dict:
    result, last_print = None, 0.0
    for progress in job:
        if "result" in progress:
            result = progress["result"]
        elif time.time() - last_print > 30:
            last_print = time.time()
            print(f"[{progress['done']}/{progress['total']}] {progress['message']} ({progress['elapsed_s']:.0f} s)", flush=True)
    print(json.dumps(result["metrics"], indent=1))
    print(f"saved {result['path']} after {result['train_seconds']:.0f} s of training "
          f"({result.get('cpu_seconds', 0):.0f} CPU-seconds)")
    return result


def _record(args, result: dict, config: dict) -> None:
    if args.no_manifest:
        return
    from stylepaint.portraits.manifest import update_entry

    command = "stylepaint " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if sys.argv[0].endswith("stylepaint") else None
    update_entry(result["path"], config=config, command=command or f"stylepaint train {args.train_command} ...",
                 metrics=result["metrics"], train_seconds=result["train_seconds"],
                 cpu_seconds=result.get("cpu_seconds"), hyper=result["hyper"],
                 device=args.device, threads=args.threads)


def _oracle(args: argparse.Namespace) -> int:
    from stylepaint.portraits.train_oracle import train_oracle

    result = _run(train_oracle(args.data, args.out, args.heldout, args.epochs, args.batch_size, args.lr,
                               threads=args.threads, device=args.device, seed=args.seed, init=args.init), args)
    _record(args, result, result["config"])
    return 0


def _clip(args: argparse.Namespace) -> int:
    from stylepaint.portraits import small_clip
    from stylepaint.portraits.train_clip import train_clip

    result = _run(train_clip(args.data, args.out, args.heldout, args.epochs, args.batch_size, args.lr,
                             args.aux_weight, args.prompt_weight, threads=args.threads, device=args.device, seed=args.seed,
                             max_minutes=args.max_minutes, init=args.init, eval_count=args.eval_count), args)
    config = {"open_clip_model": small_clip.MODEL_NAME,
              "open_clip_config": json.loads((small_clip.CONFIG_DIR / "portrait-clip.json").read_text())}
    _record(args, result, config)
    return 0
