"""The StyleCLIP latent optimizer as a job: best fidelity for one picture, seconds to minutes.

    job = optimize(G, clip, ws, "curly hair", neutral="hair", params=OptimizeParams(steps=40))
    for info in job:          # {"done", "total", "loss", "parts", "preview" (uint8 or None)}
        ...                   # job.close() cancels: nothing is changed, nothing is returned
    step = info["edit"]       # the last info: EditStep(method="optimize", delta=Δs at α = 1)

Adam on a change of W+ (or of StyleSpace) from the start latent; the change starts as seeded
noise of ``init_scale`` (the directional CLIP term has no gradient at exactly zero), so a run is
deterministic for its seed on a given device. The result is stored as the StyleSpace shift it
makes, so the edit replays anywhere without re-optimising and α scales it.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

import numpy as np
import torch

from stylepaint.edits import EditStep
from stylepaint.engine.networks import assert_shape
from stylepaint.errors import InputError
from stylepaint.styleclip.objective import LossWeights, Objective

SPACES = ("w+", "s")


@dataclass(frozen=True)
class OptimizeParams:
    steps: int = 40                # Adam steps
    lr: float = 0.05               # Adam learning rate
    space: str = "w+"              # what is optimised: "w+" or "s" (StyleSpace)
    seed: int = 0                  # seed of the initial change
    init_scale: float = 1e-3       # size of the initial change
    preview_every: int = 10        # a full-resolution preview every this many steps (0: none)
    weights: LossWeights = field(default_factory=LossWeights)

    def __post_init__(self):
        if self.space not in SPACES:
            raise InputError(f"unknown optimisation space {self.space!r}; expected one of {', '.join(SPACES)}")
        if not (isinstance(self.steps, int) and self.steps >= 1):
            raise InputError(f"the optimizer needs at least one step, got {self.steps!r}")
        if not (self.lr > 0):
            raise InputError(f"the learning rate must be > 0, got {self.lr!r}")

    def to_dict(self) -> dict:
        return asdict(self)


def _preview(objective: Objective, styles: torch.Tensor) -> np.ndarray:
    from stylepaint.engine.render import to_uint8

    with torch.no_grad():
        return to_uint8(objective.render(styles, full=True))


def optimize(G, clip, ws, prompt: str, neutral: str | None = None, layers: str = "all",
             params: OptimizeParams | None = None, features=None, name: str = ""):
    """Job: yield progress dicts; the last one has ``finished``, ``edit`` (the EditStep with its
    Δ), ``delta`` (np [C]) and ``losses`` (one per step). Bad input raises before the first yield."""
    params = params or OptimizeParams()
    objective = Objective(G, clip, prompt, neutral, layers, params.weights, features)
    ws = torch.as_tensor(np.asarray(ws, np.float32) if not torch.is_tensor(ws) else ws).to(G.device, torch.float32)
    if ws.ndim == 2:
        ws = ws[None]
    assert_shape(ws, [1, G.num_ws, G.w_dim], "start latent (W+)")
    return _job(G, objective, ws, params, name)


def _job(G, objective: Objective, ws: torch.Tensor, params: OptimizeParams, name: str):
    start = objective.start(ws)
    gen = torch.Generator().manual_seed(int(params.seed))
    shape = list(ws.shape) if params.space == "w+" else list(start["styles"].shape)
    change = (torch.randn(shape, generator=gen) * params.init_scale).to(G.device).requires_grad_(True)
    opt = torch.optim.Adam([change], lr=params.lr)
    losses, t0 = [], time.perf_counter()

    def shift_of(c):
        return objective.shift(c) if params.space == "w+" else c * objective.mask

    for i in range(params.steps):
        with torch.inference_mode(False), torch.enable_grad():   # local: never across a yield
            loss, parts = objective(start, shift_of(change), change)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        losses.append(float(loss.detach()))
        done = i + 1
        every = params.preview_every
        preview = None
        if every and (done % every == 0 or done == params.steps):
            with torch.no_grad():
                preview = _preview(objective, start["styles"] + shift_of(change))
        yield {"done": done, "total": params.steps, "loss": losses[-1], "parts": parts, "preview": preview,
               "elapsed_s": time.perf_counter() - t0, "message": f"step {done}/{params.steps}: loss {losses[-1]:.4f}"}
    with torch.no_grad():
        delta = shift_of(change)[0].detach().float().cpu().numpy()
    edit = EditStep(objective.prompt, objective.neutral, alpha=1.0, layers=objective.layers, name=name,
                    method="optimize", delta=delta)
    yield {"done": params.steps, "total": params.steps, "finished": True, "edit": edit, "delta": delta,
           "losses": losses, "elapsed_s": time.perf_counter() - t0, "message": "done"}
