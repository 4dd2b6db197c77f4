"""Quality report of a portrait generator, scored by the attribute oracle.

On ``count`` samples (psi = 1, noise const) and as many held-out renders:

* **confident share**: share of samples on which the oracle's top probability is at least
  ``threshold`` (0.9) in *every* attribute group (a sample that mixes two hair styles fails);
  also on the same latents at psi = 0.7, and on the midpoints of ``midpoints`` random pairs
  of W (ghosts between faces fail). The oracle is not confident on every render either
  (about 65 % at 128 px), so each is compared with the renders' share;
* **frequencies**: each attribute value's share among the samples (oracle's top class) next to
  its share among the renders (the renderer's ground truth); the largest gap in points;
* **kernel distance** (KID, ``kernel_distance.py``) between the oracle's penultimate features
  of samples and renders, beside the same distance between two independent sets of renders
  (the floor). KID estimates scatter around 0 for equal distributions, so the floor used for
  the ratio is its noise level, ``max(|floor mean|, floor std)``.

Targets: confident share at psi 1 >= 90 % of the renders' and at psi 0.7 >= the renders';
every frequency gap <= 5 points; KID <= 3 x floor; midpoints >= 75 % of the renders' share.
"""

from __future__ import annotations

from typing import Iterator

import numpy as np
import torch

from stylepaint.errors import CheckpointError
from stylepaint.training.kernel_distance import kernel_distance

TARGET_CONFIDENT = 0.9          # x the renders' confident share, at psi 1
TARGET_CONFIDENT_PSI = 0.7      # at this psi the share must reach the renders' own
TARGET_MIDPOINTS = 0.75         # x the renders' share, on W midpoints
TARGET_GAP_POINTS = 5.0
TARGET_KERNEL_RATIO = 3.0
FLOOR_SEED_OFFSET = 5_000_000   # second render set, far from the first


class _Scores:
    """Accumulates the oracle's probabilities and features over batches."""

    def __init__(self, groups: dict[str, list[str]]):
        self.groups = groups
        self.probs: dict[str, list[np.ndarray]] = {g: [] for g in groups}
        self.features: list[np.ndarray] = []

    def add(self, oracle, images: torch.Tensor, with_probs: bool = True) -> None:
        if with_probs:
            for g, p in oracle.predict(images).items():
                self.probs[g].append(p.numpy())
        self.features.append(oracle.features(images).numpy().astype(np.float64))

    def stacked(self) -> tuple[dict[str, np.ndarray], np.ndarray]:
        probs = {g: np.concatenate(v) for g, v in self.probs.items() if v}
        return probs, np.concatenate(self.features)


