"""The CPU route to the default generator: a StyleGAN2 trained as a decoder of the portrait code.

The mapping network is constructed (``portraits.latent_code.write_mapping``): it computes, for
every z, an explicit code of the renderer's parameters, and W *is* that code. The synthesis
network then learns by plain supervised regression to paint what the renderer paints for a
code, which converges in CPU-hours where adversarial training needs GPU-days:

* **banks**: ``bank`` codes at a time, each rendered once at 128 px with all cores, then used
  for ``bank_kimg`` thousand images before the next bank (new latents). A bank mixes plain
  samples, truncated ones (``w_avg + psi (w - w_avg)``), and points between two samples
  (random ``t`` and exact midpoints), each rendered as its code decodes, so that truncation and
  interpolation in W give clean faces;
* **loss**: L1 on pixels and on their horizontal/vertical differences, weighted towards the
  face (eyes, mouth, earrings are a few pixels each and would otherwise be drawn last), plus
  L1 at 1/2 and 1/4 size; optionally (``critic_weight``) the L1 between the trunk features of a
  separately trained critic (``training.critic``) on the generated image and on its render, and
  (``adv_weight``) a realism term from a discriminator at ``adv_resolution``. The shipped
  attribute oracle never enters a loss: it only measures (``quick_score``);
* **curriculum**: the first ``low_res_kimg`` thousand images train the blocks up to 64 px
  against area-downsampled targets, then the 128 px block joins;
* ``G_ema`` (half-life ``ema_kimg``) is what is saved and shipped.

Everything random is a function of (seed, bank index, step), so a run cut into chunks of any
length continues exactly as an uninterrupted one, also when the minibatch is split over
several processes (``processes``, :mod:`stylepaint.training.data_parallel`). Banks are cached in ``RUN_DIR/cache/``
(``.npy``, not part of the resume state: a missing one is rendered again, identically).
"""

from __future__ import annotations

import copy
import json
import math
import os
import time
from pathlib import Path
from typing import Iterator

import numpy as np
import torch
import torch.nn.functional as F

from stylepaint.engine.networks import Generator
from stylepaint.errors import InputError
from stylepaint.portraits import alignment
from stylepaint.portraits.latent_code import write_mapping
from stylepaint.training import checkpoint as ckpt
from stylepaint.training import data_parallel
from stylepaint.training.critic import CRITIC_FILE, perceptual_loss
from stylepaint.training.losses import auto_r1_gamma, d_logistic_loss, g_nonsaturating_loss, r1_penalty
from stylepaint.training.presets import get_preset
from stylepaint.training.trainer import _write_outputs, ema_beta, update_ema

METHOD = "decoder"
DEFAULTS = dict(
    batch=32,               # images per step
    lr=0.002,               # Adam learning rate (equalised-lr layers)
    betas=[0.9, 0.99],      # Adam betas
    bank=40_000,            # codes rendered per bank
    bank_kimg=120.0,        # thousands of images drawn from one bank before the next
    low_res=64,             # resolution of the first stage
    low_res_kimg=240.0,     # length of the first stage
    face_weight=4.0,        # extra loss weight at the face centre (a Gaussian blob)
    part_weight=0.0,        # extra weight on the small parts: eyes, mouth, earrings, cheeks (0: off)
    head_weight=0.0,        # extra weight where a bow sits on the head, either side (0: off)
    grad_weight=1.0,        # weight of the L1 on pixel differences
    ema_kimg=5.0,           # G_ema half-life
    ema_rampup=0.05,
    total_kimg=2000.0,
    snap_kimg=20.0,
    seed=0,
    mix=dict(sample=0.45, truncated=0.2, between=0.25, midpoint=0.1),   # kinds of codes in a bank
    truncation=[0.3, 1.0],  # psi range of the truncated codes
    spread={},              # nuisance -> spread of its code (0: pinned to its median; see latent_code)
    centred=True,           # train the style affines on w - w_avg (see shift_style_biases)
    critic_weight=0.0,      # weight of the perceptual term of a critic trained on the first bank (0: off)
    critic_epochs=2,        # the critic's training length, in passes over 95 % of that bank
    adv_weight=0.0,         # weight of a realism (adversarial) term from a discriminator at adv_resolution (0: off;
                            # the term starts when the training resolution reaches adv_resolution)
    adv_resolution=64,      # the discriminator reads generated and rendered images area-downsampled to this size
    adv_channel_base=1024,  # its widths: min(adv_channel_base / resolution, the generator's channel_max)
    r1_gamma=None,          # R1 weight of that discriminator (None: 0.0002 * adv_resolution^2 / batch)
    r1_interval=16,         # R1 on every this many steps (lazy regularisation)
)


