"""Load any open_clip model from a spec and wrap it with image and text embedding helpers."""

from __future__ import annotations

import hashlib
import json
import tempfile
import threading
from pathlib import Path

import torch

from stylepaint import paths
from stylepaint.clip.preflight import ClipSource, preflight
from stylepaint.clip.preprocess import to_clip_input
from stylepaint.clip.text import TextEncoder
from stylepaint.errors import ClipError

OPENAI_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_STD = (0.26862954, 0.26130258, 0.27577711)


class ClipModel:
    """An open_clip model in eval mode, frozen, with its preprocessing and a text cache."""

    def __init__(self, model: torch.nn.Module, tokenizer, spec: str, source: ClipSource | None = None):
        self.model = model.eval().requires_grad_(False)
        self.tokenizer = tokenizer
        self.spec = spec
        self.source = source
        cfg = dict(getattr(model.visual, "preprocess_cfg", {}) or {})
        size = getattr(model.visual, "image_size", cfg.get("size", 224))
        self.image_size = size if isinstance(size, int) else tuple(size)
        self.mean = tuple(cfg.get("mean", OPENAI_MEAN))
        self.std = tuple(cfg.get("std", OPENAI_STD))
        self.interpolation = cfg.get("interpolation", "bicubic")
        self.resize_mode = cfg.get("resize_mode", "shortest")
        self.text = TextEncoder(self)
        self._id: str | None = None
        self._embed_dim: int | None = None

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @property
    def embed_dim(self) -> int:
        if self._embed_dim is None:
            with torch.no_grad():
                self._embed_dim = int(self.encode_tokens(self.tokenizer(["a"]).to(self.device)).shape[-1])
        return self._embed_dim

    @property
    def input_resolution(self) -> int:
        """The larger side of the image CLIP sees (synthesis can stop at this resolution)."""
        return self.image_size if isinstance(self.image_size, int) else max(self.image_size)

    @property
    def model_id(self) -> str:
        """A short hex id of the architecture, weights and preprocessing (for cache keys)."""
        if self._id is None:
            h = hashlib.sha256()
            h.update(json.dumps([self.image_size, self.mean, self.std, self.interpolation, self.resize_mode,
                                 type(self.model).__name__, bool(getattr(self.source, "quick_gelu", False))],
                                default=str).encode())
            for key, value in self.model.state_dict().items():
                h.update(key.encode())
                h.update(str(tuple(value.shape)).encode())
                h.update(value.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
            self._id = h.hexdigest()[:16]
        return self._id

    def preprocess(self, images: torch.Tensor, value_range=(-1.0, 1.0)) -> torch.Tensor:
        """Generator images -> this model's normalised input (differentiable)."""
        return to_clip_input(images, self.image_size, self.mean, self.std,
                             self.interpolation, self.resize_mode, value_range)

    def encode_images(self, images: torch.Tensor, value_range=(-1.0, 1.0)) -> torch.Tensor:
        """[N, 3, H, W] images -> [N, D] unit-length embeddings (differentiable)."""
        x = self.preprocess(images.to(self.device), value_range)
        dtype = next(self.model.visual.parameters()).dtype
        emb = self.model.encode_image(x.to(dtype)).float()
        return emb / emb.norm(dim=-1, keepdim=True).clamp_min(1e-12)

    def encode_tokens(self, tokens: torch.Tensor) -> torch.Tensor:
        emb = self.model.encode_text(tokens).float()
        return emb / emb.norm(dim=-1, keepdim=True).clamp_min(1e-12)


_lock = threading.Lock()
_loaded: dict[tuple[str, str], ClipModel] = {}


def _register_config(arch: str, config: dict) -> None:
    """Make an architecture dict known to open_clip under ``arch`` (its own registry API)."""
    import open_clip

    if arch in open_clip.list_models():
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{arch}.json"
        path.write_text(json.dumps(config), encoding="utf-8")
        open_clip.add_model_config(path)


RANDOM_SEED = 0      # the seed of a ":random" CLIP's weights (tests and benchmarks)


def build(source: ClipSource, device: str | torch.device = "cpu") -> ClipModel:
    """Instantiate a preflighted source. Downloads only if ``source.download`` is set."""
    import open_clip
    from open_clip.pretrained import download_pretrained

    if source.config is not None:
        _register_config(source.arch, source.config)
    weights = source.weights
    try:
        if source.download is not None and "hf_hub_repo" not in source.download:
            weights = download_pretrained(source.download, cache_dir=str(paths.clip_url_cache_dir()))
        # real parameters even when called under inference mode; random weights are the same in
        # every process and whatever ran before (seed RANDOM_SEED), not drawn from the caller's RNG
        with torch.inference_mode(False), torch.random.fork_rng(enabled=weights is None):
            if weights is None:
                torch.manual_seed(RANDOM_SEED)
            model = open_clip.create_model(
                source.arch,
                pretrained=weights,
                device=device,
                force_quick_gelu=source.quick_gelu,
                force_preprocess_cfg=source.preprocess or None,
                pretrained_text=False,
            )
        tokenizer = open_clip.get_tokenizer(source.arch)
    except ClipError:
        raise
    except Exception as exc:  # open_clip raises RuntimeError/ValueError/KeyError for bad weights
        raise ClipError(f"{source.spec}: cannot build the CLIP model ({str(exc).splitlines()[0][:300]})") from exc
    return ClipModel(model, tokenizer, source.spec, source)


def load_clip(spec: str, device: str | torch.device = "cpu", download: bool = False) -> ClipModel:
    """``NAME[:TAG|FILE]`` -> ClipModel, cached per (spec, device). Raises ClipError."""
    key = (spec.strip() if isinstance(spec, str) else spec, str(device))
    with _lock:
        if key in _loaded:
            return _loaded[key]
    source = preflight(spec, download=download)
    clip = build(source, device)
    with _lock:
        _loaded[key] = clip
    return clip
