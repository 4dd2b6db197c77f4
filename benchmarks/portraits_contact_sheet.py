"""Write docs/portraits.png: a contact sheet of 64 procedural portraits (seeds 0-63), 8 x 8.

    python benchmarks/portraits_contact_sheet.py [--size 128] [--out docs/portraits.png]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from PIL import Image

from stylepaint.portraits.dataset import render_seeds


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--size", type=int, default=128)
    p.add_argument("--first-seed", type=int, default=0)
    p.add_argument("--out", default=str(Path(__file__).resolve().parent.parent / "docs" / "portraits.png"))
    args = p.parse_args()
    t0 = time.time()
    images, _ = render_seeds(range(args.first_seed, args.first_seed + 64), args.size)
    grid = images.reshape(8, 8, args.size, args.size, 3).transpose(0, 2, 1, 3, 4).reshape(8 * args.size, 8 * args.size, 3)
    Image.fromarray(np.ascontiguousarray(grid)).save(args.out, optimize=True)
    print(f"wrote {args.out} ({time.time() - t0:.1f} s)")


if __name__ == "__main__":
    main()
