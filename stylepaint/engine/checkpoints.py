"""`load_generator(path)`: one loader for every checkpoint format people have.

Formats, told apart by their first bytes, never by the file name:

* official StyleGAN2-ADA-PyTorch pickles (``G_ema``) -- read by `safe_pickle`, never executed;
* rosinality stylegan2-pytorch ``.pt`` (``{'g_ema': state_dict, 'latent_avg': ...}``), the
  format StyleCLIP, e4e and PTI use -- read with ``torch.load(weights_only=True)`` and
  converted to the official parameter convention;
* the project's own format: a safetensors file whose metadata holds the architecture as JSON
  (written by `save_generator`, i.e. ``stylepaint convert``).

Every format becomes (config, state_dict); `Generator(**config)` then loads the tensors
strictly, so a file that does not describe a complete generator is refused with its reason.
"""

from __future__ import annotations

import hashlib
import json
import math
import pickle
import re
import struct
import zipfile
from pathlib import Path

import torch

from stylepaint import paths
from stylepaint.engine.networks import Generator
from stylepaint.engine.safe_pickle import PersistentRecord, safe_load_pickle
from stylepaint.errors import CheckpointError, DeviceError, UnsafePickleError

OWN_FORMAT = "stylepaint-generator"
OWN_FORMAT_VERSION = "1"
ROSINALITY_MAPPING_LR = 0.01   # rosinality's default `lr_mlp`; not stored in its checkpoints
_TORCH_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C


# --------------------------------------------------------------------------- devices

def resolve_device(device: str | torch.device | None = "cpu") -> torch.device:
    """'auto' picks CUDA, then MPS, then CPU; an unavailable or unknown device is a DeviceError."""
    name = str(device or "cpu")
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        dev = torch.device(name)
    except (RuntimeError, TypeError) as exc:
        raise DeviceError(f"unknown device {name!r}; use 'cpu', 'cuda', 'cuda:N', 'mps' or 'auto'") from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise DeviceError(f"device {name!r} was asked for, but CUDA is not available on this machine; use 'cpu' or 'auto'")
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        raise DeviceError(f"device {name!r} does not exist: this machine has {torch.cuda.device_count()} CUDA device(s)")
    if dev.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise DeviceError(f"device {name!r} was asked for, but Apple MPS is not available on this machine; use 'cpu' or 'auto'")
    if dev.type not in ("cpu", "cuda", "mps"):
        raise DeviceError(f"device type {dev.type!r} is not supported; use 'cpu', 'cuda', 'mps' or 'auto'")
    return dev


# --------------------------------------------------------------------------- default model

def default_model_path() -> Path:
    """The embedded default generator named in resources/models/manifest.json."""
    manifest = paths.MODELS_DIR / "manifest.json"
    if manifest.is_file():
        entries = json.loads(manifest.read_text(encoding="utf-8"))
        for name, entry in (entries.get("files", entries) if isinstance(entries, dict) else {}).items():
            if isinstance(entry, dict) and entry.get("role") == "default-generator":
                path = paths.MODELS_DIR / name
                if path.is_file():
                    return path
    raise CheckpointError(
        paths.MODELS_DIR,
        "no embedded default generator is installed; open a checkpoint (stylepaint gui --model FILE) "
        "or download one (stylepaint models list)",
    )


# --------------------------------------------------------------------------- reading

def _sniff(path: Path) -> str:
    with open(path, "rb") as f:
        head = f.read(16)
    if not head:
        raise CheckpointError(path, "the file is empty")
    if head[:4] == b"PK\x03\x04":
        return "zip"
    if head[0] == 0x80 and len(head) > 1 and head[1] in (2, 3, 4, 5):
        return "pickle"
    if len(head) >= 9:
        (header_len,) = struct.unpack("<Q", head[:8])
        if 0 < header_len < 100_000_000 and head[8:9] == b"{":
            return "safetensors"
    raise CheckpointError(path, "not a StyleGAN2 checkpoint (unrecognised file format)")


def _read_official(path: Path, data) -> tuple[dict, dict]:
    if not isinstance(data, dict):
        raise CheckpointError(path, f"not a StyleGAN2-ADA pickle (top level is {type(data).__name__}, not dict)")
    record = data.get("G_ema") or data.get("G")
    if not isinstance(record, PersistentRecord):
        found = ", ".join(sorted(map(str, data))) or "nothing"
        raise CheckpointError(path, f"holds no generator (G_ema or G); found: {found}")
    return _official_record_to_config(path, record), record.tensors()


