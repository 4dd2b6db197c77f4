"""The StyleGAN2 generator in plain PyTorch: no C++/CUDA extension, runs on CPU, CUDA and MPS.

Parameters follow the StyleGAN2-ADA convention (raw weights, gains applied at run time), so
official pickles load without renaming; `checkpoints.py` converts rosinality checkpoints into
it. The computation reproduces the official implementation's float32 path (to float32
round-off) and is arranged for speed, above all on CPU:

- a modulated convolution at batch 1 folds styles, demodulation and the activation gain into
  the weight where that is the smaller tensor; otherwise (and for batches) it scales the
  activations and runs one shared-weight convolution, instead of the official per-sample
  grouped convolution;
- bias, noise, demodulation and gain are applied in one pass (or by the convolution itself);
  without autograd, intermediate tensors are updated in place;
- on CPU, activations are channels-last (oneDNN's transposed and depthwise convolutions are
  several times faster so), and the per-layer weight preparation is cached between renders;
- toRGB is one batched matrix product.

StyleSpace: every synthesis layer has an affine map from w to one style per input channel.
`Generator.styles(ws)` returns them by name (``b4.conv1``, ``b4.torgb``, ``b8.conv0``, ...),
and `synthesis_from_styles` renders from them, so edits in S need no other entry point.
"""

from __future__ import annotations

import contextlib
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


def _depthwise_fir(fir: torch.Tensor, channels: int, dtype: torch.dtype, flip: bool) -> torch.Tensor:
    """The FIR filter with gain 4 as a depthwise conv weight [C, 1, kh, kw]."""
    k = fir * 4
    if flip:
        k = k.flip([0, 1])
    return k.to(dtype)[None, None].expand(channels, 1, *fir.shape)


def upsample2d(x: torch.Tensor, fir: torch.Tensor) -> torch.Tensor:
    """2x up-sampling with a FIR filter (zero insertion + filtering, gain 4): [N,C,H,W] -> [N,C,2H,2W].

    Written as one depthwise transposed convolution; equals upfirdn2d(up=2, pad=[2,1]).
    """
    c = x.shape[1]
    return F.conv_transpose2d(x, _depthwise_fir(fir, c, x.dtype, flip=False), stride=2, padding=1, groups=c)


def blur2d(x: torch.Tensor, fir: torch.Tensor, pad: int, bias: torch.Tensor | None = None) -> torch.Tensor:
    """Depthwise FIR filtering (true convolution, gain 4) with `pad` zeros on every side, plus an
    optional per-channel `bias` (added by the convolution itself, no extra pass)."""
    c = x.shape[1]
    return F.conv2d(x, _depthwise_fir(fir, c, x.dtype, flip=True), bias, padding=pad, groups=c)


