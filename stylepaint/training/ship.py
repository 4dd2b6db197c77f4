"""Ship a trained generator as the embedded default: model file, StyleSpace statistics, manifest.

``ship_generator(G_ema_path, name, report)`` writes ``MODELS_DIR/<name>.safetensors`` (the
project's own format, as ``stylepaint convert`` writes it), ``<name>.stylespace.safetensors``
(per-channel StyleSpace ``mean`` and ``std`` over 10k samples, what global directions need),
and their ``manifest.json`` entries: sha256, bytes, config, the training commands, kimg and
the evaluation metrics. The new file gets ``role: default-generator`` (any previous default
becomes ``role: generator``), which is how ``load_generator(None)`` finds it. A model shipped
with ``force`` before it met every quality target says so: ``provisional`` and ``targets_missed``.
"""

from __future__ import annotations

import json
from pathlib import Path

from stylepaint.errors import InputError

STATS_SAMPLES = 10_000


def metrics_summary(report: dict) -> dict:
    """The headline figures of an ``evaluate_gan`` report, for the manifest."""
    return {
        "samples": report["count"],
        "truncation_psi": report["truncation_psi"],
        "oracle_confident_share": round(report["confident_share"], 4),
        "oracle_confident_share_renders": round(report["confident_share_renders"], 4),
        "max_frequency_gap_points": round(report["max_gap_points"], 2),
        "max_frequency_gap_value": report["max_gap_value"],
        "kid": report["kernel_distance"]["mean"],
        "kid_std": report["kernel_distance"]["std"],
        "kid_floor": report["kernel_floor"]["mean"],
        "kid_floor_std": report["kernel_floor"]["std"],
        "kid_ratio": round(report["kernel_ratio"], 2),
        "targets": report["targets"],
    }


def ship_generator(generator_path: str | Path, name: str, report: dict, models_dir: str | Path | None = None,
                   force: bool = False) -> dict:
    """Install ``generator_path`` as the embedded default; returns its manifest entry."""
    from safetensors.torch import save_file

    from stylepaint.directions.stats import style_statistics
    from stylepaint.engine.checkpoints import load_generator, save_generator
    from stylepaint.paths import MODELS_DIR
    from stylepaint.portraits.manifest import read_manifest, update_entry
    from stylepaint.training import checkpoint as ckpt

    missed = [k for k, ok in report["targets"].items() if not ok]
    if missed and not force:
        raise InputError(f"{generator_path} misses the quality targets ({', '.join(missed)}); not shipped")
    if not name or "/" in name or name.startswith("."):
        raise InputError(f"model name {name!r} must be a plain file name")
    models_dir = Path(models_dir) if models_dir else MODELS_DIR
    models_dir.mkdir(parents=True, exist_ok=True)
    generator_path = Path(generator_path)
    state = {}
    if ckpt.has_checkpoint(generator_path.parent):
        state = ckpt.read_state(generator_path.parent)

    G = load_generator(generator_path)
    model_file = models_dir / f"{name}.safetensors"
    save_generator(G, model_file)
    mean, std = style_statistics(G, n_samples=STATS_SAMPLES)
    stats_file = models_dir / f"{name}.stylespace.safetensors"
    save_file({"mean": mean.contiguous(), "std": std.contiguous()}, str(stats_file),
              metadata={"format": "stylepaint-stylespace-stats", "generator": model_file.name,
                        "samples": str(STATS_SAMPLES), "truncation_psi": "1.0"})

    manifest = models_dir / "manifest.json"
    entries = read_manifest(manifest)
    for other, entry in entries.items():  # one default generator at a time
        if other != model_file.name and isinstance(entry, dict) and entry.get("role") == "default-generator":
            entry["role"] = "generator"
    manifest.write_text(json.dumps(entries, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    entry = update_entry(
        model_file, manifest,
        role="default-generator",
        kind="stylegan2-generator",
        model_id=G.model_id,
        config=G.config,
        command=state.get("commands", []),
        kimg=state.get("cur_nimg", 0) / 1000 if state else None,
        cpu_hours=round(state["cpu_seconds"] / 3600, 2) if state.get("cpu_seconds") else None,
        wall_hours=round(state["wall_seconds"] / 3600, 2) if state.get("wall_seconds") else None,
        training=state.get("config", {}).get("training") if state else None,
        metrics=metrics_summary(report),
        provisional=bool(missed),       # shipped with --force before every quality target was met
        targets_missed=missed,
        stylespace_stats=stats_file.name,
    )
    update_entry(stats_file, manifest, role="stylespace-stats", generator=model_file.name, samples=STATS_SAMPLES)
    return entry
