"""Measure the shipped oracle and small CLIP on held-out portraits and print the tables.

    python benchmarks/portrait_models.py [--heldout data/portraits-heldout-64] [--count 5000]

Held-out renders use seeds from 10,000,000 up (training uses seeds below). Without a
held-out folder, ``--count`` portraits are rendered first (64 px, all cores).
Prints: oracle accuracy per group; small-CLIP zero-shot accuracy per group (prompt per value,
"a portrait of a person with {phrase}"); caption->image recall among the first 1000 images,
with full captions (every group described) and with random partial captions.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from stylepaint.portraits import small_clip
from stylepaint.portraits.captions import captions_for
from stylepaint.portraits.dataset import HELD_OUT_SEED, write_dataset
from stylepaint.portraits.oracle import load_oracle
from stylepaint.portraits.train_clip import evaluate_clip
from stylepaint.portraits.train_oracle import evaluate, load_split
from stylepaint.portraits.vocabulary import load_vocabulary

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--heldout", default=str(ROOT / "data" / "portraits-heldout-64"))
    p.add_argument("--count", type=int, default=5000)
    p.add_argument("--oracle", default=None, help="oracle file (default: the shipped one)")
    p.add_argument("--clip", default=str(small_clip.WEIGHTS_FILE), help="small-CLIP weights")
    p.add_argument("--clip-count", type=int, default=1000, help="held-out images for the CLIP tables (default 1000)")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    groups = load_vocabulary()
    folder = Path(args.heldout)
    if not (folder / "images.npy").exists():
        folder = Path(tempfile.mkdtemp()) / "heldout"
        print(f"rendering {args.count} held-out portraits into {folder} ...")
        for _ in write_dataset(folder, args.count, 64, HELD_OUT_SEED, "npy", captions=1):
            pass
    images, labels, records = load_split(folder, groups, "heldout")
    images, labels, records = images[: args.count], labels[: args.count], records[: args.count]
    print(f"held-out: {len(images)} renders, seeds {records[0]['seed']}..{records[-1]['seed']}, {images.shape[1]} px\n")

    t0 = time.time()
    acc = evaluate(load_oracle(args.oracle), images, labels)
    print(f"Oracle accuracy per group ({len(images)} held-out, {time.time() - t0:.0f} s)")
    print(f"| group | values | accuracy |\n|---|---|---|")
    for g, a in acc.items():
        print(f"| {g} | {len(groups[g])} | {100 * a:.2f} % |")
    print(f"| **min** | | **{100 * min(acc.values()):.2f} %** |\n")

    t0 = time.time()
    model, tokenizer = small_clip.create(args.clip)
    n = min(args.clip_count, len(images))
    full = [captions_for(r, 1, full=True, salt=1)[0] for r in records[:n]]
    m = evaluate_clip(model, tokenizer, images[:n], labels[:n], full)
    partial = [captions_for(r, 1, salt=2)[0] for r in records[:1000]]
    emb = small_clip.encode_images(model, (images[:1000].permute(0, 3, 1, 2).float() / 127.5 - 1))
    part = small_clip.caption_to_image_recall(emb, small_clip.encode_texts(model, tokenizer, partial))
    print(f"Small CLIP zero-shot accuracy per group ({m['zero_shot_count']} held-out, {time.time() - t0:.0f} s)")
    print("| group | values | zero-shot |\n|---|---|---|")
    zs = m["zero_shot_accuracy"]
    for g, a in zs.items():
        print(f"| {g} | {len(groups[g])} | {100 * a:.2f} % |")
    print(f"| **min** | | **{100 * min(zs.values()):.2f} %** |\n")
    r = m["retrieval"]
    print(f"Caption -> image retrieval among {m['retrieval_count']} held-out renders")
    print("| captions | R@1 | R@5 |\n|---|---|---|")
    print(f"| full (every group) | {100 * r['R@1']:.1f} % | {100 * r['R@5']:.1f} % |")
    print(f"| random partial | {100 * part['R@1']:.1f} % | {100 * part['R@5']:.1f} % |")


if __name__ == "__main__":
    main()
