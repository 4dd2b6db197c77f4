"""Text embeddings averaged over prompt templates, cached per prompt, and text directions."""

from __future__ import annotations

import threading
from collections import OrderedDict

import torch

from stylepaint.clip import registry
from stylepaint.errors import InputError

CACHE_SIZE = 1024
NEAR_NEUTRAL = 0.97     # cosine above which a prompt says next to nothing beyond the neutral text


def clean_prompt(prompt) -> str:
    if not isinstance(prompt, str) or not prompt.strip():
        raise InputError("the prompt is empty: type what the edit should show, e.g. \"curly hair\"")
    return " ".join(prompt.split())


class TextEncoder:
    """Prompt -> unit CLIP text embedding, the mean over templates; cached per prompt."""

    def __init__(self, clip, templates: list[str] | None = None):
        self.clip = clip
        self.templates = list(templates) if templates is not None else registry.templates()
        self._cache: OrderedDict[str, torch.Tensor] = OrderedDict()
        self._lock = threading.Lock()

    def embed(self, prompt: str) -> torch.Tensor:
        """[D] float32 CPU tensor of unit length."""
        prompt = clean_prompt(prompt)
        with self._lock:
            if prompt in self._cache:
                self._cache.move_to_end(prompt)
                return self._cache[prompt]
        texts = [t.format(prompt) for t in self.templates] or [prompt]
        with torch.no_grad():
            tokens = self.clip.tokenizer(texts).to(self.clip.device)
            emb = self.clip.encode_tokens(tokens).mean(dim=0)
        emb = (emb / emb.norm().clamp_min(1e-12)).cpu()
        with self._lock:
            self._cache[prompt] = emb
            while len(self._cache) > CACHE_SIZE:
                self._cache.popitem(last=False)
        return emb

    def direction(self, target: str, neutral: str | None = None) -> torch.Tensor:
        """Unit vector from the neutral text to the target text (Δt of StyleCLIP)."""
        neutral = registry.default_neutral() if neutral is None else neutral
        delta = self.embed(target) - self.embed(neutral)
        norm = delta.norm()
        if norm < 1e-8:
            raise InputError(f"the target {target!r} and the neutral text {neutral!r} mean the same to CLIP")
        return delta / norm

    def similarity(self, target: str, neutral: str | None = None) -> float:
        """Cosine between the target's and the neutral text's embeddings: near 1, the target
        (gibberish, or a rewording of the neutral text) gives this CLIP almost no direction."""
        neutral = registry.default_neutral() if neutral is None else neutral
        return float(self.embed(target) @ self.embed(neutral))

    def cache_info(self) -> dict:
        return {"size": len(self._cache), "prompts": list(self._cache)}
