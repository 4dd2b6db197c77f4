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

from stylepaint import limits, paths
from stylepaint.engine.networks import Generator
from stylepaint.engine.safe_pickle import (TORCH_LEGACY_MAGIC, PersistentRecord, check_extent, load_torch_legacy,
                                          safe_load_pickle)
from stylepaint.errors import CheckpointError, DeviceError, FileError
from stylepaint.safe_read import model_format, open_regular, parse_json
from stylepaint.safe_write import describe_oserror

OWN_FORMAT = "stylepaint-generator"
OWN_FORMAT_VERSION = "1"
ROSINALITY_MAPPING_LR = 0.01   # rosinality's default `lr_mlp`; not stored in its checkpoints


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

#: Errors a malformed file makes the readers raise; each becomes one CheckpointError.
_MALFORMED = (KeyError, AttributeError, TypeError, IndexError)
_CORRUPT = (EOFError, pickle.UnpicklingError, zipfile.BadZipFile, RuntimeError, ValueError, struct.error,
            OverflowError, UnicodeDecodeError)
_CONFIG_KEYS = {"z_dim", "w_dim", "img_resolution", "img_channels", "mapping_layers", "mapping_lr_multiplier",
                "channel_base", "channel_max", "num_fp16_res", "conv_clamp", "channels"}


def _sniff(path: Path, f) -> str:
    head = f.read(16)
    f.seek(0)
    if not head:
        raise CheckpointError(path, "the file is empty")
    kind = model_format(head)
    if kind is None:
        raise CheckpointError(path, "not a StyleGAN2 checkpoint (unrecognised file format)")
    return kind


def _read_official(path: Path, data) -> tuple[dict, dict]:
    if not isinstance(data, dict):
        raise CheckpointError(path, f"not a StyleGAN2-ADA pickle (top level is {type(data).__name__}, not dict)")
    record = data.get("G_ema") or data.get("G")
    if not isinstance(record, PersistentRecord):
        found = ", ".join(sorted(map(str, data))[:8]) or "nothing"
        raise CheckpointError(path, f"holds no generator (G_ema or G); found: {found}")
    return _official_record_to_config(path, record), record.tensors()


def _official_record_to_config(path: Path, g: PersistentRecord) -> dict:
    st = g.state
    synthesis, mapping = g.module("synthesis"), g.module("mapping")
    if g.class_name != "Generator" or synthesis is None or mapping is None:
        raise CheckpointError(path, f"holds a {g.class_name[:40]}, not a StyleGAN2 generator")
    if st.get("c_dim", 0):
        raise CheckpointError(path, f"is a class-conditional generator (c_dim={st['c_dim']!r:.20}), which stylepaint does not support")
    resolutions = synthesis.state.get("block_resolutions")
    if not resolutions:
        raise CheckpointError(path, "looks like a StyleGAN3 or other non-StyleGAN2 generator, which stylepaint does not support")
    if not isinstance(resolutions, list) or len(resolutions) > 16:
        raise CheckpointError(path, "its synthesis network lists an invalid set of blocks")
    channels, fp16, clamp = {}, 0, None
    for res in resolutions:
        block = synthesis.module(f"b{res}")
        if block is None:
            raise CheckpointError(path, f"synthesis block b{res} is missing")
        if block.state.get("architecture", "skip") != "skip":
            raise CheckpointError(path, f"uses the '{block.state['architecture']!s:.20}' synthesis architecture; "
                                        "only 'skip' (the StyleGAN2 default) is supported")
        conv1 = block.module("conv1")
        channels[str(res)] = int(conv1.state["_parameters"]["weight"].shape[0])
        fp16 += bool(block.state.get("use_fp16"))
        clamp = conv1.state.get("conv_clamp")
    fc0 = mapping.module("fc0")
    in_features = fc0.state["_parameters"]["weight"].shape[1]
    lr_mul = float(fc0.state.get("weight_gain", 0.01 / math.sqrt(in_features))) * math.sqrt(in_features)
    return dict(z_dim=st["z_dim"], w_dim=st["w_dim"], img_resolution=st["img_resolution"],
                img_channels=st.get("img_channels", 3), mapping_layers=mapping.state.get("num_layers", 8),
                mapping_lr_multiplier=round(lr_mul, 8) if math.isfinite(lr_mul) else lr_mul, num_fp16_res=fp16,
                conv_clamp=None if clamp is None else float(clamp), channels=channels)


