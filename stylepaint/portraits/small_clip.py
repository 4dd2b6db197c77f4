"""The small CLIP of the portrait domain, through plain open_clip.

The architecture is an open_clip model config, ``stylepaint/resources/clip_configs/portrait-clip.json``
(open_clip's ModifiedResNet image tower at width 16 on 64 px inputs; a 2-layer text
transformer; 128-d embeddings; open_clip's default ``SimpleTokenizer`` with a 48-token context,
so nothing is fetched from a hub). The trained weights are ``stylepaint/resources/models/portrait-clip.pt``.
Anyone can load it with::

    open_clip.add_model_config("stylepaint/resources/clip_configs")
    model = open_clip.create_model("portrait-clip", pretrained="stylepaint/resources/models/portrait-clip.pt")
    tokenizer = open_clip.get_tokenizer("portrait-clip")

Images are normalised with the model's ``visual.preprocess_cfg`` mean/std (open_clip's
OpenAI defaults) after resizing to 64 px, as ``preprocess`` here does.
"""

from __future__ import annotations

import functools
from pathlib import Path

import torch
import torch.nn.functional as F

from stylepaint.errors import ClipError
from stylepaint.paths import MODELS_DIR, RESOURCES
from stylepaint.portraits.vocabulary import load_vocabulary, prompt

MODEL_NAME = "portrait-clip"
CONFIG_DIR = RESOURCES / "clip_configs"
WEIGHTS_FILE = MODELS_DIR / "portrait-clip.pt"


@functools.lru_cache(maxsize=1)
def register_config() -> None:
    """Make open_clip know ``portrait-clip`` (idempotent)."""
    import open_clip

    if MODEL_NAME not in open_clip.list_models():
        open_clip.add_model_config(CONFIG_DIR)


def create(pretrained: Path | str | None = WEIGHTS_FILE, device: str = "cpu"):
    """``(model, tokenizer)``; ``pretrained=None`` builds an untrained model."""
    import open_clip

    register_config()
    if pretrained is not None and not Path(pretrained).exists():
        raise ClipError(f"no small-CLIP weights at {pretrained}; train them with 'stylepaint train clip'")
    model = open_clip.create_model(MODEL_NAME, pretrained=str(pretrained) if pretrained else None, device=device)
    return model.eval(), open_clip.get_tokenizer(MODEL_NAME)


def preprocess(model, images: torch.Tensor) -> torch.Tensor:
    """Float images ``[N, 3, H, W]`` in [-1, 1] -> the image tower's normalised input."""
    size = model.visual.image_size
    size = size[0] if isinstance(size, (tuple, list)) else size
    x = (images.float() + 1) / 2
    if x.shape[-1] > size:
        x = F.interpolate(x, size=(size, size), mode="area")
    elif x.shape[-1] < size:
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
    cfg = getattr(model.visual, "preprocess_cfg", {}) or {}
    mean = torch.tensor(cfg.get("mean", (0.48145466, 0.4578275, 0.40821073)), device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(cfg.get("std", (0.26862954, 0.26130258, 0.27577711)), device=x.device).view(1, 3, 1, 1)
    return (x - mean) / std


@torch.no_grad()
def encode_images(model, images: torch.Tensor, batch_size: int = 500) -> torch.Tensor:
    """L2-normalised image embeddings of float images in [-1, 1]."""
    dev = next(model.parameters()).device
    out = [F.normalize(model.encode_image(preprocess(model, images[i : i + batch_size].to(dev))), dim=-1).cpu()
           for i in range(0, len(images), batch_size)]
    return torch.cat(out)


@torch.no_grad()
def encode_texts(model, tokenizer, texts: list[str], batch_size: int = 500) -> torch.Tensor:
    dev = next(model.parameters()).device
    out = [F.normalize(model.encode_text(tokenizer(texts[i : i + batch_size]).to(dev)), dim=-1).cpu()
           for i in range(0, len(texts), batch_size)]
    return torch.cat(out)


def zero_shot_prompts(groups: dict[str, list[str]] | None = None) -> dict[str, list[str]]:
    """Group -> one prompt per value ("a portrait of a person with red hair")."""
    groups = groups or load_vocabulary()
    return {g: [prompt(g, v) for v in values] for g, values in groups.items()}


@torch.no_grad()
def zero_shot_accuracy(model, tokenizer, image_emb: torch.Tensor, labels: torch.Tensor,
                       groups: dict[str, list[str]] | None = None) -> dict[str, float]:
    """Per group: how often the value whose prompt is most similar is the true one.

    ``image_emb``: normalised embeddings ``[N, D]``; ``labels``: ``[N, n_groups]`` value indices.
    """
    groups = groups or load_vocabulary()
    acc = {}
    for k, (g, texts) in enumerate(zero_shot_prompts(groups).items()):
        t = encode_texts(model, tokenizer, texts)
        pred = (image_emb @ t.T).argmax(-1)
        acc[g] = float((pred == labels[:, k]).float().mean())
    return acc


@torch.no_grad()
def caption_to_image_recall(image_emb: torch.Tensor, text_emb: torch.Tensor, ks: tuple[int, ...] = (1, 5)) -> dict[str, float]:
    """Caption i should retrieve image i: recall@k over all captions."""
    sims = text_emb @ image_emb.T
    target = sims.diagonal().unsqueeze(1)
    rank = (sims > target).sum(1)  # how many images beat the right one
    return {f"R@{k}": float((rank < k).float().mean()) for k in ks}
