"""Training presets: generator architecture plus training hyper-parameters.

``default`` is the embedded default model's configuration. Its size was chosen by
``benchmarks/bench_gan_size.py``: at least 128 px and at most 25 ms per image at batch 1 on a
2-core CPU (figures in docs/training.md). ``tiny`` is for tests and smoke runs on CPU.
``CANDIDATES`` are the other sizes that were timed, kept so the benchmark can be re-run.
"""

from __future__ import annotations

import copy

# Training hyper-parameters shared by every preset unless it overrides them.
TRAINING_DEFAULTS = dict(
    batch=32,                 # images per step
    g_lr=0.0025,              # Adam learning rate of G
    d_lr=0.0025,              # Adam learning rate of D
    betas=(0.0, 0.99),        # Adam betas
    r1_gamma=None,            # None: the StyleGAN2-ADA heuristic 0.0002 * R^2 / batch
    r1_interval=16,           # lazy R1 every this many D steps
    pl_weight=0.0,            # path-length regularisation (off)
    pl_interval=4,            # path-length term every this many G steps
    pl_batch_shrink=2,        # its minibatch is batch // pl_batch_shrink
    style_mixing_prob=0.9,    # share of G steps that mix two latents at a random cut
    ema_kimg=10.0,            # EMA half-life of G_ema in thousands of images
    ema_rampup=0.05,          # EMA half-life is at most this fraction of images seen so far
    mbstd_group_size=4,       # D's minibatch-stddev group
    total_kimg=3000,          # training length
    snap_kimg=50,             # checkpoint interval
    seed=0,                   # initial weights, latents, minibatch order, noise
)

PRESETS: dict[str, dict] = {
    # For tests and CPU smoke runs: 16 px, a few thousand parameters.
    "tiny": dict(
        generator=dict(z_dim=32, w_dim=32, img_resolution=16, mapping_layers=2,
                       channel_base=64, channel_max=32),
        training=dict(batch=4, total_kimg=1, snap_kimg=1, ema_kimg=0.01, mbstd_group_size=2),
    ),
    # For tests of the decoder route: the portrait code needs z, w >= 128 (35 coordinates, 91
    # slots, 127 first-layer units); a 32 px synthesis of a few thousand parameters.
    "code-tiny": dict(
        generator=dict(z_dim=128, w_dim=128, img_resolution=32, mapping_layers=2,
                       channel_base=128, channel_max=16),
    ),
    # The embedded default: 128 px; channels 128,128,128,64,32,16 for blocks 4..128.
    "default": dict(
        generator=dict(z_dim=128, w_dim=128, img_resolution=128, mapping_layers=4,
                       channel_base=2048, channel_max=128),
        training=dict(batch=32, total_kimg=3000, snap_kimg=50),
    ),
}

# Other sizes that were timed for the embedded default (benchmarks/bench_gan_size.py --extra).
CANDIDATES: dict[str, dict] = {
    "128-b4096-m128": dict(generator=dict(z_dim=128, w_dim=128, img_resolution=128, mapping_layers=4,
                                          channel_base=4096, channel_max=128)),
    "128-b8192-m128": dict(generator=dict(z_dim=128, w_dim=128, img_resolution=128, mapping_layers=4,
                                          channel_base=8192, channel_max=128)),
    "128-b4096-m256": dict(generator=dict(z_dim=256, w_dim=256, img_resolution=128, mapping_layers=4,
                                          channel_base=4096, channel_max=256)),
    "128-b8192-m256": dict(generator=dict(z_dim=256, w_dim=256, img_resolution=128, mapping_layers=8,
                                          channel_base=8192, channel_max=256)),
    "256-b4096-m128": dict(generator=dict(z_dim=128, w_dim=128, img_resolution=256, mapping_layers=4,
                                          channel_base=4096, channel_max=128)),
}


def get_preset(name: str) -> dict:
    """A deep copy of preset ``name`` with the training defaults filled in."""
    if name not in PRESETS:
        raise KeyError(name)
    preset = copy.deepcopy(PRESETS[name])
    training = dict(TRAINING_DEFAULTS)
    training.update(preset.get("training", {}))
    preset["training"] = training
    return preset