def _uint8_to_float(images: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float() / 127.5 - 1.0


def confident_share(probs: dict[str, np.ndarray], threshold: float = 0.9) -> tuple[float, dict[str, float]]:
    """Share of samples confident in every group, and per group."""
    per_group = {g: p.max(axis=1) >= threshold for g, p in probs.items()}
    every = np.logical_and.reduce(list(per_group.values()))
    return float(every.mean()), {g: float(v.mean()) for g, v in per_group.items()}


def value_frequencies(probs: dict[str, np.ndarray], groups: dict[str, list[str]]) -> dict[str, dict[str, float]]:
    """Group -> value -> share of samples whose most likely value it is."""
    out = {}
    for g, values in groups.items():
        counts = np.bincount(probs[g].argmax(axis=1), minlength=len(values))
        out[g] = {v: float(c) / len(probs[g]) for v, c in zip(values, counts)}
    return out


def truth_frequencies(records: list[dict], groups: dict[str, list[str]]) -> dict[str, dict[str, float]]:
    """Group -> value -> share of renders that have it (the renderer's ground truth)."""
    out = {}
    for g, values in groups.items():
        column = [r["attributes"][g] for r in records]
        out[g] = {v: column.count(v) / len(column) for v in values}
    return out


def evaluate_gan(
    model,                          # path (None: embedded default) or a Generator
    count: int = 10_000,            # samples, and renders in each of the two render sets
    batch: int = 100,               # generator batch
    device: str = "cpu",
    oracle=None,                    # an Oracle (default: load_oracle())
    threshold: float = 0.9,         # confidence threshold of the confident share
    seed: int = 0,                  # latents of the samples
    workers: int | None = None,     # render processes (default: all cores)
    kid_subsets: int = 100,
    kid_subset_size: int = 1000,
    midpoints: int = 500,           # random W pairs whose midpoints are scored (0: skip)
) -> Iterator[dict]:
    """Yields progress dicts; the last one carries ``"report"`` (see the module docstring)."""
    from stylepaint.engine.checkpoints import load_generator
    from stylepaint.portraits.dataset import HELD_OUT_SEED, iter_render

    G = model if isinstance(model, torch.nn.Module) else load_generator(model, device=device)
    G_device = next(G.parameters()).device
    if oracle is None:
        from stylepaint.portraits.oracle import ORACLE_FILE, load_oracle

        if not ORACLE_FILE.exists():
            raise CheckpointError(ORACLE_FILE, "the attribute oracle is not installed; train it first")
        oracle = load_oracle(device=device)
    groups = oracle.groups
    total = 4 * count + midpoints
    done = 0

    def sample_scores(n_total: int, message: str, images_of) -> Iterator[dict]:
        nonlocal done
        scores = _Scores(groups)
        latents = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            for start in range(0, n_total, batch):
                n = min(batch, n_total - start)
                img = images_of(latents, n).float().clamp(-1, 1)
                scores.add(oracle, img.cpu(), with_probs=True)
                done += n
                yield {"done": done, "total": total, "message": message}
        results.append(scores)

    def at_psi(psi):
        return lambda gen, n: G(torch.randn([n, G.z_dim], generator=gen).to(G_device), truncation_psi=psi,
                                noise_mode="const")

    def midpoint(gen, n):
        z = torch.randn([2 * n, G.z_dim], generator=gen).to(G_device)
        w = G.mapping(z)
        return G.synthesis(0.5 * (w[:n] + w[n:]), noise_mode="const")

    results: list[_Scores] = []
    yield from sample_scores(count, "scoring samples", at_psi(1.0))
    yield from sample_scores(count, "scoring samples at psi 0.7", at_psi(TARGET_CONFIDENT_PSI))
    if midpoints:
        yield from sample_scores(midpoints, "scoring midpoints", midpoint)
    gen = results[0]
    share_psi, _ = confident_share(results[1].stacked()[0], threshold)
    share_mid = confident_share(results[2].stacked()[0], threshold)[0] if midpoints else None

    # two independent sets of held-out renders at the generator's resolution
    renders, floor = _Scores(groups), _Scores(groups)
    records: list[dict] = []
    for scores, first, with_probs in ((renders, HELD_OUT_SEED, True),
                                      (floor, HELD_OUT_SEED + FLOOR_SEED_OFFSET, False)):
        for _, images, recs in iter_render(range(first, first + count), G.img_resolution, workers):
            scores.add(oracle, _uint8_to_float(images), with_probs=with_probs)
            if with_probs:
                records.extend(recs)
            done += len(images)
            yield {"done": done, "total": total, "message": "scoring renders"}

    gen_probs, gen_feats = gen.stacked()
    ren_probs, ren_feats = renders.stacked()
    _, floor_feats = floor.stacked()
    share, per_group = confident_share(gen_probs, threshold)
    render_share, _ = confident_share(ren_probs, threshold)
    f_gen = value_frequencies(gen_probs, groups)
    f_truth = truth_frequencies(records, groups)
    f_oracle = value_frequencies(ren_probs, groups)
    frequencies, worst = {}, (0.0, "")
    for g, values in groups.items():
        frequencies[g] = {}
        for v in values:
            gap = 100.0 * abs(f_gen[g][v] - f_truth[g][v])
            frequencies[g][v] = {"generated": f_gen[g][v], "renderer": f_truth[g][v],
                                 "oracle_on_renders": f_oracle[g][v], "gap_points": gap}
            if gap >= worst[0]:
                worst = (gap, f"{g}={v}")
    kid = kernel_distance(gen_feats, ren_feats, kid_subsets, kid_subset_size, seed=seed)
    kid_floor = kernel_distance(floor_feats, ren_feats, kid_subsets, kid_subset_size, seed=seed + 1)
    floor_ref = max(abs(kid_floor["mean"]), kid_floor["std"], 1e-12)
    ratio = kid["mean"] / floor_ref
    report = {
        "model": getattr(G, "source_path", None) or "(in memory)",
        "model_id": getattr(G, "model_id", None),
        "resolution": G.img_resolution,
        "count": count,
        "truncation_psi": 1.0,
        "threshold": threshold,
        "confident_share": share,
        "confident_share_renders": render_share,
        "confident_share_psi07": share_psi,
        "confident_share_midpoints": share_mid,
        "midpoints": midpoints,
        "confident_per_group": per_group,
        "frequencies": frequencies,
        "max_gap_points": worst[0],
        "max_gap_value": worst[1],
        "kernel_distance": kid,
        "kernel_floor": kid_floor,
        "kernel_ratio": ratio,
        "targets": {
            "confident share >= 90% of the renders'": share >= TARGET_CONFIDENT * render_share,
            "confident share at psi 0.7 >= the renders'": share_psi >= render_share,
            "every frequency within 5 points": worst[0] <= TARGET_GAP_POINTS,
            "kernel distance <= 3x floor": ratio <= TARGET_KERNEL_RATIO,
        },
    }
    if midpoints:
        report["targets"]["midpoints confident >= 75% of the renders' share"] = share_mid >= TARGET_MIDPOINTS * render_share
    yield {"done": total, "total": total, "message": "done", "report": report}


def format_report(report: dict) -> str:
    """The report as plain text: headline figures, targets, then the frequency table."""
    kid, floor = report["kernel_distance"], report["kernel_floor"]
    lines = [
        f"model {report['model']} ({report['model_id']}), {report['resolution']} px, "
        f"{report['count']} samples at psi 1.0",
        f"oracle-confident (max prob >= {report['threshold']}) in every group: "
        f"{100 * report['confident_share']:.1f} % (renders: {100 * report['confident_share_renders']:.1f} %)",
        f"at psi 0.7: {100 * report['confident_share_psi07']:.1f} %"
        + (f"; midpoints of {report['midpoints']} W pairs: {100 * report['confident_share_midpoints']:.1f} %"
           if report.get("confident_share_midpoints") is not None else ""),
        f"largest frequency gap: {report['max_gap_points']:.1f} points ({report['max_gap_value']})",
        f"kernel distance (KID, oracle features): {kid['mean']:.4g} +- {kid['std']:.2g}; "
        f"renders vs renders floor: {floor['mean']:.4g} +- {floor['std']:.2g}; ratio {report['kernel_ratio']:.1f}",
        "targets: " + ", ".join(f"{k}: {'pass' if ok else 'FAIL'}" for k, ok in report["targets"].items()),
        "",
        f"{'group':<14} {'value':<14} {'generated %':>11} {'renderer %':>10} {'gap':>6}  confident %",
    ]
    for g, values in report["frequencies"].items():
        for i, (v, f) in enumerate(values.items()):
            conf = f"{100 * report['confident_per_group'][g]:.1f}" if i == 0 else ""
            lines.append(f"{g if i == 0 else '':<14} {v:<14} {100 * f['generated']:>11.1f} "
                         f"{100 * f['renderer']:>10.1f} {f['gap_points']:>6.1f}  {conf}")
    return "\n".join(lines)
