"""CLIP through open_clip: specs, preflight, loading, torch preprocessing, cached text embeddings.

    from stylepaint.clip import load_clip
    clip = load_clip("ViT-B-32:laion2b_s34b_b79k")     # or "portrait-clip", "arch.json:weights.pt"
    emb = clip.encode_images(images)                   # [N, D], differentiable
    dt = clip.text.direction("curly hair", "hair")     # unit Δt
"""

from stylepaint.clip.model import ClipModel, build, load_clip
from stylepaint.clip.preflight import ClipSource, parse_spec, preflight
from stylepaint.clip.preprocess import to_clip_input
from stylepaint.clip.registry import default_clip, known_models
from stylepaint.clip.text import TextEncoder


__all__ = ["ClipModel", "ClipSource", "TextEncoder", "build", "default_clip", "known_models",
           "load_clip", "parse_spec", "preflight", "to_clip_input"]
