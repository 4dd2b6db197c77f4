"""Small resumable training checkpoints: safetensors shards for tensors, JSON for the rest.

A checkpoint in ``RUN_DIR`` is ``checkpoint.json`` (training state, configs, optimizer
hyper-parameters, the list of shard files with their sha256) plus one or more
``checkpoint-<kimg>-<i>.safetensors`` shards, none larger than ``max_shard_bytes`` (16 MB by
default, so that every file fits the transfer limits of a remote GPU session). The JSON is
replaced atomically after its shards are complete, then older shards are deleted: a crash
leaves the previous checkpoint intact.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from stylepaint.errors import CheckpointError

STATE_FILE = "checkpoint.json"
MAX_SHARD_BYTES = 16_000_000
FORMAT = "stylepaint-train-checkpoint"
VERSION = 1


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _plan_shards(tensors: dict[str, torch.Tensor], max_bytes: int) -> list[dict[str, torch.Tensor]]:
    # safetensors adds a JSON header (~100 bytes per tensor) and pads it; keep a margin.
    budget = max_bytes - 64 * 1024
    shards: list[dict[str, torch.Tensor]] = [{}]
    size = 0
    for name, tensor in tensors.items():
        nbytes = tensor.numel() * tensor.element_size() + 160
        if nbytes > budget:
            raise CheckpointError(name, f"tensor of {nbytes} bytes is larger than one checkpoint shard")
        if size + nbytes > budget and shards[-1]:
            shards.append({})
            size = 0
        shards[-1][name] = tensor
        size += nbytes
    return shards


def save_checkpoint(run_dir: str | os.PathLike, tensors: dict[str, torch.Tensor], state: dict,
                    max_shard_bytes: int = MAX_SHARD_BYTES) -> Path:
    """Write ``tensors`` (name -> tensor) in shards and ``state`` (JSON-able) to ``run_dir``."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    tag = f"{int(state.get('cur_nimg', 0)) // 1000:06d}"
    clean = {k: v.detach().cpu().contiguous().clone() for k, v in tensors.items()}
    shards = _plan_shards(clean, max_shard_bytes)
    files = []
    for i, shard in enumerate(shards):
        name = f"checkpoint-{tag}-{i}.safetensors"
        tmp = run_dir / (name + ".tmp")
        save_file(shard, str(tmp))
        os.replace(tmp, run_dir / name)
        files.append({"file": name, "sha256": _sha256(run_dir / name), "bytes": (run_dir / name).stat().st_size})
    doc = {"format": FORMAT, "version": VERSION, "shards": files, "state": state}
    tmp = run_dir / (STATE_FILE + ".tmp")
    tmp.write_text(json.dumps(doc, indent=1))
    os.replace(tmp, run_dir / STATE_FILE)
    keep = {f["file"] for f in files}
    for old in run_dir.glob("checkpoint-*.safetensors"):
        if old.name not in keep:
            old.unlink()
    return run_dir / STATE_FILE


def has_checkpoint(run_dir: str | os.PathLike) -> bool:
    return (Path(run_dir) / STATE_FILE).is_file()


def load_checkpoint(run_dir: str | os.PathLike) -> tuple[dict[str, torch.Tensor], dict]:
    """Read a checkpoint written by :func:`save_checkpoint`; verifies every shard's sha256."""
    run_dir = Path(run_dir)
    path = run_dir / STATE_FILE
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        raise CheckpointError(path, "no training checkpoint here (nothing to resume)") from None
    except (OSError, ValueError) as exc:
        raise CheckpointError(path, f"unreadable training checkpoint ({exc})") from None
    if doc.get("format") != FORMAT:
        raise CheckpointError(path, "not a stylepaint training checkpoint")
    tensors: dict[str, torch.Tensor] = {}
    for entry in doc["shards"]:
        shard = run_dir / entry["file"]
        if not shard.is_file():
            raise CheckpointError(shard, "checkpoint shard is missing")
        if _sha256(shard) != entry["sha256"]:
            raise CheckpointError(shard, "checkpoint shard is corrupt (sha256 mismatch)")
        tensors.update(load_file(str(shard)))
    return tensors, doc["state"]


# ---- flattening modules and optimizers into name -> tensor plus JSON ------------------------

def module_tensors(prefix: str, module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {f"{prefix}.{k}": v for k, v in module.state_dict().items()}


def load_module_tensors(prefix: str, module: torch.nn.Module, tensors: dict[str, torch.Tensor]) -> None:
    own = {k[len(prefix) + 1:]: v for k, v in tensors.items() if k.startswith(prefix + ".")}
    try:
        module.load_state_dict(own, strict=True)
    except RuntimeError as exc:
        raise CheckpointError(prefix, f"checkpoint does not match this network ({str(exc).splitlines()[0]})") from None


def optimizer_tensors(prefix: str, optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict]:
    """Split an optimizer's state_dict into tensors and a JSON-able remainder."""
    sd = optimizer.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict] = {}
    for idx, state in sd["state"].items():
        for key, value in state.items():
            if torch.is_tensor(value):
                tensors[f"{prefix}.{idx}.{key}"] = value.reshape(-1) if value.dim() == 0 else value
                if value.dim() == 0:
                    scalars.setdefault(str(idx), {})[key] = "scalar"
            else:
                scalars.setdefault(str(idx), {})[key] = value
    return tensors, {"param_groups": sd["param_groups"], "scalars": scalars}


def load_optimizer_tensors(prefix: str, optimizer: torch.optim.Optimizer, tensors: dict[str, torch.Tensor],
                           meta: dict) -> None:
    state: dict[int, dict] = {}
    for name, value in tensors.items():
        if not name.startswith(prefix + "."):
            continue
        idx, key = name[len(prefix) + 1:].split(".", 1)
        state.setdefault(int(idx), {})[key] = value
    for idx, entries in meta.get("scalars", {}).items():
        for key, value in entries.items():
            if value == "scalar":
                state[int(idx)][key] = state[int(idx)][key].reshape(())
            else:
                state.setdefault(int(idx), {})[key] = value
    optimizer.load_state_dict({"state": state, "param_groups": meta["param_groups"]})


def read_state(run_dir: str | os.PathLike) -> dict:
    """The training state of ``run_dir``'s checkpoint (JSON only, shards not read)."""
    path = Path(run_dir) / STATE_FILE
    try:
        return json.loads(path.read_text())["state"]
    except FileNotFoundError:
        raise CheckpointError(path, "no training checkpoint here (nothing to resume)") from None
    except (OSError, ValueError, KeyError) as exc:
        raise CheckpointError(path, f"unreadable training checkpoint ({exc})") from None
