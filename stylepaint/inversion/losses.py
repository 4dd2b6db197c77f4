"""Reconstruction losses for inversion, pluggable by name.

Each loss is a callable ``loss(image, target) -> scalar tensor`` on float images
``[N, 3, H, W]`` in [-1, 1] (``image`` at the generator's resolution, ``target`` the same size):

* ``"pixel"``: mean squared error plus an L1 term at 1, 1/2, 1/4 and 1/8 scale (always there).
* ``"oracle"``: the portrait oracle's conv stages as a perceptual network, LPIPS-style (unit
  channel normalisation, squared differences averaged over positions and stages), plus ``pixel``.
  For the embedded portrait domain; needs ``stylepaint/resources/models/oracle.safetensors``.
* ``"clip"``: a convolutional CLIP image tower (open_clip's ModifiedResNet) as the perceptual
  network: its stem and four stages compared LPIPS-style at the CLIP's input size, plus the
  cosine distance of the image embeddings, plus ``pixel`` at full resolution. For the embedded portrait domain it is
  the shipped ``portrait-clip``, a network trained on captions, independent of the oracle.
* ``"lpips"``: the ``lpips`` package when installed and its backbone weights are on disk, plus ``pixel``.

``make_loss("auto", domain)`` picks the portrait CLIP for portraits and lpips for photos when
available, else pixel. The oracle is never picked by "auto": it is the yardstick the inversion
benchmark scores with, so a loss built on it would grade its own homework.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from stylepaint.errors import InputError


class PixelLoss:
    """MSE plus multi-scale L1: fine detail and overall colour/shape both count."""

    name = "pixel"

    def __init__(self, scales: int = 4, l1_weight: float = 0.5):
        self.scales = scales
        self.l1_weight = l1_weight

    def __call__(self, image: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        loss = F.mse_loss(image, target)
        a, b = image, target
        for i in range(self.scales):
            loss = loss + self.l1_weight / self.scales * F.l1_loss(a, b)
            if min(a.shape[-2:]) < 8:
                break
            a, b = F.avg_pool2d(a, 2), F.avg_pool2d(b, 2)
        return loss


class FeatureLoss:
    """LPIPS-style distance on a conv net's intermediate feature maps, plus the pixel loss."""

    def __init__(self, stages, input_size: int | None, name: str, weight: float = 1.0, pixel_weight: float = 1.0):
        self.stages = stages  # list of modules applied in sequence; each output is compared
        self.input_size = input_size
        self.name = name
        self.weight = weight
        self.pixel = PixelLoss()
        self.pixel_weight = pixel_weight
        self._target = None     # (target tensor, its features): the target is the same every step

    def _target_features(self, target: torch.Tensor, compute):
        """``compute(target)`` without gradients, reused while the same unchanged tensor comes back."""
        cached = self._target
        if cached is None or cached[0] is not target or cached[1] != target._version:
            with torch.no_grad():
                cached = (target, target._version, compute(target))
            self._target = cached
        return cached[2]

    def _feats(self, x: torch.Tensor) -> list[torch.Tensor]:
        if self.input_size and x.shape[-1] != self.input_size:
            mode = "area" if x.shape[-1] > self.input_size else "bilinear"
            x = F.interpolate(x, size=(self.input_size, self.input_size), mode=mode,
                              **({} if mode == "area" else {"align_corners": False}))
        out = []
        for stage in self.stages:
            x = stage(x)
            out.append(x / (x.norm(dim=1, keepdim=True) + 1e-6))
        return out

    @staticmethod
    def _perceptual(fa: list[torch.Tensor], fb: list[torch.Tensor]) -> torch.Tensor:
        """Squared differences of unit-normalised features, averaged over positions and stages."""
        return sum(((a - b) ** 2).sum(1).mean() for a, b in zip(fa, fb)) / len(fa)

    def __call__(self, image: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        fb = self._target_features(target, self._feats)
        return (self.weight * self._perceptual(self._feats(image), fb)
                + self.pixel_weight * self.pixel(image, target))


def oracle_loss(device="cpu", path=None) -> FeatureLoss:
    """The portrait oracle's conv stages as the perceptual network (raises CheckpointError without it)."""
    from stylepaint.portraits.oracle import load_oracle

    oracle = load_oracle(path, device=str(device))
    net = oracle.net.eval()
    for p in net.parameters():
        p.requires_grad_(False)
    layers = list(net.trunk)
    stages = [torch.nn.Sequential(*layers[i : i + 2]) for i in range(0, len(layers), 2)]
    return FeatureLoss(stages, net.image_size, "oracle", weight=1.0)


class ClipFeatureLoss(FeatureLoss):
    """LPIPS-style distance on a CLIP ResNet's stages, plus embedding cosine distance and pixel loss.

    The tower runs once per image at its own input size (the CLIP preprocessing): its stem and
    four stages are compared like LPIPS, and its attention pool's output, the CLIP embedding, by
    cosine distance. Detail finer than that input is left to the pixel term at full resolution.
    """

    def __init__(self, clip, weight: float = 1.0, embed_weight: float = 1.0):
        visual = clip.model.visual
        if not all(hasattr(visual, n) for n in ("stem", "layer1", "layer2", "layer3", "layer4", "attnpool")):
            raise TypeError(f"CLIP {clip.spec!r} has no convolutional image tower (ModifiedResNet)")
        stages = [visual.stem, visual.layer1, visual.layer2, visual.layer3, visual.layer4]
        super().__init__(stages, None, "clip", weight=weight)
        self.clip = clip
        self.pool = visual.attnpool
        self.embed_weight = embed_weight

    def _run(self, image: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
        x = self.clip.preprocess(image.to(self.clip.device))
        feats = []
        for stage in self.stages:
            x = stage(x)
            feats.append(x / (x.norm(dim=1, keepdim=True) + 1e-6))
        emb = self.pool(x).float()
        return feats, emb / emb.norm(dim=-1, keepdim=True).clamp_min(1e-12)

    def __call__(self, image: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        fa, ea = self._run(image)
        fb, eb = self._target_features(target, self._run)
        semantic = 1.0 - (ea * eb).sum(-1).mean()
        return (self.weight * self._perceptual(fa, fb) + self.embed_weight * semantic
                + self.pixel_weight * self.pixel(image, target))


def clip_loss(device="cpu", spec: str | None = None) -> ClipFeatureLoss:
    """The paired CLIP's image tower as the perceptual network (default: the shipped portrait CLIP)."""
    from stylepaint.clip.model import load_clip
    from stylepaint.clip.registry import default_clip

    clip = load_clip(spec or default_clip(), device=device)
    clip.model.eval()
    for p in clip.model.parameters():
        p.requires_grad_(False)
    return ClipFeatureLoss(clip)


def lpips_loss(device="cpu") -> FeatureLoss:
    """The lpips package's network (raises ImportError/OSError when it or its weights are missing)."""
    import lpips  # optional dependency

    net = lpips.LPIPS(net="alex", verbose=False).to(device).eval()
    for p in net.parameters():
        p.requires_grad_(False)

    class _Lpips(FeatureLoss):
        def __call__(self, image, target):
            return net(image, target).mean() + self.pixel(image, target)

    return _Lpips([], None, "lpips")


def make_loss(name: str = "auto", domain: str = "photo", device="cpu"):
    """A loss by name: "auto", "pixel", "clip", "oracle" or "lpips"."""
    if name == "pixel":
        return PixelLoss()
    if name == "clip":
        return clip_loss(device)
    if name == "oracle":
        return oracle_loss(device)
    if name == "lpips":
        return lpips_loss(device)
    if name != "auto":
        raise InputError(f"unknown inversion loss {name!r}; use auto, pixel, clip, oracle or lpips.")
    tries = [clip_loss] if domain == "portrait" else [lpips_loss]
    for make in tries:
        try:
            return make(device)
        except Exception:  # missing weights or package: the pixel loss still works
            continue
    return PixelLoss()
