"""Faces from tags: latents whose faces have the attributes a user picked.

* A generator whose mapping computes the portrait code (the embedded default, trained by the
  decoder route) answers exactly: each tag moves its latent coordinate into the middle of the
  value's bin (``CodeLayout.z_for``); everything else stays as drawn.
* Any other generator takes free-text tags ("red hair", "glasses") scored by CLIP: ``pool``
  candidates per face are drawn and the ``count`` whose images are most similar to
  "a portrait of a person with <tags>" are kept.

    tags = parse_tags("hair_color=red, eyewear=glasses")
    for progress in faces_from_tags(G, tags, count=8, seed=0):
        ...
    z = progress["z"]          # [count, z_dim], best first
"""

from __future__ import annotations

from typing import Iterator

import numpy as np
import torch

from stylepaint.errors import InputError
from stylepaint.portraits.latent_code import CodeLayout, layout

CODE_TOLERANCE = 0.05       # largest |mapping(z) - code(z)| of a generator that computes the code
CODE_PROBES = 64


def parse_tags(text: str) -> dict[str, str] | list[str]:
    """``"group=value, group=value"`` -> dict; ``"red hair, glasses"`` -> list of phrases."""
    parts = [p.strip() for p in str(text).split(",") if p.strip()]
    if not parts:
        raise InputError("no tags given: write e.g. \"hair_color=red, eyewear=glasses\" or \"red hair, glasses\"")
    if all("=" in p for p in parts):
        tags = {}
        for p in parts:
            key, value = (s.strip() for s in p.split("=", 1))
            if key in tags and tags[key] != value:
                raise InputError(f"{key} is tagged twice ({tags[key]} and {value})")
            tags[key] = value
        return tags
    if any("=" in p for p in parts):
        raise InputError("mix of group=value tags and free text: use one form")
    return parts


@torch.no_grad()
def portrait_code(G) -> CodeLayout | None:
    """The portrait code layout if ``G``'s mapping computes it (checked on fixed probes), else None."""
    m = G.mapping
    try:
        full = layout(m.z_dim, m.w_dim)
    except ValueError:
        return None
    z = torch.randn([CODE_PROBES, m.z_dim], generator=torch.Generator().manual_seed(0))
    w = m(z.to(G.device))[:, 0].double().cpu().numpy()
    if w.shape[1] < full.code_dim:
        return None
    # each scalar's spread is read off its slot (a run may pin tilt or shift while training)
    x = z.double().numpy()
    x = x / np.sqrt(np.mean(x ** 2, axis=1, keepdims=True) + 1e-8)
    spread = {}
    for e in full.entries:
        if e.kind == "scalar":
            s = float(np.dot(w[:, e.slot] - full.offset, x[:, e.coord]) / np.dot(x[:, e.coord], x[:, e.coord]))
            if abs(s - 1.0) > 1e-3:
                spread[e.name] = round(s, 6)
    try:
        code = layout(m.z_dim, m.w_dim, spread)
    except ValueError:
        return None
    return code if np.abs(w - code.encode_z(z.double().numpy())).max() < CODE_TOLERANCE else None


def faces_from_tags(
    G,                                   # a Generator
    tags: dict[str, str] | list[str],    # group -> value (portrait code) or free-text phrases (CLIP)
    count: int = 8,                      # faces wanted
    seed: int = 0,                       # latents drawn from this seed
    clip=None,                           # a ClipModel, needed for free-text tags
    pool: int = 16,                      # CLIP route: candidates drawn per face kept
    truncation: float = 1.0,             # CLIP route: truncation of the candidates' renders
    batch: int = 32,
) -> Iterator[dict]:
    """Yields progress dicts; the last one carries ``"z"`` ([count, z_dim] float32) and
    ``"method"`` ("portrait code" or "CLIP search"), plus ``"scores"`` for the CLIP route."""
    if count < 1:
        raise InputError("count must be at least 1")
    rng = np.random.default_rng(int(seed))
    code = portrait_code(G)
    if isinstance(tags, dict):
        if code is None:
            raise InputError("this model has no attribute groups: give free-text tags instead "
                             "(e.g. \"red hair, glasses\"), which CLIP scores")
        try:
            z = code.z_for(tags, rng.standard_normal((count, G.z_dim)))
        except ValueError as exc:
            raise InputError(str(exc)) from None
        # a drawn value of another group may override a tag through the vocabulary's constraints
        # (a bald head has no fringe and no hat): draw those faces again
        for _ in range(50):
            records = code.decode(code.encode_z(z))
            bad = [i for i, r in enumerate(records) if any(r["attributes"][g] != v for g, v in tags.items())]
            if not bad:
                break
            z[bad] = code.z_for(tags, rng.standard_normal((len(bad), G.z_dim)))
        else:
            raise InputError("these tags cannot all hold at once under the vocabulary's rules "
                             f"(e.g. a bald head has no fringe and no hat): {tags}")
        yield {"done": count, "total": count, "message": "done", "method": "portrait code",
               "z": torch.from_numpy(z).float()}
        return
    if clip is None:
        raise InputError("free-text tags need a CLIP model to score the faces")
    text = clip.text.embed("a portrait of a person with " + ", ".join(tags))
    candidates = torch.from_numpy(rng.standard_normal((count * pool, G.z_dim))).float()
    scores = []
    with torch.no_grad():
        for start in range(0, len(candidates), batch):
            part = candidates[start:start + batch].to(G.device)
            img = G(part, truncation_psi=truncation, noise_mode="const").float().clamp(-1, 1)
            scores.append(clip.encode_images(img).cpu() @ text)
            yield {"done": start + len(part), "total": len(candidates), "message": "scoring candidates with CLIP"}
    scores = torch.cat(scores)
    best = scores.argsort(descending=True)[:count]
    yield {"done": len(candidates), "total": len(candidates), "message": "done", "method": "CLIP search",
           "z": candidates[best], "scores": scores[best]}


@torch.no_grad()
def render_faces(G, z, truncation: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Latents ``z`` [N, z_dim] -> (ws [N, num_ws, w_dim] float32, images [N, H, W, 3] uint8),
    rendered with constant noise (what the editor shows for the same ws)."""
    z = torch.as_tensor(z).float().to(G.device)
    ws = G.mapping(z, truncation_psi=truncation)
    img = G.synthesis(ws, noise_mode="const").float().clamp(-1, 1)
    images = ((img + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
    return ws.float().cpu().numpy(), images


@torch.no_grad()
def read_tags(images: np.ndarray, oracle=None) -> list[dict[str, str]]:
    """The value of every vocabulary group the oracle reads on each of ``images`` ([N, H, W, 3]
    uint8 or one [H, W, 3]); ``oracle`` defaults to the shipped one."""
    from stylepaint.portraits.oracle import load_oracle

    arr = np.asarray(images)
    if arr.ndim == 3:
        arr = arr[None]
    if arr.ndim != 4 or arr.shape[-1] < 3:
        raise InputError(f"read_tags needs [N, H, W, 3] pictures, got shape {list(arr.shape)}")
    x = torch.from_numpy(np.ascontiguousarray(arr[..., :3])).permute(0, 3, 1, 2).float() / 127.5 - 1
    return (oracle or load_oracle()).labels(x)
