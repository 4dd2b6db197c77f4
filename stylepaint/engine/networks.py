"""The StyleGAN2 generator in plain PyTorch: no C++/CUDA extension, runs on CPU, CUDA and MPS.

Parameters follow the StyleGAN2-ADA convention (raw weights, gains applied at run time), so
official pickles load without renaming; `checkpoints.py` converts rosinality checkpoints into
it. The computation reproduces the official implementation's float32 path; the modulated
convolution is always run as "scale activations, shared-weight convolution, scale again", which
is the same arithmetic as the official grouped ("fused") convolution and much faster for
batches on CPU.

StyleSpace: every synthesis layer has an affine map from w to one style per input channel.
`Generator.styles(ws)` returns them by name (``b4.conv1``, ``b4.torgb``, ``b8.conv0``, ...),
and `synthesis_from_styles` renders from them, so edits in S need no other entry point.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

NOISE_MODES = ("const", "none", "random")
LRELU_GAIN = math.sqrt(2.0)


def assert_shape(tensor: torch.Tensor, shape: list, name: str = "tensor") -> None:
    """Check `tensor` against `shape`, where None matches any size."""
    if tensor.ndim != len(shape) or any(s is not None and s != t for s, t in zip(shape, tensor.shape)):
        raise ValueError(f"{name} has shape {list(tensor.shape)}, expected {['*' if s is None else s for s in shape]}")


def normalize_2nd_moment(x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    return x * (x.square().mean(dim=1, keepdim=True) + eps).rsqrt()


def fir_kernel(taps=(1, 3, 3, 1)) -> torch.Tensor:
    """The 2-D low-pass filter used for up-sampling, normalised to unit sum."""
    f = torch.as_tensor(taps, dtype=torch.float32)
    f = torch.outer(f, f)
    return f / f.sum()


def upsample2d(x: torch.Tensor, fir: torch.Tensor) -> torch.Tensor:
    """2x up-sampling with a FIR filter (zero insertion + filtering, gain 4): [N,C,H,W] -> [N,C,2H,2W].

    Written as one depthwise transposed convolution; equals upfirdn2d(up=2, pad=[2,1]).
    """
    c = x.shape[1]
    k = (fir * 4).to(x.dtype)[None, None].expand(c, 1, *fir.shape)
    return F.conv_transpose2d(x, k, stride=2, padding=1, groups=c)


def blur2d(x: torch.Tensor, fir: torch.Tensor, pad: int) -> torch.Tensor:
    """Depthwise FIR filtering (true convolution, gain 4) with `pad` zeros on every side."""
    c = x.shape[1]
    k = (fir * 4).flip([0, 1]).to(x.dtype)[None, None].expand(c, 1, *fir.shape)
    return F.conv2d(x, k, padding=pad, groups=c)


def bias_act(x: torch.Tensor, bias: torch.Tensor, activation: str, clamp: float | None) -> torch.Tensor:
    x = x + bias.to(x.dtype).reshape(1, -1, *([1] * (x.ndim - 2)))
    if activation == "lrelu":
        x = F.leaky_relu(x, 0.2) * LRELU_GAIN
    if clamp is not None:
        x = x.clamp(-clamp, clamp)
    return x


class FullyConnected(nn.Module):
    """Equalised-learning-rate linear layer (weights stored raw, gain applied at run time)."""

    def __init__(self, in_features: int, out_features: int, activation: str = "linear",
                 lr_multiplier: float = 1.0, bias_init: float = 0.0):
        super().__init__()
        self.activation = activation
        self.weight = nn.Parameter(torch.randn(out_features, in_features) / lr_multiplier)
        self.bias = nn.Parameter(torch.full([out_features], float(bias_init)))
        self.weight_gain = lr_multiplier / math.sqrt(in_features)
        self.bias_gain = lr_multiplier

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.weight.to(x.dtype) * self.weight_gain
        b = self.bias.to(x.dtype) * self.bias_gain
        if self.activation == "linear":
            return torch.addmm(b.unsqueeze(0), x, w.t())
        return bias_act(x.matmul(w.t()), b, self.activation, None)


class MappingNetwork(nn.Module):
    """z -> w: normalise, `num_layers` leaky-ReLU layers, broadcast to `num_ws`, truncate."""

    def __init__(self, z_dim: int, w_dim: int, num_ws: int, num_layers: int = 8,
                 lr_multiplier: float = 0.01, layer_features: int | None = None):
        super().__init__()
        self.z_dim, self.w_dim, self.num_ws, self.num_layers = z_dim, w_dim, num_ws, num_layers
        features = [z_dim] + [layer_features or w_dim] * (num_layers - 1) + [w_dim]
        for i in range(num_layers):
            setattr(self, f"fc{i}", FullyConnected(features[i], features[i + 1], "lrelu", lr_multiplier))
        self.register_buffer("w_avg", torch.zeros([w_dim]))

    def forward(self, z: torch.Tensor, truncation_psi: float = 1.0, truncation_cutoff: int | None = None):
        assert_shape(z, [None, self.z_dim], "z")
        x = normalize_2nd_moment(z.to(torch.float32))
        for i in range(self.num_layers):
            x = getattr(self, f"fc{i}")(x)
        ws = x.unsqueeze(1).repeat([1, self.num_ws, 1])
        if truncation_psi != 1:
            cutoff = self.num_ws if truncation_cutoff is None else truncation_cutoff
            ws[:, :cutoff] = self.w_avg.lerp(ws[:, :cutoff], truncation_psi)
        return ws


@dataclass(frozen=True)
class StyleLayer:
    """One StyleSpace layer: its name, width, block resolution, kind and which w it reads."""

    name: str
    channels: int
    resolution: int
    is_torgb: bool
    ws_index: int


class SynthesisLayer(nn.Module):
    """Modulated/demodulated 3x3 convolution (optionally 2x up), noise, bias, leaky ReLU, clamp."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, resolution: int,
                 up: int = 1, use_noise: bool = True, conv_clamp: float | None = None, kernel_size: int = 3):
        super().__init__()
        self.in_channels, self.out_channels, self.resolution, self.up = in_channels, out_channels, resolution, up
        self.use_noise, self.conv_clamp, self.padding = use_noise, conv_clamp, kernel_size // 2
        self.affine = FullyConnected(w_dim, in_channels, bias_init=1)
        self.weight = nn.Parameter(torch.randn([out_channels, in_channels, kernel_size, kernel_size]))
        self.bias = nn.Parameter(torch.zeros([out_channels]))
        if use_noise:
            self.register_buffer("noise_const", torch.randn([resolution, resolution]))
            self.noise_strength = nn.Parameter(torch.zeros([]))
        self.register_buffer("resample_filter", fir_kernel(), persistent=False)

    def forward(self, x: torch.Tensor, styles: torch.Tensor, noise_mode: str = "const") -> torch.Tensor:
        n = x.shape[0]
        assert_shape(styles, [n, self.in_channels], "styles")
        weight = self.weight
        styles = styles.to(torch.float32)
        if x.dtype == torch.float16:  # keep fp16 activations in range, as the official code does
            weight = weight * (1 / math.sqrt(weight[0].numel()) / weight.norm(float("inf"), dim=[1, 2, 3], keepdim=True))
            styles = styles / styles.norm(float("inf"), dim=1, keepdim=True)
        dcoefs = (styles.square() @ weight.square().sum(dim=[2, 3]).t() + 1e-8).rsqrt()   # [N, O]
        x = x * styles.to(x.dtype).reshape(n, -1, 1, 1)
        w = weight.to(x.dtype)
        if self.up == 2:
            x = F.conv_transpose2d(x, w.transpose(0, 1), stride=2)
            x = blur2d(x, self.resample_filter, pad=1)
        else:
            x = F.conv2d(x, w, padding=self.padding)
        x = x * dcoefs.to(x.dtype).reshape(n, -1, 1, 1)
        if self.use_noise and noise_mode != "none":
            if noise_mode == "random":
                noise = torch.randn([n, 1, self.resolution, self.resolution], device=x.device, dtype=x.dtype)
            else:
                noise = self.noise_const.to(x.dtype)
            x = x + noise * self.noise_strength.to(x.dtype)
        return bias_act(x, self.bias, "lrelu", self.conv_clamp)


