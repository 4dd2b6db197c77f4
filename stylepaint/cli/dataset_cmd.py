"""``stylepaint dataset render``: write procedural portraits with attributes and captions."""

from __future__ import annotations

import argparse
import sys


def register(subparsers) -> None:
    parser = subparsers.add_parser("dataset", help="procedural portrait data sets (images, attributes, captions)")
    sub = parser.add_subparsers(dest="dataset_command", metavar="ACTION", required=True)
    r = sub.add_parser("render", help="render N portraits into a folder")
    r.add_argument("out", help="output folder")
    r.add_argument("--count", type=int, default=1000, help="number of images (default 1000)")
    r.add_argument("--size", type=int, default=256, help="image size in pixels (default 256)")
    r.add_argument("--seed", type=int, default=0, help="first seed; image i uses seed + i (default 0)")
    r.add_argument("--format", choices=["png", "npy"], default="png", help="png files or one images.npy (default png)")
    r.add_argument("--captions", type=int, default=3, help="captions per image (default 3)")
    r.add_argument("--workers", type=int, default=None, help="render processes (default: all cores)")
    r.set_defaults(func=_render)


def _render(args: argparse.Namespace) -> int:
    from stylepaint.portraits.dataset import write_dataset

    last = None
    for progress in write_dataset(args.out, args.count, args.size, args.seed, args.format, args.captions, args.workers):
        last = progress
        if sys.stderr.isatty():
            print(f"\r{progress['message']}", end="", file=sys.stderr)
    if sys.stderr.isatty():
        print(file=sys.stderr)
    print(f"wrote {last['total']} portraits to {args.out}")
    return 0
