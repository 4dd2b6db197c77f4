"""The StyleCLIP latent mapper: trained once per prompt, then instant and specific to each face.

    job = train_mapper(G, clip, "curly hair", neutral="hair", params=MapperParams(minutes=5))
    for info in job: ...                       # progress; job.close() cancels (nothing saved)
    path = save_mapper(info["mapper"], G, clip)    # the user cache, keyed by model, CLIP, prompt
    mapper = load_mapper(path, G, clip)        # another model's or CLIP's file: one DataFileError
    shift = mapper.shift(G, ws)                # [N, C] StyleSpace shift at α = 1

As in the paper, one small MLP per layer group (coarse, middle, fine W+ entries) maps each w to a
residual Δw; ``Objective`` (the optimizer's loss) trains it on random W+ samples. At use the
shift is A·Δw (exact), so α scales it like every other method. Files are safetensors with
their identity in the header: no code runs when one is read.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.nn as nn

from stylepaint import paths
from stylepaint.engine import stylespace
from stylepaint.engine.networks import assert_shape, normalize_2nd_moment
from stylepaint.errors import DataFileError, InputError
from stylepaint.safe_read import read_bytes
from stylepaint.styleclip.objective import LossWeights, Objective

FORMAT = 1
GROUPS = stylespace.LAYER_GROUPS


@dataclass(frozen=True)
class MapperParams:
    steps: int = 2000              # training steps (the time limit may stop it earlier)
    minutes: float | None = None   # wall-clock limit; None = only ``steps``
    batch: int = 2                 # random W+ samples per step
    lr: float = 5e-4               # Adam learning rate
    truncation: float = 0.7        # psi of the training samples
    depth: int = 4                 # layers per group MLP
    scale: float = 0.1             # Δw = scale · MLP(w)
    seed: int = 0
    weights: LossWeights = field(default_factory=LossWeights)

    def to_dict(self) -> dict:
        return asdict(self)


def ws_groups(G) -> list[list[int]]:
    """W+ indices per layer group (coarse, middle, fine), by the first style layer each feeds."""
    owner = {}
    for layer in G.style_layers:
        owner.setdefault(layer.ws_index, stylespace.layer_group(layer, G.img_resolution))
    return [[i for i in range(G.num_ws) if owner.get(i, "fine") == g] for g in GROUPS]


class _GroupMLP(nn.Module):
    def __init__(self, w_dim: int, depth: int):
        super().__init__()
        layers = []
        for i in range(depth):
            layers.append(nn.Linear(w_dim, w_dim))
            if i < depth - 1:
                layers.append(nn.LeakyReLU(0.2))
        self.net = nn.Sequential(*layers)

    def forward(self, w: torch.Tensor) -> torch.Tensor:
        return self.net(normalize_2nd_moment(w))


class LatentMapper(nn.Module):
    """w (per W+ entry) -> Δw, one residual MLP per layer group."""

    def __init__(self, num_ws: int, w_dim: int, groups: list[list[int]], depth: int = 4, scale: float = 0.1,
                 info: dict | None = None):
        super().__init__()
        self.num_ws, self.w_dim, self.groups, self.depth, self.scale = num_ws, w_dim, groups, depth, scale
        self.nets = nn.ModuleList(_GroupMLP(w_dim, depth) for _ in groups)
        self.info = dict(info or {})   # model, clip, prompt, neutral, layers, training figures

    def forward(self, ws: torch.Tensor) -> torch.Tensor:
        assert_shape(ws, [None, self.num_ws, self.w_dim], "ws")
        out = torch.zeros_like(ws)
        for idx, net in zip(self.groups, self.nets):
            if idx:
                out[:, idx] = net(ws[:, idx].reshape(-1, self.w_dim)).reshape(ws.shape[0], len(idx), self.w_dim)
        return out * self.scale

    def shift(self, G, ws: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """[N, C] StyleSpace shift at α = 1 for the faces ``ws``."""
        from stylepaint.styleclip.objective import ws_shift

        shift = ws_shift(G, self(ws.to(next(self.parameters()).device, torch.float32)))
        if mask is None:
            mask = stylespace.group_mask(G.style_layers, G.img_resolution, self.info.get("layers", "all"))
        return shift * mask.to(shift.device, shift.dtype)


def mapper_key(G, clip, prompt: str, neutral: str | None, layers: str = "all") -> str:
    """``<generator id>-<clip id>-<prompt hash>``: one mapper per model, CLIP and edit."""
    from stylepaint.clip.text import clean_prompt
    from stylepaint.directions.cache import generator_id

    blob = json.dumps([FORMAT, clean_prompt(prompt), neutral or None, layers])
    return f"{generator_id(G)}-{clip.model_id}-{hashlib.sha256(blob.encode()).hexdigest()[:12]}"


def mapper_dir() -> Path:
    return paths.user_cache_dir() / "mappers"


def mapper_path(G, clip, prompt: str, neutral: str | None = None, layers: str = "all") -> Path:
    return mapper_dir() / f"{mapper_key(G, clip, prompt, neutral, layers)}.safetensors"


def train_mapper(G, clip, prompt: str, neutral: str | None = None, layers: str = "all",
                 params: MapperParams | None = None, features=None):
    """Job: yield progress dicts; the last has ``finished`` and ``mapper`` (not saved: call
    ``save_mapper``). Bad input raises before the first yield; closing the job saves nothing."""
    params = params or MapperParams()
    objective = Objective(G, clip, prompt, neutral, layers, params.weights, features)
    if params.steps < 1 or (params.minutes is not None and not params.minutes > 0):
        raise InputError("mapper training needs at least one step and a positive time limit")
    return _train(G, clip, objective, params)


def _train(G, clip, objective: Objective, params: MapperParams):
    from stylepaint.directions.cache import generator_id

    torch.manual_seed(params.seed)                     # the MLP's initial weights
    info = {"model": generator_id(G), "clip": clip.model_id, "prompt": objective.prompt,
            "neutral": objective.neutral, "layers": objective.layers, "params": params.to_dict()}
    mapper = LatentMapper(G.num_ws, G.w_dim, ws_groups(G), params.depth, params.scale, info).to(G.device)
    opt = torch.optim.Adam(mapper.parameters(), lr=params.lr)
    gen = torch.Generator().manual_seed(params.seed + 1)
    t0, losses = time.perf_counter(), []
    limit = None if params.minutes is None else params.minutes * 60
    for i in range(params.steps):
        z = torch.randn([params.batch, G.z_dim], generator=gen).to(G.device)
        with torch.no_grad():
            ws = G.mapping(z, truncation_psi=params.truncation)
        start = objective.start(ws)
        with torch.inference_mode(False), torch.enable_grad():
            dws = mapper(ws)
            loss, parts = objective(start, objective.shift(dws), dws)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        losses.append(float(loss.detach()))
        elapsed = time.perf_counter() - t0
        stop = i + 1 == params.steps or (limit is not None and elapsed >= limit)
        yield {"done": i + 1, "total": params.steps, "loss": losses[-1], "parts": parts, "elapsed_s": elapsed,
               "message": f"step {i + 1}: loss {losses[-1]:.4f}"}
        if stop:
            break
    mapper.info.update(steps=len(losses), seconds=round(time.perf_counter() - t0, 2),
                       first_loss=losses[0], last_loss=losses[-1])
    mapper.eval().requires_grad_(False)
    yield {"done": len(losses), "total": params.steps, "finished": True, "mapper": mapper, "losses": losses,
           "elapsed_s": time.perf_counter() - t0, "message": "done"}


def save_mapper(mapper: LatentMapper, G=None, clip=None, path=None) -> Path:
    """Write atomically to ``path`` (default: the cache file of the mapper's model, CLIP and prompt)."""
    from safetensors.torch import save

    info = mapper.info
    if path is None:
        if G is None or clip is None:
            raise InputError("save_mapper needs the generator and CLIP, or a path")
        path = mapper_path(G, clip, info["prompt"], info.get("neutral"), info.get("layers", "all"))
    path = Path(path)
    meta = {"format": str(FORMAT), "num_ws": str(mapper.num_ws), "w_dim": str(mapper.w_dim),
            "groups": json.dumps(mapper.groups), "depth": str(mapper.depth), "scale": repr(mapper.scale),
            "info": json.dumps(info)}
    data = save({k: v.detach().cpu().contiguous() for k, v in mapper.state_dict().items()}, metadata=meta)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".mapper-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _header(data: bytes, path, fmt: str = str(FORMAT), what: str = "stylepaint mapper") -> dict:
    """The safetensors metadata of a mapper file whose ``format`` is ``fmt`` (read, never run)."""
    if len(data) < 8:
        raise DataFileError(path, f"is not a {what} (too short)")
    (n,) = struct.unpack("<Q", data[:8])
    if n > len(data) - 8 or n > 1 << 20:
        raise DataFileError(path, f"is not a {what} (no safetensors header)")
    try:
        meta = json.loads(data[8:8 + n]).get("__metadata__") or {}
    except (ValueError, AttributeError):
        raise DataFileError(path, f"is not a {what} (unreadable header)") from None
    if meta.get("format") != fmt or "info" not in meta:
        raise DataFileError(path, f"is not a {what} (no mapper description in its header)")
    return meta


def check_owner(path, info: dict, dims: tuple, G, clip, what: str = "mapper",
                command: str = "stylepaint mapper train") -> None:
    """A ``DataFileError`` unless the file's ``info`` and (num_ws, w_dim) are those of ``G`` and ``clip``."""
    from stylepaint.directions.cache import generator_id

    if info.get("model") != generator_id(G) or tuple(dims) != (G.num_ws, G.w_dim):
        raise DataFileError(path, f"this {what} was trained for another model ({str(info.get('model'))[:40]}), "
                                  f"not {generator_id(G)}; train one for this model with '{command}'")
    if info.get("clip") != clip.model_id:
        raise DataFileError(path, f"this {what} was trained with another CLIP ({str(info.get('clip'))[:40]}), "
                                  f"not {clip.spec}; train one with this CLIP")


def fill_weights(path, make, data: bytes, what: str = "mapper"):
    """``make()``'s module with the file's tensors; damaged or non-finite ones are a ``DataFileError``."""
    from safetensors.torch import load

    try:
        module = make()
        module.load_state_dict(load(data))
    except Exception as exc:   # safetensors/torch errors for truncated or mismatched tensors
        raise DataFileError(path, f"is a damaged {what} ({type(exc).__name__})") from None
    if not all(torch.isfinite(p).all() for p in module.parameters()):
        raise DataFileError(path, f"is a damaged {what} (NaN or infinite weights)")
    return module


def load_mapper(path, G, clip) -> LatentMapper:
    """Read a mapper file for ``G`` and ``clip``; a damaged file or one trained for another
    model or CLIP is one ``DataFileError`` naming the file and saying which."""
    data = read_bytes(path, "directions")
    meta = _header(data, path)
    try:
        info = json.loads(meta["info"])
        groups = json.loads(meta["groups"])
        num_ws, w_dim, depth, scale = int(meta["num_ws"]), int(meta["w_dim"]), int(meta["depth"]), float(meta["scale"])
    except (ValueError, KeyError, TypeError):
        raise DataFileError(path, "is not a stylepaint mapper (its description cannot be read)") from None
    if (not isinstance(info, dict) or not isinstance(groups, list) or not 1 <= depth <= 16
            or not all(isinstance(g, list) and all(isinstance(i, int) and 0 <= i < num_ws for i in g) for g in groups)):
        raise DataFileError(path, "is not a stylepaint mapper (its description does not fit together)")
    check_owner(path, info, (num_ws, w_dim), G, clip)
    mapper = fill_weights(path, lambda: LatentMapper(num_ws, w_dim, groups, depth, scale, info), data)
    return mapper.eval().requires_grad_(False).to(G.device)