#: settings a resumed run may change (a schedule decision, recorded in the run's commands)
RESUMABLE = ("snap_kimg", "lr", "part_weight", "head_weight", "mix", "centred", "critic_weight", "adv_weight", "adv_resolution", "r1_gamma",
             "r1_interval")


def _cpu_seconds() -> float:
    """CPU time of this process and of its finished children (the bank renderers)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def build_config(preset: str = "default", **overrides) -> dict:
    try:
        config = {"generator": get_preset(preset)["generator"]}
    except KeyError:
        raise InputError(f"unknown training preset {preset!r}") from None
    t = copy.deepcopy(DEFAULTS)
    unknown = sorted(set(overrides) - set(t))
    if unknown:
        raise InputError(f"unknown decoder training settings: {', '.join(unknown)}")
    t.update({k: v for k, v in overrides.items() if v is not None})
    config["training"], config["method"] = t, METHOD
    return config


# ---- banks --------------------------------------------------------------------------------------

def bank_codes(G: Generator, index: int, count: int, seed: int, mix: dict, truncation) -> torch.Tensor:
    """The ``count`` codes (W points) of bank ``index``: a pure function of its arguments."""
    gen = torch.Generator().manual_seed(int(seed) * 1_000_003 + 7919 * int(index) + 1)
    z1 = torch.randn([count, G.z_dim], generator=gen)
    z2 = torch.randn([count, G.z_dim], generator=gen)
    kind = torch.rand([count], generator=gen)
    t = torch.rand([count, 1], generator=gen)
    psi = truncation[0] + (truncation[1] - truncation[0]) * torch.rand([count, 1], generator=gen)
    with torch.no_grad():
        w1, w2 = G.mapping(z1)[:, 0], G.mapping(z2)[:, 0]
    w_avg = G.mapping.w_avg[None]
    bounds = np.cumsum([mix["sample"], mix["truncated"], mix["between"], mix["midpoint"]])
    bounds = torch.as_tensor(bounds / bounds[-1], dtype=torch.float32)
    kind = torch.bucketize(kind, bounds, right=True).clamp_(max=3)[:, None]
    return torch.where(kind == 0, w1,
           torch.where(kind == 1, w_avg + psi * (w1 - w_avg),
           torch.where(kind == 2, w1 + t * (w2 - w1), 0.5 * (w1 + w2))))


def _check_mix(mix) -> None:
    kinds = set(DEFAULTS["mix"])
    if not isinstance(mix, dict) or set(mix) != kinds:
        raise InputError(f"the mix of a bank names exactly the kinds {', '.join(DEFAULTS['mix'])}, got {mix!r}")
    if any(not math.isfinite(float(v)) or float(v) < 0 for v in mix.values()) or sum(map(float, mix.values())) <= 0:
        raise InputError(f"the shares of a bank's mix are >= 0 and not all 0, got {mix!r}")


def _mix_tag(mix: dict) -> str:
    """A bank's cache name carries its mix when that is not the default one (a resumed run may
    change the mix: the current bank is then drawn again with the new kinds of codes)."""
    if mix == DEFAULTS["mix"]:
        return ""
    return "-mix" + "-".join(f"{mix[k]:g}" for k in DEFAULTS["mix"])


def make_bank(G: Generator, code, index: int, t: dict, resolution: int, cache: Path | None,
              workers: int | None) -> Iterator[dict]:
    """Render bank ``index`` (or read it from ``cache``); the last progress dict carries
    ``"bank"``: (codes float32 [N, w_dim], images uint8 [N, R, R, 3])."""
    from stylepaint.portraits.dataset import iter_render

    codes = bank_codes(G, index, int(t["bank"]), int(t["seed"]), t["mix"], t["truncation"])
    path = None if cache is None else cache / f"bank-{int(t['seed'])}-{index:04d}-{len(codes)}-{resolution}{_mix_tag(t['mix'])}.npy"
    if path is not None and path.is_file():
        images = np.load(path, mmap_mode="r")
        if images.shape == (len(codes), resolution, resolution, 3):
            yield {"message": f"bank {index} read from cache", "done": len(codes), "total": len(codes),
                   "bank": (codes, np.array(images))}      # a copy in memory: batches are random reads
            return
    records = code.decode(codes.numpy())
    images = np.empty((len(codes), resolution, resolution, 3), np.uint8)
    for offset, chunk, _ in iter_render(records, resolution, workers, chunk=250):
        images[offset:offset + len(chunk)] = chunk
        yield {"message": f"rendering bank {index}", "done": offset + len(chunk), "total": len(codes)}
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp.npy")
        np.save(tmp, images)
        tmp.replace(path)
        for old in path.parent.glob("bank-*.npy"):
            if old != path:
                old.unlink()
    yield {"message": f"bank {index} rendered", "done": len(codes), "total": len(codes), "bank": (codes, images)}


# ---- loss ---------------------------------------------------------------------------------------

# small parts of an upright, centred head (renderer geometry): (x, y, sigma_x, sigma_y) in image fractions
PARTS = (
    (alignment.EYE_CENTER_X - alignment.EYE_DISTANCE / 2, alignment.EYE_LINE_Y, 0.05, 0.035),   # eyes
    (alignment.EYE_CENTER_X + alignment.EYE_DISTANCE / 2, alignment.EYE_LINE_Y, 0.05, 0.035),
    (0.5, 0.625, 0.055, 0.035),                                                                  # mouth
    (0.5 - 0.215, 0.57, 0.025, 0.04), (0.5 + 0.215, 0.57, 0.025, 0.04),                          # earrings
    (0.5 - 0.125, 0.545, 0.04, 0.025), (0.5 + 0.125, 0.545, 0.04, 0.025),                        # cheeks
)
# a bow's knot and loops, on either side of the crown (renderer: x = 0.5 +- (0.205 face_width - 0.04), y = 0.2)
HEAD_PARTS = ((0.5 - 0.165, 0.19, 0.055, 0.045), (0.5 + 0.165, 0.19, 0.055, 0.045))


def face_weight_map(resolution: int, face_weight: float, part_weight: float = 0.0,
                    head_weight: float = 0.0) -> torch.Tensor:
    """``[1, 1, R, R]``: 1 plus a Gaussian blob over the face, plus ``part_weight`` blobs on the
    eyes, mouth, earrings and cheeks (where the attributes that are a few pixels wide are), plus
    ``head_weight`` blobs where a bow sits; mean 1."""
    g = (torch.arange(resolution, dtype=torch.float32) + 0.5) / resolution
    y, x = g[:, None], g[None, :]

    def blob(cx, cy, sx, sy):
        return torch.exp(-((y - cy) ** 2) / (2 * sy ** 2) - ((x - cx) ** 2) / (2 * sx ** 2))

    m = 1.0 + face_weight * blob(0.5, alignment.EYE_LINE_Y + 0.07, 0.17, 0.13)
    if part_weight:
        m = m + part_weight * torch.stack([blob(*p) for p in PARTS]).amax(0)
    if head_weight:
        m = m + head_weight * torch.stack([blob(*p) for p in HEAD_PARTS]).amax(0)
    return (m / m.mean())[None, None]


def reconstruction_loss(fake: torch.Tensor, real: torch.Tensor, weight: torch.Tensor, grad_weight: float) -> torch.Tensor:
    """Weighted L1 on pixels and on x/y differences, plus L1 at 1/2 and 1/4 size."""
    loss = ((fake - real).abs() * weight).mean()
    if grad_weight:
        dx = (fake[..., :, 1:] - fake[..., :, :-1]) - (real[..., :, 1:] - real[..., :, :-1])
        dy = (fake[..., 1:, :] - fake[..., :-1, :]) - (real[..., 1:, :] - real[..., :-1, :])
        loss = loss + grad_weight * ((dx.abs() * weight[..., :, 1:]).mean() + (dy.abs() * weight[..., 1:, :]).mean())
    for k in (2, 4):
        loss = loss + (F.avg_pool2d(fake, k) - F.avg_pool2d(real, k)).abs().mean()
    return loss


# ---- the run ------------------------------------------------------------------------------------

class _Run:
    def __init__(self, config: dict, device: torch.device):
        self.config, self.device = config, device
        t = config["training"]
        torch.manual_seed(int(t["seed"]))
        G = Generator(**config["generator"])
        self.code = write_mapping(G, t.get("spread") or None)
        _centre_affines(G)
        with torch.no_grad():   # blocks above the first stage start silent: samples show the stage's image
            for block in G.synthesis.blocks():
                if block.resolution > t["low_res"]:
                    block.torgb.weight.zero_()
        self.G = G.train().to(device)
        self.G_ema = copy.deepcopy(self.G).eval().requires_grad_(False)
        self.params = [p for p in self.G.synthesis.parameters()]
        self.opt = torch.optim.Adam(self.params, lr=t["lr"], betas=tuple(t["betas"]), eps=1e-8)
        self.cur_nimg, self.step, self.chunks = 0, 0, 0
        self.cpu_seconds = self.wall_seconds = 0.0
        self.commands: list[str] = []
        self.weights = {r: face_weight_map(r, t["face_weight"], t.get("part_weight", 0.0), t.get("head_weight", 0.0)).to(device)
                        for r in (min(int(t["low_res"]), G.img_resolution), G.img_resolution)}
        # configs written before the setting existed trained on w itself
        self.centred = bool(t.get("centred", False))
        self.critic = None      # set by train_decoder when critic_weight > 0 (stylepaint.training.critic)
        self.D = self.opt_D = None  # the realism term's discriminator (ensure_D), once adv_weight > 0
        self.group = None       # a data_parallel.ProcessGroup when training in several processes
        if self.centred:
            for net in (self.G, self.G_ema):
                shift_style_biases(net, +1)

    def plain_G_ema(self) -> Generator:
        """A copy of G_ema as a plain generator (the biases in their standard meaning)."""
        G = copy.deepcopy(self.G_ema)
        if self.centred:
            shift_style_biases(G, -1)
        return G

    def resolution(self) -> int:
        t = self.config["training"]
        low = min(int(t["low_res"]), self.G.img_resolution)
        return low if self.cur_nimg < t["low_res_kimg"] * 1000 else self.G.img_resolution

    def bank_index(self) -> int:
        return int(self.cur_nimg // int(self.config["training"]["bank_kimg"] * 1000))

    def tensors_and_state(self) -> tuple[dict, dict]:
        tensors = {}
        tensors.update(ckpt.module_tensors("G", self.G))
        tensors.update(ckpt.module_tensors("G_ema", self.G_ema))
        opt, meta = ckpt.optimizer_tensors("opt", self.opt)
        tensors.update(opt)
        optimizers = {"opt": meta}
        if self.D is not None:
            tensors.update(ckpt.module_tensors("D", self.D))
            opt_D, optimizers["opt_D"] = ckpt.optimizer_tensors("opt_D", self.opt_D)
            tensors.update(opt_D)
        state = dict(config=self.config, method=METHOD, cur_nimg=self.cur_nimg, step=self.step, chunks=self.chunks,
                     centred_biases=self.centred,
                     cpu_seconds=self.cpu_seconds, wall_seconds=self.wall_seconds, commands=self.commands, optimizers=optimizers,
                     device=str(self.device))
        return tensors, state

    def load(self, tensors: dict, state: dict) -> None:
        ckpt.load_module_tensors("G", self.G, tensors)
        ckpt.load_module_tensors("G_ema", self.G_ema, tensors)
        ckpt.load_optimizer_tensors("opt", self.opt, tensors, state["optimizers"]["opt"])
        if "opt_D" in state["optimizers"]:
            self.ensure_D()
            ckpt.load_module_tensors("D", self.D, tensors)
            ckpt.load_optimizer_tensors("opt_D", self.opt_D, tensors, state["optimizers"]["opt_D"])
        self.cur_nimg, self.step, self.chunks = int(state["cur_nimg"]), int(state["step"]), int(state.get("chunks", 0))
        self.cpu_seconds = float(state.get("cpu_seconds", 0.0))
        self.wall_seconds = float(state.get("wall_seconds", 0.0))
        self.commands = list(state.get("commands", []))
        saved = bool(state.get("centred_biases", False))
        if saved != self.centred:       # the setting changed on resume: same function, other biases
            for net in (self.G, self.G_ema):
                shift_style_biases(net, +1 if self.centred else -1)

    def adv_resolution(self) -> int:
        """The discriminator's input size: the setting, at most the generator's resolution."""
        t = self.config["training"]
        return min(int(t.get("adv_resolution", DEFAULTS["adv_resolution"])), self.G.img_resolution)

    def ensure_D(self) -> None:
        """Create the realism term's discriminator (seeded by the run: a run that turns the term
        on at any checkpoint continues identically when cut and resumed)."""
        if self.D is not None:
            return
        from stylepaint.training.discriminator import Discriminator, discriminator_config

        t = self.config["training"]
        with torch.random.fork_rng():
            torch.manual_seed(int(t["seed"]) + 2)
            self.D = Discriminator(**discriminator_config(
                self.config["generator"], img_resolution=self.adv_resolution(),
                channel_base=int(t.get("adv_channel_base", DEFAULTS["adv_channel_base"])))).to(self.device)
        self.opt_D = torch.optim.Adam(self.D.parameters(), lr=t["lr"], betas=(0.0, 0.99), eps=1e-8)

    def train_step(self, codes: torch.Tensor, images: torch.Tensor, ema: bool = True) -> float:
        """One optimizer step on a minibatch (in a process group: this rank's share of it)."""
        t = self.config["training"]
        res = self.resolution()
        real = images.to(self.device).permute(0, 3, 1, 2).float() / 127.5 - 1.0
        if real.shape[-1] != res:
            real = F.avg_pool2d(real, real.shape[-1] // res)
        ws = codes.to(self.device)
        if self.centred:
            ws = ws - self.G.mapping.w_avg
        ws = ws[:, None].expand(-1, self.G.num_ws, -1)
        fake = self.G.synthesis.forward_styles(self.G.synthesis.styles(ws), "const", max_resolution=res)
        loss = reconstruction_loss(fake, real, self.weights[res], t["grad_weight"])
        if self.critic is not None and t.get("critic_weight", 0.0):
            loss = loss + t["critic_weight"] * perceptual_loss(self.critic, fake, real)
        adv = float(t.get("adv_weight", 0.0) or 0.0)
        if adv and res < self.adv_resolution():     # the term starts once the stage reaches D's size
            adv = 0.0
        if adv:
            self.ensure_D()
            fake_d, real_d = (_area_resize(x, self.D.img_resolution) for x in (fake, real))
            self.D.requires_grad_(False)
            loss = loss + adv * g_nonsaturating_loss(self.D(fake_d))
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        value = float(loss.detach()) if self.group is None else self.group.average(self.params, loss)
        self.opt.step()
        if adv:
            self._discriminator_step(real_d, fake_d.detach())
        batch = codes.shape[0] * (1 if self.group is None else self.group.world)
        self.cur_nimg += batch
        self.step += 1
        if ema:
            update_ema(self.G_ema, self.G, ema_beta(batch, self.cur_nimg, t["ema_kimg"], t["ema_rampup"]))
        return value

    def _discriminator_step(self, real: torch.Tensor, fake: torch.Tensor) -> None:
        """Logistic loss on rendered vs generated images, with lazy R1 on the renders."""
        t = self.config["training"]
        self.D.requires_grad_(True)
        loss = d_logistic_loss(self.D(real), self.D(fake))
        interval = int(t.get("r1_interval", DEFAULTS["r1_interval"]))
        if interval > 0 and self.step % interval == 0:
            gamma = t.get("r1_gamma")
            if gamma is None:
                gamma = auto_r1_gamma(self.D.img_resolution, int(t["batch"]))
            real = real.detach().requires_grad_(True)
            loss = loss + r1_penalty(real, self.D(real)) * (float(gamma) / 2.0) * interval
        self.opt_D.zero_grad(set_to_none=True)
        loss.backward()
        if self.group is not None:
            self.group.average(list(self.D.parameters()), loss)
        self.opt_D.step()


def _area_resize(x: torch.Tensor, size: int) -> torch.Tensor:
    """Area-downsample ``[N, C, R, R]`` to ``size`` (R a multiple of it); up-sampling is refused."""
    if x.shape[-1] == size:
        return x
    if x.shape[-1] < size or x.shape[-1] % size:
        raise ValueError(f"cannot area-resize {x.shape[-1]} px images to {size} px")
    return F.avg_pool2d(x, x.shape[-1] // size)


def shift_style_biases(G: Generator, sign: int) -> None:
    """Move every style affine's bias between its standard meaning (``A w + b``) and the centred
    one the trainer uses (``A (w - w_avg) + b'``, ``b' = b + A w_avg``): the same function, a
    better-conditioned problem. The code's scalar slots sit at a constant offset of about 13
    while its categorical slots are 0 or 1, so on raw w Adam moves the weights of the ~20 scalar
    slots like 20 extra biases of 13x the gain: every style jitters by about 0.05 per step."""
    w_avg = G.mapping.w_avg
    with torch.no_grad():
        for module in G.synthesis.modules():
            fc = getattr(module, "affine", None)
            if fc is not None:
                fc.bias.add_(sign * ((fc.weight * fc.weight_gain) @ w_avg) / fc.bias_gain)


def _centre_affines(G: Generator) -> None:
    """Give every style affine the bias that makes its output at ``w_avg`` what StyleGAN2's
    initialisation gives at w = 0 (the code's scalar slots sit at a constant offset)."""
    w_avg = G.mapping.w_avg
    with torch.no_grad():
        for module in G.synthesis.modules():
            fc = getattr(module, "affine", None)
            if fc is None:
                continue
            shift = (fc.weight * fc.weight_gain) @ w_avg
            fc.bias.sub_(shift / fc.bias_gain)


def _critic_for(run: "_Run", run_dir: Path, codes: torch.Tensor, images: torch.Tensor) -> Iterator[dict]:
    """Load the run's critic, or train it on the current bank (its codes decode to the labels)
    and save it in the run folder, so that a resumed run uses the very same critic."""
    from stylepaint.portraits.vocabulary import load_vocabulary
    from stylepaint.training.critic import labels_of_codes, load_critic, save_critic, train_critic

    path = run_dir / CRITIC_FILE
    if path.is_file():
        run.critic = load_critic(path).to(run.device)
        return
    groups = load_vocabulary()
    labels = labels_of_codes(run.code, codes.numpy(), groups)
    t = run.config["training"]
    for p in train_critic(images, labels, groups, seed=int(t["seed"]) + 1, epochs=int(t.get("critic_epochs", 2))):
        if "critic" in p:
            save_critic(p["critic"], path, {"seconds": p["seconds"], "heldout_accuracy": p["accuracy"],
                                            "bank": run.bank_index(), "kimg": run.cur_nimg / 1000})
            run.critic = p["critic"].to(run.device)
        yield p


def batch_indices(seed: int, bank: int, step_in_bank: int, count: int, batch: int) -> torch.Tensor:
    """Minibatch ``step_in_bank`` of a bank of ``count``: epochs of seeded permutations."""
    per_epoch = count // batch
    epoch, k = divmod(step_in_bank, per_epoch)
    gen = torch.Generator().manual_seed(int(seed) * 1_000_003 + 104_729 * int(bank) + epoch)
    return torch.randperm(count, generator=gen)[k * batch:(k + 1) * batch]


@torch.no_grad()
def quick_score(G: Generator, count: int = 256, seed: int = 123, midpoints: int = 128) -> dict:
    """Measurement only (never a loss): the oracle-confident share of ``count`` samples, and of
    the midpoints of ``midpoints`` random W pairs (ghosts between faces, as `evaluate-gan` scores them)."""
    from stylepaint.portraits.oracle import ORACLE_FILE, load_oracle
    from stylepaint.training.evaluate import confident_share

    if not ORACLE_FILE.exists():
        return {}
    oracle = load_oracle()
    gen = torch.Generator().manual_seed(seed)

    def share_of(images) -> tuple[float, dict]:
        probs: dict[str, list] = {}
        for img in images:
            for g, p in oracle.predict(img.float().clamp(-1, 1)).items():
                probs.setdefault(g, []).append(p.numpy())
        return confident_share({g: np.concatenate(v) for g, v in probs.items()})

    z = torch.randn([count, G.z_dim], generator=gen)
    share, per_group = share_of(G(part, noise_mode="const") for part in z.split(64))
    out = {"confident": share, "confident_per_group": per_group}
    if midpoints:
        z2 = torch.randn([2, midpoints, G.z_dim], generator=gen)
        w = 0.5 * (G.mapping(z2[0]) + G.mapping(z2[1]))
        out["confident_midpoints"] = share_of(G.synthesis(part, noise_mode="const") for part in w.split(64))[0]
    return out


def train_decoder(
    run_dir: str | Path,                # checkpoint, G_ema.safetensors, samples.png, log.jsonl, cache/
    preset: str = "default",            # generator architecture (ignored when resuming)
    resume: bool = False,
    total_kimg: float | None = None,
    max_seconds: float | None = None,   # stop (with a checkpoint) after this much wall time
    device: str = "cpu",
    workers: int | None = None,         # render processes for the banks (default: all cores)
    report_every: int = 10,
    max_shard_bytes: int = ckpt.MAX_SHARD_BYTES,
    samples: bool = True,
    score: bool = True,                 # log the oracle-confident share of 256 samples at each checkpoint
    cache: bool = True,                 # keep the current bank in RUN_DIR/cache/
    command: str | None = None,
    processes: int = 1,                 # data-parallel processes of this process's torch threads each
    should_stop=None,                   # a callable; when it returns True: checkpoint after this step and stop
    **overrides,                        # settings of DEFAULTS (new runs); lr and snap_kimg also on resume
) -> Iterator[dict]:
    """Train (or continue) the decoder route; yields progress dicts (``kimg``, ``loss``,
    ``resolution``, ``message``; ``checkpoint`` when one was written; ``stopped``/``finished``).
    With ``processes`` > 1 the minibatch is split over that many processes
    (:mod:`stylepaint.training.data_parallel`; the bank cache is then required)."""
    from stylepaint.training.trainer import open_run, resolve_device

    run_dir = Path(run_dir)
    dev = resolve_device(device)
    config, tensors, state = open_run(run_dir, resume, total_kimg, overrides, RESUMABLE,
                                      lambda: build_config(preset, **overrides), method=METHOD)
    t = config["training"]
    _check_mix(t["mix"])
    run = _Run(config, dev)
    if state is not None:
        run.load(tensors, state)
        run.chunks += 1
        for opt in (run.opt, run.opt_D):
            for group in (opt.param_groups if opt is not None else []):
                group["lr"] = t["lr"]
    if command:
        run.commands.append(command)
    run_dir.mkdir(parents=True, exist_ok=True)
    if processes > 1 and not cache:
        raise InputError("training in several processes shares the banks through the cache: keep cache on")

    total_nimg = int(t["total_kimg"] * 1000)
    snap_nimg = max(int(t["snap_kimg"] * 1000), 1)
    next_snap = (run.cur_nimg // snap_nimg + 1) * snap_nimg

    def cpu_now() -> float:     # this process, its finished children, and the helper ranks so far
        return _cpu_seconds() + (run.group.helper_cpu_seconds if run.group is not None else 0.0)

    start, cpu_start = time.perf_counter(), cpu_now()
    wall_mark = start
    log = open(run_dir / "log.jsonl", "a")
    losses: list[float] = []
    last: dict = {}
    bank_index, codes, images = -1, None, None

    def progress(message: str, **extra) -> dict:
        out = {"done": run.cur_nimg, "total": total_nimg, "kimg": run.cur_nimg / 1000, "total_kimg": total_nimg / 1000,
               "step": run.step, "seconds": time.perf_counter() - start, "resolution": run.resolution(),
               "cpu_hours": (run.cpu_seconds + cpu_now() - cpu_start) / 3600,
               "wall_hours": (run.wall_seconds + time.perf_counter() - wall_mark) / 3600, "message": message,
               "device": str(dev)}
        out.update(last)
        out.update(extra)
        return out

    try:
        if processes > 1:
            run.group = data_parallel.start(processes, int(t["batch"]), _decoder_helper, config, str(run_dir), str(dev))
            run.group.broadcast(dict(G=run.G.state_dict(), opt=run.opt.state_dict(), cur_nimg=run.cur_nimg,
                                     step=run.step, D=None if run.D is None else run.D.state_dict(),
                                     opt_D=None if run.D is None else run.opt_D.state_dict()))
        yield progress("resumed" if state is not None else "started")
        while run.cur_nimg < total_nimg:
            if run.bank_index() != bank_index:
                bank_index = run.bank_index()
                for p in make_bank(run.G, run.code, bank_index, t, run.G.img_resolution,
                                   run_dir / "cache" if cache else None, workers):
                    if "bank" in p:
                        codes, images = p["bank"]
                        images = torch.from_numpy(images)
                    else:
                        yield progress(p["message"], bank_done=p["done"], bank_total=p["total"])
                if t.get("critic_weight", 0.0) and run.critic is None:
                    for p in _critic_for(run, run_dir, codes, images):
                        yield progress(p["message"], critic_done=p["done"], critic_total=p["total"])
                if run.group is not None:
                    run.group.barrier()         # the bank (and critic) are on disk for the helpers
            idx = _minibatch(run, bank_index, len(codes))
            losses.append(run.train_step(codes[idx], images[idx]))
            finished = run.cur_nimg >= total_nimg
            out_of_time = (max_seconds is not None and time.perf_counter() - start >= max_seconds) \
                or (should_stop is not None and should_stop())
            snap = run.cur_nimg >= next_snap or finished or out_of_time
            if run.step % report_every == 0 or snap:
                last = {"loss": float(np.mean(losses))}
                losses = []
                if not math.isfinite(last["loss"]):
                    raise InputError(f"training diverged at step {run.step}; the last checkpoint holds the state before it")
                if not snap:
                    yield progress("training")
            if snap:
                while next_snap <= run.cur_nimg:
                    next_snap += snap_nimg
                now_cpu, now_wall = cpu_now(), time.perf_counter()
                run.cpu_seconds += now_cpu - cpu_start
                run.wall_seconds += now_wall - wall_mark
                cpu_start, wall_mark = now_cpu, now_wall
                plain = run.plain_G_ema()
                path = _write_outputs(run, run_dir, max_shard_bytes, samples, G_ema=plain)
                extra = {"checkpoint": str(path)}
                if score:
                    extra.update(quick_score(plain))
                line = progress("checkpoint", **extra)
                log.write(json.dumps({k: v for k, v in line.items() if k != "message"}) + "\n")
                log.flush()
                yield line
            if out_of_time and not finished:
                yield progress("time budget spent; resume to continue", stopped=True)
                return
        yield progress("finished", finished=True)
    finally:
        log.close()
        if run.group is not None:
            run.group.close()
            run.group = None


def _minibatch(run: _Run, bank_index: int, count: int) -> torch.Tensor:
    """Indices into the current bank of the run's next minibatch (in a process group: this
    rank's share of it)."""
    t = run.config["training"]
    step_in_bank = (run.cur_nimg - bank_index * int(t["bank_kimg"] * 1000)) // int(t["batch"])
    idx = batch_indices(int(t["seed"]), bank_index, step_in_bank, count, int(t["batch"]))
    return idx if run.group is None else run.group.shard(idx)


def _decoder_helper(group: data_parallel.ProcessGroup, config: dict, run_dir: str, device: str) -> None:
    """A helper rank: the same steps as rank 0 on its share of each minibatch, until rank 0
    stops it. Banks and the critic are read from the run folder once rank 0 has written them
    (after the barrier, ``make_bank`` finds the bank in the cache and ``_critic_for`` the critic)."""
    run = _Run(config, torch.device(device))
    start = group.broadcast()
    run.G.load_state_dict(start["G"])
    run.opt.load_state_dict(start["opt"])
    run.cur_nimg, run.step, run.group = start["cur_nimg"], start["step"], group
    if start["D"] is not None:
        run.ensure_D()
        run.D.load_state_dict(start["D"])
        run.opt_D.load_state_dict(start["opt_D"])
    t, run_dir = config["training"], Path(run_dir)
    bank_index, codes, images = -1, None, None
    while True:
        if run.bank_index() != bank_index:
            bank_index = run.bank_index()
            group.barrier()
            *_, last = make_bank(run.G, run.code, bank_index, t, run.G.img_resolution, run_dir / "cache", None)
            codes, images = last["bank"][0], torch.from_numpy(last["bank"][1])
            if t.get("critic_weight", 0.0) and run.critic is None:
                for _ in _critic_for(run, run_dir, codes, images):
                    pass
        idx = _minibatch(run, bank_index, len(codes))
        run.train_step(codes[idx], images[idx], ema=False)