class ToRGBLayer(nn.Module):
    """Modulated 1x1 convolution to RGB, no demodulation."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, conv_clamp: float | None = None):
        super().__init__()
        self.in_channels, self.conv_clamp = in_channels, conv_clamp
        self.affine = FullyConnected(w_dim, in_channels, bias_init=1)
        self.weight = nn.Parameter(torch.randn([out_channels, in_channels, 1, 1]))
        self.bias = nn.Parameter(torch.zeros([out_channels]))
        self.weight_gain = 1 / math.sqrt(in_channels)

    def forward(self, x: torch.Tensor, styles: torch.Tensor) -> torch.Tensor:
        assert_shape(styles, [x.shape[0], self.in_channels], "styles")
        s = (styles.to(torch.float32) * self.weight_gain).to(x.dtype)
        x = F.conv2d(x * s.reshape(x.shape[0], -1, 1, 1), self.weight.to(x.dtype))
        return bias_act(x, self.bias, "linear", self.conv_clamp)


class SynthesisBlock(nn.Module):
    """One resolution: [const | 2x-up conv0], conv1, toRGB added to the up-sampled skip image."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, resolution: int,
                 img_channels: int, use_fp16: bool = False, conv_clamp: float | None = None):
        super().__init__()
        self.in_channels, self.resolution, self.use_fp16 = in_channels, resolution, use_fp16
        if in_channels == 0:
            self.const = nn.Parameter(torch.randn([out_channels, resolution, resolution]))
        else:
            self.conv0 = SynthesisLayer(in_channels, out_channels, w_dim, resolution, up=2, conv_clamp=conv_clamp)
        self.conv1 = SynthesisLayer(out_channels, out_channels, w_dim, resolution, conv_clamp=conv_clamp)
        self.torgb = ToRGBLayer(out_channels, img_channels, w_dim, conv_clamp=conv_clamp)
        self.register_buffer("resample_filter", fir_kernel(), persistent=False)
        self.num_conv = 1 if in_channels == 0 else 2

    @property
    def layer_names(self) -> list[str]:
        return (["conv1"] if self.in_channels == 0 else ["conv0", "conv1"]) + ["torgb"]

    def forward(self, x, img, styles: dict, noise_mode: str = "const", batch_size: int | None = None):
        """`styles`: layer name within this block -> [N, C]. Returns (features, skip image)."""
        on_cuda = self.conv1.weight.device.type == "cuda"
        dtype = torch.float16 if self.use_fp16 and on_cuda else torch.float32  # fp16 only where it is fast
        if self.in_channels == 0:
            x = self.const.to(dtype).unsqueeze(0).repeat([batch_size, 1, 1, 1])
            x = self.conv1(x, styles["conv1"], noise_mode)
        else:
            x = self.conv0(x.to(dtype), styles["conv0"], noise_mode)
            x = self.conv1(x, styles["conv1"], noise_mode)
        y = self.torgb(x, styles["torgb"]).to(torch.float32)
        img = y if img is None else upsample2d(img, self.resample_filter) + y
        return x, img