def _lrelu_clamp(x: torch.Tensor, clamp: float | None, inplace: bool) -> torch.Tensor:
    """Leaky ReLU (slope 0.2) and optional clamp; the sqrt(2) gain is already folded into `x`
    (lrelu(g * v) = g * lrelu(v) for g > 0)."""
    x = F.leaky_relu(x, 0.2, inplace=inplace)
    if clamp is not None:
        x = x.clamp_(-clamp, clamp) if inplace else x.clamp(-clamp, clamp)
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
        # gains scale the [N, out] result (addmm's alpha/beta), not the [out, in] weight
        gain = LRELU_GAIN if self.activation == "lrelu" else 1.0
        b = self.bias.to(x.dtype)
        x = torch.addmm(b.unsqueeze(0), x, self.weight.to(x.dtype).t(),
                        beta=self.bias_gain * gain, alpha=self.weight_gain * gain)
        if self.activation == "lrelu":
            x = F.leaky_relu(x, 0.2, inplace=not torch.is_grad_enabled())
        return x


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
        self._prepared = (None, None)   # inference-only cache, see `_weights`

    def _weights(self, dtype: torch.dtype, fmt: torch.memory_format) -> tuple[torch.Tensor, torch.Tensor]:
        """(sum over the kernel of weight², [O, I]; the weight as the convolution wants it: in `dtype`
        and `fmt`, transposed to [I, O, k, k] for the up-sampling layer).

        Without autograd both are cached until the weight changes (its storage or version), so
        rendering does not redo them every frame; with autograd they are computed in the graph.
        Inference tensors (weights loaded under `torch.inference_mode`) have no version counter:
        for them only the storage is checked.
        """
        weight = self.weight
        version = -1 if weight.is_inference() else weight._version
        key = (weight.data_ptr(), version, weight.device, dtype, fmt)
        cacheable = not torch.is_grad_enabled()
        if cacheable and self._prepared[0] == key:
            return self._prepared[1]
        with torch.inference_mode(False), torch.no_grad() if cacheable else contextlib.nullcontext():
            wsq = weight.square().sum(dim=[2, 3])
            w = weight.transpose(0, 1) if self.up == 2 else weight
            w = w.to(dtype).contiguous(memory_format=fmt)
        if cacheable:
            self._prepared = (key, (wsq, w))
        return wsq, w

    def forward(self, x: torch.Tensor, styles: torch.Tensor, noise_mode: str = "const") -> torch.Tensor:
        """Same arithmetic as the official modulated_conv2d + bias_act, in one of two forms:

        - batch 1, where the [O, I, k, k] weight is smaller than the activations (the high
          resolutions): styles, demodulation and the activation gain are folded into the weight,
          the bias into the convolution, and only the noise is added to its output;
        - otherwise: activations are scaled per sample, one shared-weight convolution runs for
          the whole batch (faster on CPU than the official per-sample grouped convolution), and
          demodulation + noise + bias go into one pass over the output.

        The leaky ReLU's sqrt(2) gain is folded into those scales. Without autograd, the
        convolution output is updated in place.
        """
        n = x.shape[0]
        assert_shape(styles, [n, self.in_channels], "styles")
        inplace = not torch.is_grad_enabled()
        x, fmt = _preferred_layout(x)
        styles = styles.to(torch.float32)
        if x.dtype == torch.float16:  # keep fp16 activations in range, as the official code does
            weight = self.weight
            weight = weight * (1 / math.sqrt(weight[0].numel()) / weight.norm(float("inf"), dim=[1, 2, 3], keepdim=True))
            styles = styles / styles.norm(float("inf"), dim=1, keepdim=True)
            wsq, w_conv = weight.square().sum(dim=[2, 3]), None
        else:
            weight = self.weight
            wsq, w_conv = self._weights(x.dtype, fmt)
        dcoefs = (styles.square() @ wsq.t() + 1e-8).rsqrt()                           # [N, O]
        noise = None
        if self.use_noise and noise_mode != "none":
            if noise_mode == "random":
                noise = torch.randn([n, 1, self.resolution, self.resolution], device=x.device, dtype=x.dtype)
            else:
                noise = self.noise_const.to(x.dtype)
            noise = noise * (self.noise_strength.to(x.dtype) * LRELU_GAIN)
        bias = (self.bias * LRELU_GAIN).to(x.dtype)

        # batch 1: fold styles, demodulation and gain into the weight when the weight is the
        # smaller tensor to scale (high resolutions); otherwise scale the activations
        if n == 1 and weight.numel() <= x.numel():
            scale = (dcoefs * LRELU_GAIN).reshape(-1, 1) * styles.reshape(1, -1)            # [O, I]
            if self.up == 2:
                w = weight.transpose(0, 1), scale.t()[:, :, None, None]                    # [I, O, k, k]
            else:
                w = weight, scale[:, :, None, None]
            if inplace and x.dtype == torch.float32:   # write the product straight in the conv's layout
                w = torch.mul(*w, out=torch.empty(w[0].shape, dtype=x.dtype, device=x.device, memory_format=fmt))
            else:
                w = torch.mul(*w).to(x.dtype).contiguous(memory_format=fmt)
            if self.up == 2:
                x = blur2d(F.conv_transpose2d(x, w, stride=2), self.resample_filter, pad=1, bias=bias)
            else:
                x = F.conv2d(x, w, bias, padding=self.padding)
            if noise is not None:
                x = x.add_(noise) if inplace else x + noise
            return _lrelu_clamp(x, self.conv_clamp, inplace)

        x = x * styles.to(x.dtype).reshape(n, -1, 1, 1)
        if w_conv is None:
            w_conv = weight.transpose(0, 1) if self.up == 2 else weight
            w_conv = w_conv.to(x.dtype)
        if self.up == 2:
            x = blur2d(F.conv_transpose2d(x, w_conv, stride=2), self.resample_filter, pad=1)
        else:
            x = F.conv2d(x, w_conv, padding=self.padding)
        offset = bias.reshape(1, -1, 1, 1)
        if noise is not None:  # noise + bias as one [1 or N, O, H, W] tensor, laid out like x
            shape = list(torch.broadcast_shapes(offset.shape, noise.shape))
            if inplace:
                offset = torch.add(offset, noise, out=torch.empty(shape, dtype=x.dtype, device=x.device, memory_format=fmt))
            else:
                offset = offset + noise
        scale = (dcoefs * LRELU_GAIN).to(x.dtype).reshape(n, -1, 1, 1)
        x = torch.addcmul(offset, x, scale, out=x) if inplace else torch.addcmul(offset, x, scale)
        return _lrelu_clamp(x, self.conv_clamp, inplace)


