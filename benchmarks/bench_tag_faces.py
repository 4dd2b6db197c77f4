"""Faces from tags on the embedded default (issue 13): are the tags there, how fast, how diverse?

``--sets`` random tag sets of 1-4 tags (group=value, drawn with the vocabulary's
probabilities, never a combination the vocabulary's constraints rule out), ``--count`` faces
each, made exactly as the editor's panel and ``stylepaint generate --tags`` make them
(``stylepaint.tag_faces``). The attribute oracle reads every face:

  read       share of faces on which the oracle reads every requested tag (goal >= 95 %);
  per tag    the same, per requested tag;
  code       share whose W decodes to the requested tags (the portrait code; no oracle);
  seconds    median wall time of one panel request: the latents and the rendered faces
             (goal: 8 faces <= 1 s on this CPU);
  diversity  for each group nobody requested in a set, its values' frequencies over those
             faces (oracle) against the renderer's, largest gap in points (goal <= 10).

    python benchmarks/bench_tag_faces.py                         # embedded default, 50 sets x 8
    python benchmarks/bench_tag_faces.py --model G.safetensors --sets 20
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # run from a checkout without installing

READ, SECONDS, GAP = 0.95, 1.0, 10.0


def draw_tag_sets(spec: dict, n: int, rng: np.random.Generator) -> list[dict[str, str]]:
    """``n`` tag sets of 1-4 group=value tags that the vocabulary's constraints leave as asked."""
    groups = list(spec["groups"])
    sets = []
    while len(sets) < n:
        k = int(rng.integers(1, 5))
        chosen = rng.choice(groups, size=k, replace=False)
        tags = {}
        for g in chosen:
            values = list(spec["groups"][g]["values"])
            p = np.array([spec["groups"][g]["values"][v]["p"] for v in values], float)
            tags[str(g)] = str(rng.choice(values, p=p / p.sum()))
        forced = {}
        for rule in spec.get("constraints", []):
            if all(tags.get(g) == v for g, v in rule["when"].items()):
                forced.update(rule["force"])
        if all(tags.get(g, v) == v for g, v in forced.items()):
            sets.append(tags)
    return sets


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=None, help="generator (default: the embedded default)")
    p.add_argument("--sets", type=int, default=50)
    p.add_argument("--count", type=int, default=8)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    import stylepaint
    from stylepaint.portraits.oracle import load_oracle
    from stylepaint.portraits.vocabulary import load_spec
    from stylepaint.tag_faces import faces_from_tags, portrait_code, render_faces

    G = stylepaint.load_generator(args.model)
    code = portrait_code(G)
    if code is None:
        print(f"{G.source_path} does not compute the portrait code: exact tags need the embedded default")
        return 2
    oracle, spec = load_oracle(), load_spec()
    rng = np.random.default_rng(args.seed)
    sets = draw_tag_sets(spec, args.sets, rng)
    render_faces(G, torch.randn(args.count, G.z_dim))          # warm-up

    seconds, read_all, read_code = [], [], []
    per_tag: dict[str, list[bool]] = defaultdict(list)
    unrequested: dict[str, Counter] = defaultdict(Counter)
    for i, tags in enumerate(sets):
        t0 = time.perf_counter()
        *_, last = faces_from_tags(G, tags, count=args.count, seed=args.seed * 1000 + i)
        ws, images = render_faces(G, last["z"])
        seconds.append(time.perf_counter() - t0)
        labels = oracle.labels(torch.from_numpy(images).permute(0, 3, 1, 2).float() / 127.5 - 1)
        decoded = code.decode(ws[:, 0])
        for lab, rec in zip(labels, decoded):
            read_all.append(all(lab[g] == v for g, v in tags.items()))
            read_code.append(all(rec["attributes"][g] == v for g, v in tags.items()))
            for g, v in tags.items():
                per_tag[f"{g}={v}"].append(lab[g] == v)
            touched = set(tags)
            for rule in spec.get("constraints", []):     # groups a requested tag forces are not free
                if any(g in tags for g in rule["when"]):
                    touched |= set(rule["force"])
            for g in spec["groups"]:
                if g not in touched:
                    unrequested[g][lab[g]] += 1

    print(f"model {G.source_path} ({G.img_resolution} px), {len(sets)} tag sets x {args.count} faces, "
          f"torch threads {torch.get_num_threads()}")
    share = float(np.mean(read_all))
    print(f"\noracle reads every requested tag: {share:.1%} of {len(read_all)} faces (goal >= {READ:.0%}); "
          f"W decodes to them: {np.mean(read_code):.1%}")
    worst = sorted(per_tag.items(), key=lambda kv: np.mean(kv[1]))[:8]
    print("least-read tags: " + ", ".join(f"{k} {np.mean(v):.0%} ({len(v)})" for k, v in worst))
    med = statistics.median(seconds)
    print(f"{args.count} faces (latents + render): median {med * 1000:.0f} ms, max {max(seconds) * 1000:.0f} ms "
          f"(goal <= {SECONDS:g} s)")
    # the renderer's own frequencies (constraints applied): the code of 20000 random latents, decoded
    records = code.decode(code.encode_z(np.random.default_rng(12345).standard_normal((20000, G.z_dim))))
    gaps = {}
    for g, counts in unrequested.items():
        total = sum(counts.values())
        truth = Counter(r["attributes"][g] for r in records)
        gaps[g] = max(abs(100 * counts.get(v, 0) / total - 100 * truth.get(v, 0) / len(records))
                      for v in spec["groups"][g]["values"])
    worst_gap = max(gaps, key=gaps.get)
    print("diversity, largest gap per unrequested group (points): "
          + ", ".join(f"{g} {gaps[g]:.1f}" for g in sorted(gaps, key=gaps.get, reverse=True)))
    met = share >= READ and med <= SECONDS and gaps[worst_gap] <= GAP
    print(f"\ngoals (read >= {READ:.0%}, <= {SECONDS:g} s, gaps <= {GAP:g} points): {'MET' if met else 'NOT MET'}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
