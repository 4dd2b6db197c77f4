"""StyleGAN2 losses: non-saturating logistic GAN loss, lazy R1, optional path-length regularisation.

Lazy regularisation (Karras et al. 2020, appendix B): a regulariser evaluated only every
``interval`` minibatches is multiplied by ``interval`` so that its average strength is the
same as if it ran every step; the optimizer's learning rate and betas are adjusted by
:func:`lazy_adam_params` to match.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch.nn import functional as F


@dataclass
class LossConfig:
    r1_gamma: float = 1.0        # R1 weight (gamma); the penalty is gamma / 2 * |grad D(real)|^2
    r1_interval: int = 16        # evaluate R1 every this many D steps (0 = never)
    pl_weight: float = 0.0       # path-length weight; 0 switches it off (the default)
    pl_interval: int = 4         # evaluate path length every this many G steps
    pl_decay: float = 0.01       # running-mean decay of the path length
    pl_batch_shrink: int = 2     # path-length minibatch = batch // pl_batch_shrink

    def to_dict(self) -> dict:
        return asdict(self)


def auto_r1_gamma(resolution: int, batch: int) -> float:
    """The StyleGAN2-ADA heuristic: ``0.0002 * resolution**2 / batch``."""
    return 0.0002 * resolution**2 / batch


def d_logistic_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Discriminator loss: ``softplus(D(fake)) + softplus(-D(real))``, averaged."""
    return F.softplus(fake_logits.float()).mean() + F.softplus(-real_logits.float()).mean()


def g_nonsaturating_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """Generator loss: ``softplus(-D(G(z)))`` = ``-log sigmoid(D(G(z)))``, averaged."""
    return F.softplus(-fake_logits.float()).mean()


def r1_penalty(real_img: torch.Tensor, real_logits: torch.Tensor, grad_scale: float = 1.0) -> torch.Tensor:
    """Per-sample squared gradient norm of D at the reals, averaged: ``E |grad_x D(x)|^2``.

    ``real_img`` must have ``requires_grad`` set before D ran. ``grad_scale`` is the loss
    scale when the logits were multiplied by a GradScaler's scale (fp16); the gradient is
    divided by it before squaring.
    """
    (grad,) = torch.autograd.grad(
        outputs=real_logits.float().sum() * grad_scale, inputs=real_img, create_graph=True
    )
    grad = grad.float() / grad_scale
    return grad.square().sum(dim=[1, 2, 3]).mean()


def r1_loss(real_img: torch.Tensor, real_logits: torch.Tensor, config: LossConfig,
            grad_scale: float = 1.0) -> torch.Tensor:
    """The lazy R1 term as added to D's loss: ``gamma / 2 * penalty * interval``."""
    return r1_penalty(real_img, real_logits, grad_scale) * (config.r1_gamma / 2.0) * max(config.r1_interval, 1)


def path_length_penalty(
    fake_img: torch.Tensor, ws: torch.Tensor, mean_path_length: torch.Tensor, decay: float
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Path-length regulariser: ``(|J_w^T y| - a)^2`` with ``y`` random image-space noise.

    Returns (penalty, updated running mean ``a``, per-sample path lengths). ``ws`` must be
    part of the graph that produced ``fake_img``.
    """
    h, w = fake_img.shape[2], fake_img.shape[3]
    noise = torch.randn_like(fake_img) / math.sqrt(h * w)
    (grad,) = torch.autograd.grad(outputs=(fake_img * noise).sum(), inputs=ws, create_graph=True)
    lengths = grad.float().square().sum(dim=2).mean(dim=1).sqrt()
    new_mean = mean_path_length + decay * (lengths.mean().detach() - mean_path_length)
    penalty = (lengths - new_mean).square().mean()
    return penalty, new_mean.detach(), lengths.detach()


def lazy_adam_params(lr: float, betas: tuple[float, float], interval: int) -> tuple[float, tuple[float, float]]:
    """Learning rate and betas for an optimizer whose regulariser runs every ``interval`` steps."""
    if interval <= 0:
        return lr, betas
    ratio = interval / (interval + 1)
    return lr * ratio, (betas[0] ** ratio, betas[1] ** ratio)
