"""Inverting an aligned face into the generator: optimisation of W, then W+, optionally PTI.

``invert(G, target)`` is a generator function: it yields progress dicts
``{"done", "total", "stage", "message", "loss", "preview"?}`` (a uint8 preview image every
``preview_every`` steps) and finally one holding ``"result"``: an ``Inversion``. The caller
cancels by closing it (or simply not iterating further); ``run(job)`` drains a job to its result.

Stages: (1) a first guess: the best of a few random latents (or ``init_ws``, e.g. from an
encoder); (2) W: one latent shared by all layers, so the result stays on the generator's
manifold; (3) W+: one latent per layer, starting from W, for detail; both with the chosen
reconstruction loss plus a regulariser pulling towards the average latent; (4) optional pivotal
tuning: a copy of the generator is fine-tuned around the found latent (off by default).
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

from stylepaint.engine.render import to_uint8  # noqa: F401  (the one conversion; also imported from here)
from stylepaint.inversion.losses import PixelLoss


@dataclass
class Inversion:
    """What an inversion found."""

    ws: np.ndarray  # float32 [num_ws, w_dim]
    image: np.ndarray  # uint8 [R, R, 3] reconstruction
    loss: float
    psnr: float  # dB against the target, at the generator's resolution
    seconds: float
    losses: list  # loss per step, for plots and tests
    generator: object | None = None  # the PTI-tuned copy, when pivotal tuning ran


def to_tensor(image: np.ndarray, resolution: int, device="cpu") -> torch.Tensor:
    """uint8 [H, W, 3] -> float [1, 3, R, R] in [-1, 1] (area-resized when larger)."""
    import cv2

    img = np.asarray(image)
    if img.shape[:2] != (resolution, resolution):
        interp = cv2.INTER_AREA if img.shape[0] > resolution else cv2.INTER_CUBIC
        img = cv2.resize(np.ascontiguousarray(img), (resolution, resolution), interpolation=interp)
    t = torch.from_numpy(np.ascontiguousarray(img)).to(device).permute(2, 0, 1)[None].float()
    return t / 127.5 - 1.0


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB between two uint8 images of the same size."""
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10.0 * math.log10(255.0**2 / mse)


_W_STATS: dict = {}


def _w_stats(G, n: int = 2000, seed: int = 0) -> tuple[torch.Tensor, float]:
    """The average latent and the latents' RMS spread around it (scale for the regulariser),
    cached per model id and device (untrained generators share an id, so they are not cached)."""
    key = (getattr(G, "model_id", None), str(G.device), n, seed)
    if key[0] in (None, "untrained") or key not in _W_STATS:
        value = _compute_w_stats(G, n, seed)
        if key[0] in (None, "untrained"):
            return value
        _W_STATS[key] = value
    return _W_STATS[key]


def _compute_w_stats(G, n: int, seed: int) -> tuple[torch.Tensor, float]:
    gen = torch.Generator(device="cpu").manual_seed(seed)
    z = torch.randn(n, G.z_dim, generator=gen).to(G.device)
    with torch.no_grad():
        w = G.mapping(z)[:, 0]
    w_avg = G.w_avg.detach().clone().float()
    if not torch.isfinite(w_avg).all() or float(w_avg.abs().sum()) == 0.0:
        w_avg = w.mean(0)
    std = float(((w - w_avg) ** 2).sum(1).mean().sqrt())
    return w_avg, max(std, 1e-6)