def _preferred_layout(x: torch.Tensor) -> tuple[torch.Tensor, torch.memory_format]:
    """Activations in the memory layout the convolutions run fastest on, and that layout.

    On CPU that is channels-last: oneDNN's transposed and depthwise convolutions are several
    times faster on it, its plain ones no slower. Every layer converts its input (a no-op inside
    a synthesis pass), so any caller -- feature blending included -- gets bit-identical results.
    """
    if x.device.type == "cpu":
        return x.contiguous(memory_format=torch.channels_last), torch.channels_last
    return x, torch.contiguous_format


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
        """A batched matrix product: per sample, the [O, C] weight scaled by the styles times the
        [C, H*W] activations, plus the bias (no modulated copy of the activations)."""
        n, c, h, w = x.shape
        assert_shape(styles, [n, self.in_channels], "styles")
        x = _preferred_layout(x)[0]
        s = (styles.to(torch.float32) * self.weight_gain).to(x.dtype)
        weight = self.weight.to(x.dtype).reshape(1, -1, c) * s.reshape(n, 1, c)      # [N, O, C]
        bias = self.bias.to(x.dtype).reshape(1, -1, 1)
        y = torch.baddbmm(bias, weight, _flat_spatial(x)).reshape(n, -1, h, w)
        if self.conv_clamp is not None:
            y = y.clamp_(-self.conv_clamp, self.conv_clamp) if not torch.is_grad_enabled() else \
                y.clamp(-self.conv_clamp, self.conv_clamp)
        return y


def _flat_spatial(x: torch.Tensor) -> torch.Tensor:
    """[N, C, H, W] -> [N, C, H*W], a view for contiguous and channels-last tensors alike."""
    if not x.is_contiguous() and x.is_contiguous(memory_format=torch.channels_last):
        return x.permute(0, 2, 3, 1).flatten(1, 2).transpose(1, 2)
    return x.flatten(2)


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
        device = self.conv1.weight.device.type
        dtype = torch.float16 if self.use_fp16 and device == "cuda" else torch.float32  # fp16 only where it is fast
        if self.in_channels == 0:
            x = self.const.to(dtype).unsqueeze(0).expand([batch_size, -1, -1, -1])  # read-only: no copy
            x = self.conv1(x, styles["conv1"], noise_mode)
        else:
            x = self.conv0(x.to(dtype), styles["conv0"], noise_mode)
            x = self.conv1(x, styles["conv1"], noise_mode)
        y = self.torgb(x, styles["torgb"]).to(torch.float32)
        if img is not None:
            img = upsample2d(img, self.resample_filter)
            y = img.add_(y) if not torch.is_grad_enabled() else img + y
        return x, y


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
