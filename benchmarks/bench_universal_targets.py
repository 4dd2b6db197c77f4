"""What the universal mapper's edits reach once a text is read right: every vocabulary target
applied exactly (no reader; its canonical prompt, its calibrated gain) to the same validation faces.

    python benchmarks/bench_universal_targets.py --mapper runs/universal-128/universal-mapper.safetensors [--half]

For each target (and with ``--half`` at half strength, as "a bit" asks), the share of faces the
attribute oracle reads with the target value (success) and the share of the other groups' labels
left unchanged (kept), on ``--faces`` faces drawn from seed 777: neither the benchmark's faces
(bench_universal_mapper.py, seed 12345) nor the calibration's. The oracle only measures here.
Last, the held-out phrasings' mix of targets weighs these figures: what instructions and
descriptions would reach if every one were read right.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without installing

FACE_SEED = 777


@torch.no_grad()
def target_figures(G, clip, model, oracle, faces: int, strengths=(1.0,)) -> dict:
    """{"group=value xS": (success, kept)} for every target of ``model`` at each strength."""
    from bench_universal_mapper import oracle_tags

    from stylepaint.styleclip.phrasings import canonical
    from stylepaint.styleclip.universal_mapper import condition

    z = torch.randn(faces, G.z_dim, generator=torch.Generator().manual_seed(FACE_SEED)).to(G.device)

    def labels(ws):
        out = []
        for i in range(0, len(ws), 50):
            out += oracle_tags(G.synthesis(ws[i:i + 50], noise_mode="const"), oracle)
        return out

    ws = G.mapping(z, truncation_psi=0.7)
    before = labels(ws)
    figures = {}
    for group, value in model.targets:
        dws = model(ws, condition(clip, *canonical(group, value)))
        for s in strengths:
            after = labels(ws + dws * (s * model.gain_of(group, value)))
            figures[f"{group}={value} x{s:g}"] = (
                float(np.mean([a[group] == value for a in after])),
                float(np.mean([b[g] == a[g] for b, a in zip(before, after) for g in b if g != group])))
    return figures


def main(argv=None) -> int:
    from bench_universal_mapper import load_models, model_arguments

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    model_arguments(p)
    p.add_argument("--half", action="store_true", help="also at half strength (\"a bit\")")
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)

    from stylepaint.portraits.oracle import load_oracle
    from stylepaint.styleclip.phrasings import UNKNOWN, phrasings

    G, clip, model = load_models(args)
    strengths = (1.0, 0.5) if args.half else (1.0,)
    figures = target_figures(G, clip, model, load_oracle(), args.faces, strengths)
    for key, (success, kept) in figures.items():
        print(f"  {key:34} success {success:6.1%}  kept {kept:6.1%}")
    for s in strengths:
        rows = np.array([v for k, v in figures.items() if k.endswith(f" x{s:g}")])
        print(f"strength {s:g}: mean success {rows[:, 0].mean():.2%}  kept {rows[:, 1].mean():.2%} "
              f"({len(rows)} targets x {args.faces} faces)")
    for kind in ("instruction", "description"):
        held = [q for q in phrasings("heldout") if q.kind == kind and q.group != UNKNOWN
                and f"{q.group}={q.value} x{q.strength:g}" in figures]
        if held:
            mix = np.mean([figures[f"{q.group}={q.value} x{q.strength:g}"][0] for q in held])
            print(f"held-out {kind}s' targets ({len(held)}): {mix:.2%} if every one were read right")
    return 0


if __name__ == "__main__":
    sys.exit(main())
