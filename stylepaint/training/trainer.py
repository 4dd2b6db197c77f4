"""The StyleGAN2 training loop for the project's own generator, as a generator of progress dicts.

``train(run_dir, images=..., preset="default")`` builds G (``stylepaint.engine.networks``),
D (``discriminator.py``) and G_ema, then alternates per minibatch:

* G step: non-saturating logistic loss on D(G(z)) with style mixing (two latents, one random
  crossover layer), noise ``random``; every ``pl_interval`` steps the optional path-length term;
* D step: logistic loss on reals and detached fakes; every ``r1_interval`` steps a separate
  lazy R1 step (``gamma / 2 * |grad D(real)|^2 * interval``) with the Adam parameters adjusted;
* G_ema: exponential moving average of G with a half-life of ``ema_kimg`` thousand images,
  ramped up over the first images; ``w_avg`` tracked for truncation.

On CUDA the forward passes run under autocast (bf16 where supported, else fp16 with loss
scaling); on CPU everything is fp32 unless bf16/fp16 is forced. All randomness (latents, crossover points, minibatch
order, noise) comes from seeded generators saved in the checkpoint, so an interrupted run
resumed from its checkpoint continues exactly as if it had never stopped (on CPU bit for bit).

Checkpoints (``checkpoint.py``) are written every ``snap_kimg``, when ``max_seconds`` runs
out, and at the end; with them ``G_ema.safetensors`` (the project's own generator format,
loadable by ``stylepaint.load_generator``) and ``samples.png`` (an 8x8 grid at fixed seeds).
"""

from __future__ import annotations

import copy
import json
import math
import time
from pathlib import Path
from typing import Iterator

import numpy as np
import torch

from stylepaint.engine.checkpoints import save_generator
from stylepaint.engine.networks import Generator
from stylepaint.errors import InputError
from stylepaint.training import checkpoint as ckpt
from stylepaint.training.data import ImageBatches
from stylepaint.training.discriminator import Discriminator, discriminator_config
from stylepaint.training.losses import (
    LossConfig,
    auto_r1_gamma,
    d_logistic_loss,
    g_nonsaturating_loss,
    lazy_adam_params,
    path_length_penalty,
    r1_loss,
)
from stylepaint.training.presets import get_preset
from stylepaint.training.sheets import sample_sheet

W_AVG_BETA = 0.995          # w_avg tracking, as in StyleGAN2


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise InputError("device cuda was asked for but no CUDA GPU is available")
    return dev


def resolve_precision(precision: str, device: torch.device) -> str:
    """'auto': bf16 on CUDA where supported (else fp16), fp32 elsewhere. bf16/fp16 can be
    forced on CPU too (CPU autocast; slow, but it runs the mixed-precision code in tests)."""
    if precision == "auto":
        if device.type != "cuda":
            return "fp32"
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    if precision not in ("fp32", "bf16", "fp16"):
        raise InputError(f"precision must be auto, fp32, bf16 or fp16, not {precision!r}")
    return precision


def ema_beta(batch: int, cur_nimg: int, ema_kimg: float, ema_rampup: float | None) -> float:
    """Per-step EMA decay: half-life ``ema_kimg`` thousand images, at most ``rampup`` x images seen."""
    ema_nimg = ema_kimg * 1000
    if ema_rampup:
        ema_nimg = min(ema_nimg, cur_nimg * ema_rampup)
    return 0.5 ** (batch / max(ema_nimg, 1e-8))


@torch.no_grad()
def update_ema(G_ema: torch.nn.Module, G: torch.nn.Module, beta: float) -> None:
    for p_ema, p in zip(G_ema.parameters(), G.parameters()):
        p_ema.copy_(p.detach().lerp(p_ema, beta))
    for b_ema, b in zip(G_ema.buffers(), G.buffers()):
        b_ema.copy_(b)


def mixed_ws(G: Generator, z: torch.Tensor, z2: torch.Tensor, cutoff: int) -> torch.Tensor:
    """Mapping of ``z``; layers from ``cutoff`` on take ``z2``'s w (style mixing)."""
    ws = G.mapping(z)
    if cutoff < G.num_ws:
        ws2 = G.mapping(z2)
        ws = torch.cat([ws[:, :cutoff], ws2[:, cutoff:]], dim=1)
    return ws


