"""StyleGAN2 residual discriminator in plain PyTorch, sized from the generator's resolution.

Equalized learning rate (weights stored at unit variance and scaled at run time), FIR
blur before every stride-2 convolution, residual blocks ``(x + skip) / sqrt(2)``, and an
epilogue at 4x4 with the minibatch standard-deviation feature (Karras et al. 2020).
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

LRELU_SLOPE = 0.2
LRELU_GAIN = math.sqrt(2.0)


def channels_at(resolution: int, channel_base: int, channel_max: int) -> int:
    """The StyleGAN2 channel rule: ``min(channel_base // resolution, channel_max)``."""
    return max(1, min(channel_base // resolution, channel_max))


class Blur(nn.Module):
    """Depthwise [1, 3, 3, 1] low-pass filter with explicit padding, applied before down-sampling."""

    def __init__(self, pad: tuple[int, int]):
        super().__init__()
        taps = torch.tensor([1.0, 3.0, 3.0, 1.0])
        kernel = taps[:, None] * taps[None, :]
        self.register_buffer("kernel", kernel / kernel.sum(), persistent=False)
        self.pad = pad

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        channels = x.shape[1]
        x = F.pad(x, (self.pad[0], self.pad[1], self.pad[0], self.pad[1]))
        weight = self.kernel.to(x.dtype)[None, None].expand(channels, 1, 4, 4)
        return F.conv2d(x, weight, groups=channels)


class EqualConv2d(nn.Module):
    """Conv with equalized learning rate, optional 2x down-sampling and leaky-ReLU."""

    def __init__(
        self,
        in_channels: int,       # input feature channels
        out_channels: int,      # output feature channels
        kernel_size: int,       # square kernel width
        down: bool = False,     # blur then stride-2 convolution
        bias: bool = True,      # learnable per-channel bias
        activate: bool = True,  # leaky-ReLU with gain sqrt(2)
    ):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.scale = 1.0 / math.sqrt(in_channels * kernel_size * kernel_size)
        self.down = down
        self.activate = activate
        if down:
            p = (4 - 2) + (kernel_size - 1)
            self.blur = Blur(((p + 1) // 2, p // 2))
            self.padding = 0
        else:
            self.blur = None
            self.padding = kernel_size // 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.blur is not None:
            x = self.blur(x)
        weight = self.weight * self.scale
        x = F.conv2d(x, weight.to(x.dtype), stride=2 if self.down else 1, padding=self.padding)
        if self.bias is not None:
            x = x + self.bias.to(x.dtype)[None, :, None, None]
        if self.activate:
            x = F.leaky_relu(x, LRELU_SLOPE) * LRELU_GAIN
        return x


class EqualLinear(nn.Module):
    """Fully connected layer with equalized learning rate and optional leaky-ReLU."""

    def __init__(self, in_features: int, out_features: int, activate: bool = True):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features))
        self.bias = nn.Parameter(torch.zeros(out_features))
        self.scale = 1.0 / math.sqrt(in_features)
        self.activate = activate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.linear(x, (self.weight * self.scale).to(x.dtype), self.bias.to(x.dtype))
        if self.activate:
            x = F.leaky_relu(x, LRELU_SLOPE) * LRELU_GAIN
        return x


class ResBlock(nn.Module):
    """Two 3x3 convolutions (the second halves the resolution) plus a 1x1 down-sampling skip."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.conv0 = EqualConv2d(in_channels, in_channels, 3)
        self.conv1 = EqualConv2d(in_channels, out_channels, 3, down=True)
        self.skip = EqualConv2d(in_channels, out_channels, 1, down=True, bias=False, activate=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.skip(x)
        x = self.conv1(self.conv0(x))
        return (x + y) * (1.0 / math.sqrt(2.0))


def minibatch_stddev(x: torch.Tensor, group_size: int, num_channels: int = 1) -> torch.Tensor:
    """Append ``num_channels`` feature maps holding the std of features across each group."""
    n, c, h, w = x.shape
    g = min(group_size, n)
    while n % g:  # the largest group size that divides the batch
        g -= 1
    f = num_channels
    y = x.float().reshape(g, -1, f, c // f, h, w)
    y = y - y.mean(dim=0)
    y = (y.square().mean(dim=0) + 1e-8).sqrt()
    y = y.mean(dim=[2, 3, 4]).reshape(-1, f, 1, 1)
    y = y.repeat(g, 1, h, w).to(x.dtype)
    return torch.cat([x, y], dim=1)


class Discriminator(nn.Module):
    """StyleGAN2 residual discriminator: fromRGB, residual blocks down to 4x4, epilogue."""

    def __init__(
        self,
        img_resolution: int,          # input width/height, a power of two >= 8
        img_channels: int = 3,        # colour channels of the input
        channel_base: int = 16384,    # channels = min(channel_base // resolution, channel_max)
        channel_max: int = 256,       # widest feature map
        mbstd_group_size: int = 4,    # samples per minibatch-stddev group
        mbstd_num_channels: int = 1,  # feature maps the minibatch-stddev layer adds
    ):
        super().__init__()
        log2 = int(math.log2(img_resolution))
        if img_resolution < 8 or 2**log2 != img_resolution:
            raise ValueError(f"img_resolution must be a power of two >= 8, not {img_resolution}")
        self.config = dict(
            img_resolution=img_resolution,
            img_channels=img_channels,
            channel_base=channel_base,
            channel_max=channel_max,
            mbstd_group_size=mbstd_group_size,
            mbstd_num_channels=mbstd_num_channels,
        )
        self.img_resolution = img_resolution
        self.img_channels = img_channels
        self.mbstd_group_size = mbstd_group_size
        self.mbstd_num_channels = mbstd_num_channels

        def ch(res: int) -> int:
            return channels_at(res, channel_base, channel_max)

        self.from_rgb = EqualConv2d(img_channels, ch(img_resolution), 1)
        self.blocks = nn.ModuleDict()
        res = img_resolution
        while res > 4:
            self.blocks[f"b{res}"] = ResBlock(ch(res), ch(res // 2))
            res //= 2
        c4 = ch(4)
        self.conv = EqualConv2d(c4 + mbstd_num_channels, c4, 3)
        self.fc = EqualLinear(c4 * 16, c4)
        self.out = EqualLinear(c4, 1, activate=False)

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        """Images [N, C, R, R] (about [-1, 1]) -> logits [N]."""
        n, c, h, w = img.shape
        assert (c, h, w) == (self.img_channels, self.img_resolution, self.img_resolution), img.shape
        x = self.from_rgb(img)
        for block in self.blocks.values():
            x = block(x)
        x = minibatch_stddev(x, self.mbstd_group_size, self.mbstd_num_channels)
        x = self.conv(x)
        x = self.fc(x.flatten(1))
        return self.out(x).squeeze(1).float()


def discriminator_config(generator_config: dict, **overrides) -> dict:
    """Discriminator arguments matched to a generator's architecture (resolution and widths)."""
    config = dict(
        img_resolution=int(generator_config["img_resolution"]),
        img_channels=int(generator_config.get("img_channels", 3)),
        channel_base=int(generator_config.get("channel_base", 16384)),
        channel_max=int(generator_config.get("channel_max", 256)),
    )
    config.update(overrides)
    return config