def invert(
    G,
    target: np.ndarray,
    *,
    steps_w: int = 150,
    steps_wplus: int = 150,
    lr: float = 0.03,
    loss="pixel",
    reg_weight: float = 0.05,
    init_ws: np.ndarray | None = None,
    init_candidates: int = 16,
    noise_mode: str = "const",
    preview_every: int = 25,
    pti_steps: int = 0,
    pti_lr: float = 3e-4,
    plateau: float = 0.0,
    seed: int = 0,
) -> Iterator[dict]:
    """Optimise a latent that makes ``G`` draw ``target`` (uint8 [H, W, 3], aligned like G's data).

    ``loss`` is a loss object (``losses.make_loss``) or the name "pixel". ``plateau`` > 0 ends a
    stage early once its best loss improved by less than that fraction over the last
    ``PLATEAU_WINDOW`` steps. Yields progress; the last dict has ``"result"`` (an ``Inversion``).
    """
    t0 = time.perf_counter()
    if isinstance(loss, str):
        from stylepaint.inversion.losses import make_loss

        loss = make_loss(loss, device=G.device)
    loss_fn = loss if loss is not None else PixelLoss()
    device = G.device
    R = G.img_resolution
    tgt = to_tensor(target, R, device)
    w_avg, w_std = _w_stats(G, seed=seed)
    total = steps_w + steps_wplus + pti_steps + 1
    losses: list[float] = []

    def synth(ws, net=G):
        return net.synthesis(ws, noise_mode=noise_mode)

    def reg(ws):
        return ((ws - w_avg) ** 2).sum(-1).mean() / (w_std**2)

    # (1) first guess
    with torch.no_grad():
        if init_ws is not None:
            w0 = torch.as_tensor(np.asarray(init_ws, np.float32), device=device)
            w0 = w0.mean(0) if w0.ndim == 2 else w0
            w0 = w0.reshape(1, G.w_dim)
        else:
            gen = torch.Generator(device="cpu").manual_seed(seed + 1)
            cands = [w_avg[None]]
            if init_candidates > 1:
                z = torch.randn(init_candidates - 1, G.z_dim, generator=gen).to(device)
                cands.append(G.mapping(z)[:, 0] * 0.5 + w_avg * 0.5)  # halfway to the average: tamer
            cands = torch.cat(cands)
            scores = [float(loss_fn(synth(c[None, None].expand(1, G.num_ws, -1)), tgt)) for c in cands]
            w0 = cands[int(np.argmin(scores))][None]
    yield {"done": 1, "total": total, "stage": "init", "message": "first guess", "loss": None}

    # (2) W, (3) W+
    w = w0.clone().requires_grad_(True)
    done = 1
    ws_final = None
    for stage, steps in (("w", steps_w), ("w+", steps_wplus)):
        if steps <= 0:
            continue
        if stage == "w+":
            base = (w.detach() if w.ndim == 2 else w.detach()[0]).reshape(1, 1, G.w_dim)
            w = base.expand(1, G.num_ws, G.w_dim).clone().requires_grad_(True)
        opt = torch.optim.Adam([w], lr=lr, betas=(0.9, 0.999))
        for i in range(steps):
            frac = i / max(1, steps)
            for group in opt.param_groups:  # cosine ramp-down, short ramp-up
                group["lr"] = lr * min(1.0, (i + 1) / 10) * (0.5 + 0.5 * math.cos(math.pi * frac))
            with torch.enable_grad():  # per step, never across a yield: the caller's mode is its own
                ws = w[:, None].expand(1, G.num_ws, G.w_dim) if stage == "w" else w
                img = synth(ws)
                rec = loss_fn(img, tgt)
                total_loss = rec + reg_weight * reg(ws[:, :1] if stage == "w" else ws)
                opt.zero_grad(set_to_none=True)
                total_loss.backward()
                opt.step()
            value = float(rec.detach())
            losses.append(value)
            done += 1
            msg = {"done": done, "total": total, "stage": stage, "loss": value,
                   "message": f"{stage.upper()} step {i + 1}/{steps}: loss {value:.4f}"}
            stop = plateau > 0 and i + 1 >= 2 * PLATEAU_WINDOW and _flat(losses, plateau)
            if preview_every and (i % preview_every == 0 or i == steps - 1 or stop):
                msg["preview"] = to_uint8(img)
            if stop:  # the loss stopped falling: skip the rest of this stage
                done += steps - i - 1
                msg["done"] = done
                msg["message"] += " (levelled off)"
            yield msg
            if stop:
                break
        ws_final = (w[:, None].expand(1, G.num_ws, G.w_dim) if stage == "w" else w).detach()
    if ws_final is None:
        ws_final = w0[:, None].expand(1, G.num_ws, G.w_dim).detach()

    # (4) pivotal tuning: fine-tune a copy of G around the found latent
    tuned = None
    if pti_steps > 0:
        tuned = copy.deepcopy(G).train(False)
        params = [p for p in tuned.synthesis.parameters() if p.is_floating_point()]
        for p in params:
            p.requires_grad_(True)
        opt = torch.optim.Adam(params, lr=pti_lr)
        for i in range(pti_steps):
            with torch.enable_grad():
                img = synth(ws_final, tuned)
                rec = loss_fn(img, tgt)
                opt.zero_grad(set_to_none=True)
                rec.backward()
                opt.step()
            value = float(rec.detach())
            losses.append(value)
            done += 1
            msg = {"done": done, "total": total, "stage": "pti", "loss": value,
                   "message": f"pivotal tuning step {i + 1}/{pti_steps}: loss {value:.4f}"}
            if preview_every and (i % preview_every == 0 or i == pti_steps - 1):
                msg["preview"] = to_uint8(img)
            yield msg
        tuned.requires_grad_(False).eval()
        tuned.model_id = f"{getattr(G, 'model_id', 'model')}-pti"

    with torch.no_grad():
        img = synth(ws_final, tuned or G)
        final = float(loss_fn(img, tgt))
    image = to_uint8(img)
    result = Inversion(
        ws=ws_final[0].cpu().numpy().astype(np.float32),
        image=image,
        loss=final,
        psnr=psnr(image, to_uint8(tgt)),
        seconds=time.perf_counter() - t0,
        losses=losses,
        generator=tuned,
    )
    yield {"done": total, "total": total, "stage": "done", "loss": final, "preview": image,
           "message": f"inverted: PSNR {result.psnr:.1f} dB in {result.seconds:.1f} s", "result": result}


#: Steps over which ``plateau`` compares the best loss.
PLATEAU_WINDOW = 25


def _flat(losses: list[float], fraction: float) -> bool:
    """True when the best of the last window is not ``fraction`` better than the best before it."""
    recent = min(losses[-PLATEAU_WINDOW:])
    before = min(losses[-2 * PLATEAU_WINDOW : -PLATEAU_WINDOW])
    return recent > before * (1.0 - fraction)


def run(job: Iterator[dict], on_progress=None):
    """Drain a job to its ``result`` (calling ``on_progress(msg)`` for each message)."""
    result = None
    for msg in job:
        if on_progress is not None:
            on_progress(msg)
        if "result" in msg:
            result = msg["result"]
    return result