class SynthesisNetwork(nn.Module):
    """ws or styles -> image, block by block from 4x4 to `img_resolution`."""

    def __init__(self, w_dim: int, img_resolution: int, img_channels: int = 3, channel_base: int = 32768,
                 channel_max: int = 512, num_fp16_res: int = 0, conv_clamp: float | None = None,
                 channels: dict | None = None):
        super().__init__()
        log2 = int(np.log2(img_resolution))
        if img_resolution < 4 or 2 ** log2 != img_resolution:
            raise ValueError(f"img_resolution must be a power of two >= 4, got {img_resolution}")
        self.w_dim, self.img_resolution, self.img_channels = w_dim, img_resolution, img_channels
        self.block_resolutions = [2 ** i for i in range(2, log2 + 1)]
        if channels is None:
            channels = {res: min(channel_base // res, channel_max) for res in self.block_resolutions}
        self.channels = {int(k): int(v) for k, v in channels.items()}
        fp16_resolution = max(2 ** (log2 + 1 - num_fp16_res), 8)
        self.num_ws = 0
        layers = []
        for res in self.block_resolutions:
            in_ch = self.channels[res // 2] if res > 4 else 0
            block = SynthesisBlock(in_ch, self.channels[res], w_dim, res, img_channels,
                                   use_fp16=res >= fp16_resolution, conv_clamp=conv_clamp)
            setattr(self, f"b{res}", block)
            # conv layers read consecutive ws; the toRGB reads the one after them (shared with the next conv0)
            for j, lname in enumerate(block.layer_names[:-1]):
                layers.append(StyleLayer(f"b{res}.{lname}", getattr(block, lname).in_channels, res, False, self.num_ws + j))
            layers.append(StyleLayer(f"b{res}.torgb", block.torgb.in_channels, res, True, self.num_ws + block.num_conv))
            self.num_ws += block.num_conv
        self.num_ws += 1  # the last toRGB
        self.style_layers = layers

    def blocks(self):
        return [getattr(self, f"b{res}") for res in self.block_resolutions]

    def styles(self, ws: torch.Tensor) -> "OrderedDict[str, torch.Tensor]":
        assert_shape(ws, [None, self.num_ws, self.w_dim], "ws")
        out = OrderedDict()
        for layer in self.style_layers:
            block, lname = layer.name.split(".")
            out[layer.name] = getattr(getattr(self, block), lname).affine(ws[:, layer.ws_index].to(torch.float32))
        return out

    def run_blocks(self, styles: dict, noise_mode: str = "const", start: int = 0, stop: int | None = None,
                   x: torch.Tensor | None = None, img: torch.Tensor | None = None):
        """Run blocks[start:stop]; `x`/`img` enter block `start` (None when start == 0)."""
        if noise_mode not in NOISE_MODES:
            raise ValueError(f"noise_mode must be one of {NOISE_MODES}, got {noise_mode!r}")
        blocks = self.blocks()
        stop = len(blocks) if stop is None else stop
        batch = next(iter(styles.values())).shape[0] if x is None else x.shape[0]
        for block in blocks[start:stop]:
            prefix = f"b{block.resolution}."
            block_styles = {name: styles[prefix + name] for name in block.layer_names}
            x, img = block(x, img, block_styles, noise_mode, batch_size=batch)
        return x, img

    def forward_styles(self, styles: dict, noise_mode: str = "const", max_resolution: int | None = None):
        stop = None
        if max_resolution is not None:
            stop = next((i + 1 for i, r in enumerate(self.block_resolutions) if r >= max_resolution), None)
        return self.run_blocks(styles, noise_mode, 0, stop)[1]

    def forward(self, ws: torch.Tensor, noise_mode: str = "const") -> torch.Tensor:
        return self.forward_styles(self.styles(ws), noise_mode)


class Generator(nn.Module):
    """z -> w (mapping) -> image (synthesis). `Generator(**G.config)` builds an untrained copy."""

    def __init__(self, z_dim: int = 512, w_dim: int = 512, img_resolution: int = 1024, img_channels: int = 3,
                 mapping_layers: int = 8, mapping_lr_multiplier: float = 0.01, channel_base: int = 32768,
                 channel_max: int = 512, num_fp16_res: int = 0, conv_clamp: float | None = None,
                 channels: dict | None = None):
        super().__init__()
        self.config = dict(z_dim=z_dim, w_dim=w_dim, img_resolution=img_resolution, img_channels=img_channels,
                           mapping_layers=mapping_layers, mapping_lr_multiplier=mapping_lr_multiplier,
                           channel_base=channel_base, channel_max=channel_max, num_fp16_res=num_fp16_res,
                           conv_clamp=conv_clamp,
                           channels=None if channels is None else {str(k): int(v) for k, v in channels.items()})
        self.z_dim, self.w_dim, self.img_resolution, self.img_channels = z_dim, w_dim, img_resolution, img_channels
        self.synthesis = SynthesisNetwork(w_dim, img_resolution, img_channels, channel_base, channel_max,
                                          num_fp16_res, conv_clamp, channels)
        self.num_ws = self.synthesis.num_ws
        self.mapping = MappingNetwork(z_dim, w_dim, self.num_ws, mapping_layers, mapping_lr_multiplier)
        self.model_id = "untrained"

    @property
    def style_layers(self) -> list[StyleLayer]:
        return self.synthesis.style_layers

    @property
    def w_avg(self) -> torch.Tensor:
        return self.mapping.w_avg

    @property
    def device(self) -> torch.device:
        return self.mapping.w_avg.device

    def styles(self, ws: torch.Tensor) -> "OrderedDict[str, torch.Tensor]":
        return self.synthesis.styles(ws)

    def synthesis_from_styles(self, styles: dict, noise_mode: str = "const", max_resolution: int | None = None):
        missing = [l.name for l in self.style_layers if l.name not in styles]
        if missing:
            raise ValueError(f"styles lack layers {missing[:3]}{'...' if len(missing) > 3 else ''}")
        return self.synthesis.forward_styles(styles, noise_mode, max_resolution)

    def forward(self, z: torch.Tensor, truncation_psi: float = 1.0, noise_mode: str = "const") -> torch.Tensor:
        return self.synthesis(self.mapping(z, truncation_psi=truncation_psi), noise_mode=noise_mode)