class _Run:
    """Everything one training run holds; `tensors_and_state()`/`load()` give and take its checkpoint."""

    def __init__(self, config: dict, device: torch.device, precision: str):
        self.config, self.device, self.precision = config, device, precision
        t = config["training"]
        torch.manual_seed(int(t["seed"]))  # initial weights, then the noise inputs' global stream
        self.G = Generator(**config["generator"]).train().to(device)
        self.D = Discriminator(**config["discriminator"]).train().to(device)
        self.G_ema = copy.deepcopy(self.G).eval().requires_grad_(False)
        self.loss = LossConfig(r1_gamma=t["r1_gamma"], r1_interval=t["r1_interval"],
                               pl_weight=t["pl_weight"], pl_interval=t["pl_interval"])
        g_lr, g_betas = lazy_adam_params(t["g_lr"], tuple(t["betas"]), t["pl_interval"] if t["pl_weight"] > 0 else 0)
        d_lr, d_betas = lazy_adam_params(t["d_lr"], tuple(t["betas"]), t["r1_interval"])
        self.opt_G = torch.optim.Adam(self.G.parameters(), lr=g_lr, betas=g_betas, eps=1e-8)
        self.opt_D = torch.optim.Adam(self.D.parameters(), lr=d_lr, betas=d_betas, eps=1e-8)
        self.scaler_G = torch.amp.GradScaler(device.type, enabled=precision == "fp16")
        self.scaler_D = torch.amp.GradScaler(device.type, enabled=precision == "fp16")
        self.latents = torch.Generator().manual_seed(int(t["seed"]))   # z, crossover, mixing draws
        self.cur_nimg, self.step, self.chunks = 0, 0, 0
        self.commands: list[str] = []
        self.pl_mean = torch.zeros([], device=device)

    def autocast(self):
        dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(self.precision)
        return torch.autocast(self.device.type, dtype=dtype or torch.float32, enabled=dtype is not None)

    # ---- random draws (all from the saved generator) ------------------------------------
    def draw(self, batch: int) -> tuple[torch.Tensor, torch.Tensor, int]:
        z = torch.randn([batch, self.G.z_dim], generator=self.latents)
        z2 = torch.randn([batch, self.G.z_dim], generator=self.latents)
        mix = torch.rand([], generator=self.latents).item() < self.config["training"]["style_mixing_prob"]
        cut = int(torch.randint(1, self.G.num_ws, [], generator=self.latents)) if mix else self.G.num_ws
        return z.to(self.device), z2.to(self.device), cut

    # ---- checkpoint ------------------------------------------------------------------------
    def tensors_and_state(self) -> tuple[dict, dict]:
        tensors = {}
        tensors.update(ckpt.module_tensors("G", self.G))
        tensors.update(ckpt.module_tensors("G_ema", self.G_ema))
        tensors.update(ckpt.module_tensors("D", self.D))
        opt_g, meta_g = ckpt.optimizer_tensors("opt_G", self.opt_G)
        opt_d, meta_d = ckpt.optimizer_tensors("opt_D", self.opt_D)
        tensors.update(opt_g)
        tensors.update(opt_d)
        tensors["rng.latents"] = self.latents.get_state()
        tensors["rng.torch"] = torch.get_rng_state()
        if self.device.type == "cuda":
            tensors["rng.cuda"] = torch.cuda.get_rng_state(self.device)
        tensors["pl_mean"] = self.pl_mean.reshape(1)
        state = dict(config=self.config, cur_nimg=self.cur_nimg, step=self.step, chunks=self.chunks,
                     commands=self.commands,
                     optimizers={"opt_G": meta_g, "opt_D": meta_d},
                     scalers={"G": self.scaler_G.state_dict(), "D": self.scaler_D.state_dict()},
                     precision=self.precision, device=str(self.device))
        return tensors, state

    def load(self, tensors: dict, state: dict) -> None:
        ckpt.load_module_tensors("G", self.G, tensors)
        ckpt.load_module_tensors("G_ema", self.G_ema, tensors)
        ckpt.load_module_tensors("D", self.D, tensors)
        ckpt.load_optimizer_tensors("opt_G", self.opt_G, tensors, state["optimizers"]["opt_G"])
        ckpt.load_optimizer_tensors("opt_D", self.opt_D, tensors, state["optimizers"]["opt_D"])
        self.latents.set_state(tensors["rng.latents"])
        torch.set_rng_state(tensors["rng.torch"])
        if self.device.type == "cuda" and "rng.cuda" in tensors:
            torch.cuda.set_rng_state(tensors["rng.cuda"], self.device)
        self.pl_mean = tensors["pl_mean"].reshape(()).to(self.device)
        if state.get("scalers") and self.precision == "fp16" and state.get("precision") == "fp16":
            self.scaler_G.load_state_dict(state["scalers"]["G"])
            self.scaler_D.load_state_dict(state["scalers"]["D"])
        self.cur_nimg, self.step, self.chunks = int(state["cur_nimg"]), int(state["step"]), int(state.get("chunks", 0))
        self.commands = list(state.get("commands", []))

    # ---- one minibatch ------------------------------------------------------------------------
    def train_step(self, real: torch.Tensor) -> dict:
        t = self.config["training"]
        batch = real.shape[0]
        G, D = self.G, self.D
        stats: dict[str, torch.Tensor] = {}

        # G: non-saturating loss on fakes, with style mixing
        G.requires_grad_(True)
        D.requires_grad_(False)
        z, z2, cut = self.draw(batch)
        with self.autocast():
            ws = mixed_ws(G, z, z2, cut)
            fake = G.synthesis(ws, noise_mode="random")
            loss_g = g_nonsaturating_loss(D(fake))
        self.opt_G.zero_grad(set_to_none=True)
        self.scaler_G.scale(loss_g).backward()
        self.scaler_G.step(self.opt_G)
        self.scaler_G.update()
        stats["loss_G"] = loss_g.detach()
        with torch.no_grad():  # track the mean w for truncation
            G.mapping.w_avg.copy_(ws[:, 0].detach().float().mean(0).lerp(G.mapping.w_avg, W_AVG_BETA))

        # G: lazy path-length regularisation (off unless pl_weight > 0)
        if self.loss.pl_weight > 0 and self.step % self.loss.pl_interval == 0:
            pl_batch = max(batch // t["pl_batch_shrink"], 1)
            z, z2, cut = self.draw(pl_batch)
            with self.autocast():
                ws = mixed_ws(G, z, z2, cut)
                fake = G.synthesis(ws, noise_mode="random")
            penalty, self.pl_mean, _ = path_length_penalty(fake.float(), ws, self.pl_mean, self.loss.pl_decay)
            loss_pl = penalty * self.loss.pl_weight * self.loss.pl_interval
            self.opt_G.zero_grad(set_to_none=True)
            self.scaler_G.scale(loss_pl).backward()
            self.scaler_G.step(self.opt_G)
            self.scaler_G.update()
            stats["pl"] = penalty.detach()

        # D: logistic loss on reals and (detached) fakes
        G.requires_grad_(False)
        D.requires_grad_(True)
        z, z2, cut = self.draw(batch)
        with self.autocast():
            with torch.no_grad():
                fake = G.synthesis(mixed_ws(G, z, z2, cut), noise_mode="random")
            real_logits = D(real)
            fake_logits = D(fake)
            loss_d = d_logistic_loss(real_logits, fake_logits)
        self.opt_D.zero_grad(set_to_none=True)
        self.scaler_D.scale(loss_d).backward()
        self.scaler_D.step(self.opt_D)
        self.scaler_D.update()
        stats["loss_D"] = loss_d.detach()
        stats["D_real"] = real_logits.detach().mean()
        stats["D_fake"] = fake_logits.detach().mean()

        # D: lazy R1 on reals
        if self.loss.r1_interval > 0 and self.loss.r1_gamma > 0 and self.step % self.loss.r1_interval == 0:
            real_r1 = real.detach().requires_grad_(True)
            with self.autocast():
                logits = D(real_r1)
            scale = float(self.scaler_D.get_scale()) if self.scaler_D.is_enabled() else 1.0
            loss_r1 = r1_loss(real_r1, logits, self.loss, grad_scale=scale)
            self.opt_D.zero_grad(set_to_none=True)
            self.scaler_D.scale(loss_r1).backward()
            self.scaler_D.step(self.opt_D)
            self.scaler_D.update()
            stats["r1"] = loss_r1.detach() / (self.loss.r1_gamma / 2 * self.loss.r1_interval)

        # G_ema
        self.cur_nimg += batch
        self.step += 1
        update_ema(self.G_ema, G, ema_beta(batch, self.cur_nimg, t["ema_kimg"], t["ema_rampup"]))
        return stats


def build_config(preset: str | dict = "default", **overrides) -> dict:
    """A run's full configuration: generator, discriminator and training hyper-parameters.

    ``preset`` is a name from ``presets.PRESETS`` or a dict of the same shape; ``overrides``
    replace training hyper-parameters (``batch=64``, ``total_kimg=2000``...); None is ignored.
    """
    if isinstance(preset, str):
        try:
            config = get_preset(preset)
        except KeyError:
            raise InputError(f"unknown training preset {preset!r}") from None
    else:
        config = copy.deepcopy(preset)
        config.setdefault("training", {})
        base = get_preset("default")["training"]
        base.update(config["training"])
        config["training"] = base
    t = config["training"]
    unknown = sorted(set(overrides) - set(t))
    if unknown:
        raise InputError(f"unknown training settings: {', '.join(unknown)}")
    t.update({k: v for k, v in overrides.items() if v is not None})
    t["betas"] = list(t["betas"])
    if t.get("r1_gamma") is None:
        t["r1_gamma"] = auto_r1_gamma(config["generator"]["img_resolution"], t["batch"])
    config["discriminator"] = discriminator_config(config["generator"], mbstd_group_size=t["mbstd_group_size"],
                                                   **config.get("discriminator_overrides", {}))
    return config


def _write_outputs(run, run_dir: Path, max_shard_bytes: int, samples: bool, G_ema=None) -> Path:
    """Checkpoint of ``run`` (anything with ``tensors_and_state()`` and ``G_ema``), the generator
    in the project's format (``G_ema``, default ``run.G_ema``), and the 8x8 sample sheet."""
    tensors, state = run.tensors_and_state()
    path = ckpt.save_checkpoint(run_dir, tensors, state, max_shard_bytes=max_shard_bytes)
    G_ema = copy.deepcopy(run.G_ema if G_ema is None else G_ema).cpu().float()
    save_generator(G_ema, run_dir / "G_ema.safetensors")
    if samples:
        from PIL import Image

        Image.fromarray(sample_sheet(G_ema)).save(run_dir / "samples.png")
    return path


def open_run(run_dir: Path, resume: bool, total_kimg: float | None, overrides: dict, resumable: tuple,
             new_config, method: str | None = None) -> tuple[dict, dict | None, dict | None]:
    """(config, tensors, state) of a run: its checkpoint when resuming (only the ``resumable``
    settings may change, and ``method`` must match when given), else ``new_config()`` in a folder
    that holds no run yet. ``total_kimg`` overrides the length either way."""
    if resume:
        fixed = sorted(k for k, v in overrides.items() if v is not None and k not in resumable)
        if fixed:
            raise InputError(f"{', '.join(fixed)} cannot change when resuming: the run keeps its settings")
        tensors, state = ckpt.load_checkpoint(run_dir)
        if method is not None and state.get("method") != method:
            raise InputError(f"{run_dir} holds a run of another method ({state.get('method', 'adversarial')})")
        config = state["config"]
        config["training"].update({k: v for k, v in overrides.items() if v is not None})
    else:
        if ckpt.has_checkpoint(run_dir):
            raise InputError(f"{run_dir} already holds a training run: resume it or choose another folder")
        config, tensors, state = new_config(), None, None
    if total_kimg is not None:
        config["training"]["total_kimg"] = float(total_kimg)
    return config, tensors, state


def train(
    run_dir: str | Path,                 # folder for checkpoint, G_ema.safetensors, samples.png, log.jsonl
    images: np.ndarray,                  # uint8 [N, R, R, 3] training images
    preset: str | dict = "default",      # preset name or dict (ignored when resuming: the checkpoint's config rules)
    resume: bool = False,                # continue from run_dir's checkpoint
    total_kimg: float | None = None,     # training length (overrides the preset / checkpoint)
    max_seconds: float | None = None,    # stop (with a checkpoint) after this much wall time
    device: str = "auto",                # auto | cpu | cuda | cuda:N
    precision: str = "auto",             # auto (CUDA: bf16, else fp32) | fp32 | bf16 | fp16
    report_every: int = 10,              # yield progress every this many steps
    max_shard_bytes: int = ckpt.MAX_SHARD_BYTES,
    samples: bool = True,                # write samples.png at each checkpoint
    command: str | None = None,          # the command line, recorded in the checkpoint
    **overrides,                         # training hyper-parameters (batch, g_lr, r1_gamma, snap_kimg, seed...)
) -> Iterator[dict]:
    """Train (or continue training) a StyleGAN2 on ``images``; yields progress dicts.

    Progress: ``{"done", "total"}`` in images, ``"kimg"``, ``"total_kimg"``, ``"step"``,
    ``"seconds"`` (this invocation), ``"loss_G"``, ``"loss_D"``, ``"r1"``, ``"message"``,
    and ``"checkpoint"`` (its path) whenever one was written. Stops when the caller stops
    iterating (no checkpoint then), when ``total_kimg`` is reached or ``max_seconds`` is spent.
    """
    run_dir = Path(run_dir)
    dev = resolve_device(device)
    if dev.type == "cuda":
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    config, tensors, state = open_run(run_dir, resume, total_kimg, overrides, ("snap_kimg",),
                                      lambda: build_config(preset, **overrides))
    t = config["training"]
    run = _Run(config, dev, resolve_precision(precision, dev))
    if state is not None:
        run.load(tensors, state)
        run.chunks += 1
    data = ImageBatches(images, t["batch"], int(t["seed"]), dev)
    if data.resolution != config["generator"]["img_resolution"]:
        raise InputError(f"training images are {data.resolution} px but the generator makes "
                         f"{config['generator']['img_resolution']} px")
    run_dir.mkdir(parents=True, exist_ok=True)
    if command:
        run.commands.append(command)

    total_nimg = int(t["total_kimg"] * 1000)
    snap_nimg = max(int(t["snap_kimg"] * 1000), 1)
    next_snap = (run.cur_nimg // snap_nimg + 1) * snap_nimg
    start = time.perf_counter()
    log = open(run_dir / "log.jsonl", "a")
    sums: dict[str, torch.Tensor] = {}
    counts: dict[str, int] = {}
    last: dict[str, float] = {}

    def progress(message: str, **extra) -> dict:
        out = {"done": run.cur_nimg, "total": total_nimg, "kimg": run.cur_nimg / 1000,
               "total_kimg": total_nimg / 1000, "step": run.step, "seconds": time.perf_counter() - start,
               "message": message, "precision": run.precision, "device": str(dev)}
        out.update(last)
        out.update(extra)
        return out

    try:
        yield progress("resumed" if state is not None else "started")
        while run.cur_nimg < total_nimg:
            stats = run.train_step(data.get(run.step))
            for k, v in stats.items():
                sums[k] = sums.get(k, 0) + v.float()
                counts[k] = counts.get(k, 0) + 1
            finished = run.cur_nimg >= total_nimg
            out_of_time = max_seconds is not None and time.perf_counter() - start >= max_seconds
            snap = run.cur_nimg >= next_snap or finished or out_of_time
            if run.step % report_every == 0 or snap:
                last = {k: float(v) / counts[k] for k, v in sums.items()}
                sums, counts = {}, {}
                if not all(math.isfinite(v) for v in last.values()):
                    raise InputError(f"training diverged at step {run.step} (losses {last}); "
                                     "the last checkpoint holds the state before it")
                line = progress("training")
                log.write(json.dumps({k: v for k, v in line.items() if k != "message"}) + "\n")
                log.flush()
                if not snap:
                    yield line
            if snap:
                while next_snap <= run.cur_nimg:
                    next_snap += snap_nimg
                path = _write_outputs(run, run_dir, max_shard_bytes, samples)
                yield progress("checkpoint", checkpoint=str(path))
            if out_of_time and not finished:
                yield progress("time budget spent; resume to continue", stopped=True)
                return
        yield progress("finished", finished=True)
    finally:
        log.close()