def _check_storage(path: Path, tensors: dict) -> None:
    """A tensor from ``torch.load`` may view only bytes its storage holds, and no more
    elements than that: a stride-0 view cannot turn a few bytes into gigabytes when copied."""
    for name, t in tensors.items():
        if not isinstance(t, torch.Tensor):
            raise CheckpointError(path, f"{name} is a {type(t).__name__}, not a tensor")
        try:
            if min(t.stride(), default=0) < 0:
                raise pickle.UnpicklingError("negative stride")
            check_extent(t.untyped_storage().nbytes() // t.element_size(), t.storage_offset(), tuple(t.shape), t.stride())
        except pickle.UnpicklingError:
            raise CheckpointError(path, f"tensor {name} of shape {list(t.shape)} claims more data than the file holds") from None


def _read_rosinality(path: Path, ckpt) -> tuple[dict, dict]:
    if not isinstance(ckpt, dict) or not isinstance(ckpt.get("g_ema"), dict):
        found = ", ".join(sorted(map(str, ckpt))[:8]) if isinstance(ckpt, dict) else type(ckpt).__name__
        raise CheckpointError(path, f"holds no generator ('g_ema'); found: {found}")
    sd = ckpt["g_ema"]
    latent_avg = ckpt.get("latent_avg")
    _check_storage(path, {**sd, **({} if latent_avg is None else {"latent_avg": latent_avg})})
    try:
        n_mlp = max(int(k.split(".")[1]) for k in sd if k.startswith("style.") and k.endswith(".weight"))
        w_dim, z_dim = sd["style.1.weight"].shape
        num_blocks = 1 + len([k for k in sd if re.fullmatch(r"to_rgbs\.\d+\.bias", k)])
        resolution = 2 ** min(num_blocks + 1, 64)
        channels = {"4": int(sd["conv1.conv.weight"].shape[1])}
        config = dict(z_dim=int(z_dim), w_dim=int(w_dim), img_resolution=resolution, img_channels=3,
                      mapping_layers=n_mlp, mapping_lr_multiplier=ROSINALITY_MAPPING_LR, num_fp16_res=0,
                      conv_clamp=None, channels=channels)
        check_architecture(path, dict(config, channels=None))
        for k in range(num_blocks - 1):
            channels[str(2 ** (k + 3))] = int(sd[f"convs.{2 * k}.conv.weight"].shape[1])
    except (KeyError, ValueError, IndexError) as exc:
        raise CheckpointError(path, f"'g_ema' is not a rosinality StyleGAN2 generator ({exc!r:.80} missing)") from None
    out = {f"mapping.fc{i}.{p}": sd[f"style.{i + 1}.{p}"] for i in range(n_mlp) for p in ("weight", "bias")}
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
    if meta.get("format") != OWN_FORMAT or not isinstance(meta.get("config"), str):
        raise CheckpointError(path, "is a safetensors file but not a stylepaint generator (no architecture metadata)")
    return parse_json(meta["config"].encode("utf-8"), path, CheckpointError), tensors


def _read_zip(path: Path, f, size: int):
    """``torch.load`` of a zip-format file, after checking that its members hold no more than
    the file itself (torch stores them uncompressed)."""
    with zipfile.ZipFile(f) as zf:
        members = zf.infolist()
        if any(m.compress_type != zipfile.ZIP_STORED for m in members) or sum(m.file_size for m in members) > size:
            raise CheckpointError(path, "is a zip archive but not a torch.save file (compressed or oversized members)")
    f.seek(0)
    return torch.load(f, map_location="cpu", weights_only=True)


def read_checkpoint(path) -> tuple[dict, dict, str]:
    """(config, state_dict, format name) for any supported file; nothing from the file runs.

    Only a regular file up to `limits.FILE_BYTES['checkpoint']` is opened; every problem
    with its contents is one ``CheckpointError`` naming the file.
    """
    path = Path(path)
    f, size = open_regular(path, "checkpoint", CheckpointError)
    with f:
        kind = _sniff(path, f)
        try:
            if kind == "safetensors":
                return (*_read_own(path), "stylepaint")
            if kind == "zip":
                return (*_read_rosinality(path, _read_zip(path, f, size)), "rosinality")
            data = safe_load_pickle(f, str(path), size)
            if data == TORCH_LEGACY_MAGIC:                                # pre-1.6 torch.save file
                f.seek(0)
                return (*_read_rosinality(path, load_torch_legacy(f, str(path), size)), "rosinality")
            return (*_read_official(path, data), "stylegan2-ada")
        except CheckpointError:
            raise
        except _MALFORMED as exc:
            raise CheckpointError(path, f"does not describe a StyleGAN2 generator ({type(exc).__name__}: {str(exc)[:120]})") from None
        except _CORRUPT as exc:
            problem = "the file is truncated or corrupt" if isinstance(exc, (EOFError, zipfile.BadZipFile)) else "cannot be read"
            raise CheckpointError(path, f"{problem} ({type(exc).__name__}: {str(exc)[:120]})") from None


def _whole(path, config: dict, name: str, low: int, high: int) -> int:
    value = config.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise CheckpointError(path, f"has {name} = {value!r:.40}; stylepaint supports {low} to {high}")
    return value


def _real(path, config: dict, name: str, low: float, high: float) -> float:
    value = config.get(name)
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not low < value <= high:
        raise CheckpointError(path, f"has {name} = {value!r:.40}; stylepaint supports more than {low} up to {high}")
    return float(value)


def check_architecture(path, config) -> dict:
    """Refuse an architecture outside `limits.ARCH` before anything is allocated for it."""
    if not isinstance(config, dict):
        raise CheckpointError(path, "its architecture is not a set of named values")
    unknown = sorted(map(str, set(config) - _CONFIG_KEYS))
    if unknown:
        raise CheckpointError(path, f"has unknown architecture settings {unknown[:3]}")
    for name in ("z_dim", "w_dim", "mapping_layers", "img_channels"):
        _whole(path, config, name, 1, limits.ARCH[name])
    res = _whole(path, config, "img_resolution", 4, limits.ARCH["img_resolution"])
    if res & (res - 1):
        raise CheckpointError(path, f"has img_resolution = {res}, which is not a power of two")
    blocks = [2 ** i for i in range(2, res.bit_length())]
    _whole(path, config, "num_fp16_res", 0, len(blocks))
    _real(path, config, "mapping_lr_multiplier", 0.0, 1000.0)
    if config.get("conv_clamp") is not None:
        _real(path, config, "conv_clamp", 0.0, 1e9)
    channels = config.get("channels")
    if channels is None:
        base = _whole(path, config, "channel_base", 1, 1 << 24) if "channel_base" in config else 32768
        top = _whole(path, config, "channel_max", 1, limits.ARCH["channels"]) if "channel_max" in config else 512
        channels = {str(r): min(base // r, top) for r in blocks}
    if not isinstance(channels, dict) or sorted(map(str, channels)) != sorted(map(str, blocks)):
        raise CheckpointError(path, f"lists channels for blocks {sorted(map(str, channels or {}))[:8]}, "
                                    f"expected {[str(b) for b in blocks][:8]}")
    for key, value in channels.items():
        _whole(path, {f"channels[{key}]": value}, f"channels[{key}]", 1, limits.ARCH["channels"])
    return config


def _validate(path, config: dict, state: dict) -> dict:
    """The weights (minus derived buffers) if they fit ``config`` exactly and are finite floats;
    shapes are compared on the meta device, so nothing is allocated for a bogus architecture."""
    check_architecture(path, config)
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(path, "its weights are not a set of named tensors")
    try:
        with torch.device("meta"):                      # shapes only: nothing allocated yet
            expected = {k: tuple(v.shape) for k, v in Generator(**config).state_dict().items()}
    except (TypeError, ValueError) as exc:
        raise CheckpointError(path, f"has an architecture stylepaint cannot build ({exc})") from None
    state = {k: v for k, v in state.items() if not k.endswith("resample_filter")}
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong = [k for k in expected if k in state and tuple(state[k].shape) != expected[k]]
    if missing or unexpected or wrong:
        detail = (f"missing {missing[:3]}" if missing else f"unexpected {unexpected[:3]}" if unexpected
                  else f"wrong shape for {wrong[:3]}")
        raise CheckpointError(path, f"does not describe a complete generator ({detail})")
    for name, tensor in state.items():
        if not tensor.is_floating_point():
            raise CheckpointError(path, f"tensor {name} holds {tensor.dtype} values, not floating-point weights")
        if not bool(torch.isfinite(tensor).all()):
            raise CheckpointError(path, f"tensor {name} holds NaN or infinite values")
    return state


def check_checkpoint(path) -> dict:
    """Read and validate a checkpoint without building it (the downloader's last check);
    returns its architecture. Raises ``CheckpointError`` like `load_generator`."""
    config, state, _ = read_checkpoint(path)
    _validate(path, config, state)
    return config


def _build(path, config: dict, state: dict) -> Generator:
    state = _validate(path, config, state)
    G = Generator(**config)
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
    if not path.parent.is_dir():
        raise FileError(path, "cannot be written: the folder does not exist")
    tmp = path.with_name(path.name + ".tmp")
    from safetensors import SafetensorError
    try:
        save_file(tensors, str(tmp), metadata=meta)
        tmp.replace(path)
    except (OSError, SafetensorError) as exc:
        tmp.unlink(missing_ok=True)
        reason = describe_oserror(exc) if isinstance(exc, OSError) else str(exc)
        raise FileError(path, f"cannot be written: {reason}") from None