def _official_record_to_config(path: Path, g: PersistentRecord) -> dict:
    st = g.state
    synthesis, mapping = g.module("synthesis"), g.module("mapping")
    if g.class_name != "Generator" or synthesis is None or mapping is None:
        raise CheckpointError(path, f"holds a {g.class_name}, not a StyleGAN2 generator")
    if st.get("c_dim", 0):
        raise CheckpointError(path, f"is a class-conditional generator (c_dim={st['c_dim']}), which stylepaint does not support")
    resolutions = synthesis.state.get("block_resolutions")
    if not resolutions:
        raise CheckpointError(path, "looks like a StyleGAN3 or other non-StyleGAN2 generator, which stylepaint does not support")
    channels, fp16, clamp = {}, 0, None
    for res in resolutions:
        block = synthesis.module(f"b{res}")
        if block is None:
            raise CheckpointError(path, f"synthesis block b{res} is missing")
        if block.state.get("architecture", "skip") != "skip":
            raise CheckpointError(path, f"uses the '{block.state['architecture']}' synthesis architecture; only 'skip' (the StyleGAN2 default) is supported")
        conv1 = block.module("conv1")
        channels[str(res)] = int(conv1.state["_parameters"]["weight"].shape[0])
        fp16 += bool(block.state.get("use_fp16"))
        clamp = conv1.state.get("conv_clamp")
    fc0 = mapping.module("fc0")
    in_features = fc0.state["_parameters"]["weight"].shape[1]
    lr_mul = float(fc0.state.get("weight_gain", 0.01 / math.sqrt(in_features))) * math.sqrt(in_features)
    return dict(z_dim=int(st["z_dim"]), w_dim=int(st["w_dim"]), img_resolution=int(st["img_resolution"]),
                img_channels=int(st.get("img_channels", 3)), mapping_layers=int(mapping.state.get("num_layers", 8)),
                mapping_lr_multiplier=round(lr_mul, 8), num_fp16_res=fp16,
                conv_clamp=None if clamp is None else float(clamp), channels=channels)


def _read_rosinality(path: Path, ckpt) -> tuple[dict, dict]:
    if not isinstance(ckpt, dict) or not isinstance(ckpt.get("g_ema"), dict):
        found = ", ".join(sorted(map(str, ckpt))) if isinstance(ckpt, dict) else type(ckpt).__name__
        raise CheckpointError(path, f"holds no generator ('g_ema'); found: {found}")
    sd = ckpt["g_ema"]
    try:
        n_mlp = max(int(k.split(".")[1]) for k in sd if k.startswith("style.") and k.endswith(".weight"))
        w_dim, z_dim = sd["style.1.weight"].shape
        num_blocks = 1 + len([k for k in sd if re.fullmatch(r"to_rgbs\.\d+\.bias", k)])
        resolution = 2 ** (num_blocks + 1)
        channels = {"4": int(sd["conv1.conv.weight"].shape[1])}
        for k in range(num_blocks - 1):
            channels[str(2 ** (k + 3))] = int(sd[f"convs.{2 * k}.conv.weight"].shape[1])
    except (KeyError, ValueError, IndexError) as exc:
        raise CheckpointError(path, f"'g_ema' is not a rosinality StyleGAN2 generator ({exc!r} missing)") from None
    config = dict(z_dim=int(z_dim), w_dim=int(w_dim), img_resolution=resolution, img_channels=3, mapping_layers=n_mlp,
                  mapping_lr_multiplier=ROSINALITY_MAPPING_LR, num_fp16_res=0, conv_clamp=None, channels=channels)
    out = {f"mapping.fc{i}.{p}": sd[f"style.{i + 1}.{p}"] for i in range(n_mlp) for p in ("weight", "bias")}
    latent_avg = ckpt.get("latent_avg")
    out["mapping.w_avg"] = (latent_avg.reshape(-1)[:w_dim] if latent_avg is not None else torch.zeros(w_dim)).float()
    out["synthesis.b4.const"] = sd["input.input"][0]

    def conv(src: str, dst: str, noise_index: int | None):
        w = sd[f"{src}.conv.weight"][0]                          # [O, I, k, k]
        scale = 1 / math.sqrt(w[0].numel())
        out[f"{dst}.weight"] = w * scale                           # demodulation cancels the scale; keep it exact
        out[f"{dst}.affine.weight"] = sd[f"{src}.conv.modulation.weight"]
        out[f"{dst}.affine.bias"] = sd[f"{src}.conv.modulation.bias"]
        if noise_index is None:                                    # toRGB: bias lives on the ToRGB module
            out[f"{dst}.bias"] = sd[f"{src}.bias"].reshape(-1)
            out[f"{dst}.weight"] = w                               # its gain 1/sqrt(I) is applied to the styles
        else:
            out[f"{dst}.bias"] = sd[f"{src}.activate.bias"].reshape(-1)
            out[f"{dst}.noise_strength"] = sd[f"{src}.noise.weight"].reshape(())
            out[f"{dst}.noise_const"] = sd[f"noises.noise_{noise_index}"][0, 0]

    conv("conv1", "synthesis.b4.conv1", 0)
    conv("to_rgb1", "synthesis.b4.torgb", None)
    for k in range(num_blocks - 1):
        res = 2 ** (k + 3)
        conv(f"convs.{2 * k}", f"synthesis.b{res}.conv0", 2 * k + 1)
        conv(f"convs.{2 * k + 1}", f"synthesis.b{res}.conv1", 2 * k + 2)
        conv(f"to_rgbs.{k}", f"synthesis.b{res}.torgb", None)
    return config, out


