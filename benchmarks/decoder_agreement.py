"""How well a portrait-code generator draws its code: the oracle's reading of samples vs the code.

For a generator whose mapping computes the portrait code (the decoder route), every sample's
true attributes are known: they are the code's. This prints, on ``--count`` samples (seeds
0..count-1, psi 1), the share on which the oracle is confident in every group, and per group
the oracle's agreement with the code and its confident share, and the L1 distance of the
samples to the renders of their codes (all pixels, and on the small parts: eyes, mouth,
earrings, cheeks), which needs no oracle; ``--sheet`` writes pairs of (render of the code,
generated) side by side. ``--resolution 64`` scores the 64 px stage's
own image (what the first training stage trains). The oracle only measures here.

    python benchmarks/decoder_agreement.py runs/portraits-128/G_ema.safetensors --count 512 --sheet pairs.png
    python benchmarks/decoder_agreement.py runs/portraits-128/log.jsonl       # the training curve
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch


def curve(log: Path) -> None:
    print(f"{'kimg':>7} {'wall h':>7} {'CPU h':>7} {'loss':>7} {'confident':>9} {'midpoints':>9}  lowest groups")
    for line in log.read_text().splitlines():
        d = json.loads(line)
        if "checkpoint" not in d:
            continue
        per = d.get("confident_per_group", {})
        low = ", ".join(f"{g} {100 * v:.0f}" for g, v in sorted(per.items(), key=lambda kv: kv[1])[:3])
        conf = f"{100 * d['confident']:.1f} %" if "confident" in d else "-"
        mid = f"{100 * d['confident_midpoints']:.1f} %" if "confident_midpoints" in d else "-"
        print(f"{d['kimg']:>7.1f} {d['wall_hours']:>7.2f} {d['cpu_hours']:>7.2f} {d['loss']:>7.4f} {conf:>9} {mid:>9}  {low}")


@torch.no_grad()
def agreement(model: Path, count: int, resolution: int | None, sheet: Path | None) -> None:
    from PIL import Image

    from stylepaint.engine.checkpoints import load_generator
    from stylepaint.portraits.dataset import render_records
    from stylepaint.portraits.oracle import load_oracle
    from stylepaint.tag_faces import portrait_code
    from stylepaint.training.decoder import face_weight_map
    from stylepaint.training.evaluate import confident_share
    from stylepaint.training.sheets import seed_latents, tile

    G = load_generator(model)
    code = portrait_code(G)
    if code is None:
        raise SystemExit(f"{model}: its mapping does not compute the portrait code")
    oracle = load_oracle()
    z = seed_latents(G, range(count))
    ws = G.mapping(z)
    res = resolution or G.img_resolution
    images = torch.cat([G.synthesis.forward_styles(G.synthesis.styles(part), "const", max_resolution=res)
                        for part in ws.split(64)]).clamp(-1, 1)
    records = code.decode(ws[:, 0].numpy())
    real = render_records(records, res)
    target = torch.from_numpy(real).permute(0, 3, 1, 2).float() / 127.5 - 1
    diff = (images - target).abs().mean(1)                                   # [N, R, R]
    parts = face_weight_map(res, 0.0, 1.0)[0, 0]
    parts = (parts - parts.min()).clamp(min=0)
    parts_l1 = float((diff * parts).sum() / (parts.sum() * len(diff)))
    probs = {g: [] for g in oracle.groups}
    for part in images.split(128):
        for g, p in oracle.predict(part).items():
            probs[g].append(p.numpy())
    probs = {g: np.concatenate(v) for g, v in probs.items()}
    share, per_group = confident_share(probs)
    print(f"{model}: {count} samples at {res} px; oracle-confident in every group: {100 * share:.1f} %")
    print(f"{'group':<12} {'agrees with code':>16} {'confident':>10}")
    for g, values in oracle.groups.items():
        agree = np.mean([values[i] == r["attributes"][g] for i, r in zip(probs[g].argmax(1), records)])
        print(f"{g:<12} {100 * agree:>15.1f}% {100 * per_group[g]:>9.1f}%")
    print(f"L1 to the renders of the codes (images in [-1, 1]): all pixels {diff.mean():.4f}, small parts {parts_l1:.4f}")
    if sheet:
        n = min(16, count)
        fake = ((images[:n] + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
        pairs = np.stack([x for pair in zip(real[:n], fake) for x in pair])
        Image.fromarray(tile(pairs, 8)).save(sheet)
        print(f"wrote {sheet} (pairs: render of the code | generated)")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("model", help="a generator file, or a run's log.jsonl for the training curve")
    p.add_argument("--count", type=int, default=256)
    p.add_argument("--resolution", type=int, default=None, help="score this stage's image (default: full size)")
    p.add_argument("--sheet", type=Path, default=None, help="PNG of render/generated pairs")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    path = Path(args.model)
    if path.suffix == ".jsonl":
        curve(path)
    else:
        agreement(path, args.count, args.resolution, args.sheet)


if __name__ == "__main__":
    main()