def _read_own(path: Path) -> tuple[dict, dict]:
    from safetensors import SafetensorError
    from safetensors.torch import load_file, safe_open
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(path, f"the safetensors file is truncated or corrupt ({exc})") from None
    if meta.get("format") != OWN_FORMAT:
        raise CheckpointError(path, "is a safetensors file but not a stylepaint generator (no architecture metadata)")
    return json.loads(meta["config"]), tensors


def read_checkpoint(path) -> tuple[dict, dict, str]:
    """(config, state_dict, format name) for any supported file; nothing from the file runs."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(path, "no such file")
    if path.is_dir():
        raise CheckpointError(path, "is a folder, not a model file")
    kind = _sniff(path)
    try:
        if kind == "safetensors":
            return (*_read_own(path), "stylepaint")
        if kind == "zip":
            return (*_read_rosinality(path, torch.load(path, map_location="cpu", weights_only=True)), "rosinality")
        with open(path, "rb") as f:
            data = safe_load_pickle(f, str(path))
        if data == _TORCH_LEGACY_MAGIC:                                   # pre-1.6 torch.save file
            return (*_read_rosinality(path, torch.load(path, map_location="cpu", weights_only=True)), "rosinality")
        return (*_read_official(path, data), "stylegan2-ada")
    except (UnsafePickleError, CheckpointError):
        raise
    except (EOFError, pickle.UnpicklingError, zipfile.BadZipFile, RuntimeError, ValueError, struct.error) as exc:
        problem = "the file is truncated or corrupt" if isinstance(exc, (EOFError, zipfile.BadZipFile)) else "cannot be read"
        raise CheckpointError(path, f"{problem} ({type(exc).__name__}: {str(exc)[:120]})") from None


def _build(path, config: dict, state: dict) -> Generator:
    try:
        G = Generator(**config)
    except (TypeError, ValueError) as exc:
        raise CheckpointError(path, f"has an architecture stylepaint cannot build ({exc})") from None
    state = {k: v for k, v in state.items() if not k.endswith("resample_filter")}
    expected = G.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong = [k for k in expected if k in state and tuple(state[k].shape) != tuple(expected[k].shape)]
    if missing or unexpected or wrong:
        detail = (f"missing {missing[:3]}" if missing else f"unexpected {unexpected[:3]}" if unexpected
                  else f"wrong shape for {wrong[:3]}")
        raise CheckpointError(path, f"does not describe a complete generator ({detail})")
    G.load_state_dict({k: v.float() for k, v in state.items()})
    return G


def weights_id(G: Generator) -> str:
    """A short id of the weights themselves (same for a pickle and its converted copy)."""
    h = hashlib.sha256(json.dumps(G.config, sort_keys=True).encode())
    for name, tensor in sorted(G.state_dict().items()):
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def load_generator(path=None, device="cpu") -> Generator:
    """Load any supported checkpoint (None or 'default': the embedded default) in eval mode."""
    dev = resolve_device(device)
    path = default_model_path() if path in (None, "default") else Path(path)
    config, state, fmt = read_checkpoint(path)
    G = _build(path, config, state)
    G.model_id = weights_id(G)
    G.source_path, G.source_format = str(path), fmt
    return G.eval().requires_grad_(False).to(dev)


def save_generator(G: Generator, path) -> None:
    """Write the project's safe format: safetensors + the architecture as JSON metadata."""
    from safetensors.torch import save_file
    tensors = {k: v.detach().cpu().contiguous() for k, v in G.state_dict().items()}
    meta = {"format": OWN_FORMAT, "version": OWN_FORMAT_VERSION, "config": json.dumps(G.config)}
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    save_file(tensors, str(tmp), metadata=meta)
    tmp.replace(path)
