"""SOAT feature blending: masks select A or B exactly where they are 0 or 1."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import stylepaint
from stylepaint.engine.blending import blend_streams, blend_synthesis
from stylepaint.engine.render import Renderer


@pytest.fixture(scope="module")
def pair(fixture_dir):
    G = stylepaint.load_generator(fixture_dir / "sg2ada-64px.pkl")
    gen = torch.Generator().manual_seed(3)
    with torch.no_grad():
        sa = G.styles(G.mapping(torch.randn(1, G.z_dim, generator=gen)))
        sb = G.styles(G.mapping(torch.randn(1, G.z_dim, generator=gen)))
        a, b = G.synthesis_from_styles(sa), G.synthesis_from_styles(sb)
    return G, sa, sb, a, b


def test_zeros_gives_a_and_ones_gives_b(pair):
    G, sa, sb, a, b = pair
    r = G.img_resolution
    with torch.no_grad():
        assert torch.equal(blend_synthesis(G, sa, sb, torch.zeros(1, 1, r, r)), a)
        assert torch.equal(blend_synthesis(G, sa, sb, torch.ones(1, 1, r, r)), b)


def test_left_right_mask(pair):
    G, sa, sb, a, b = pair
    r = G.img_resolution
    mask = torch.zeros(1, 1, r, r)
    mask[..., r // 2:] = 1
    with torch.no_grad():
        out = blend_synthesis(G, sa, sb, mask, from_layer="b16.conv0")
    m = r // 4
    assert torch.allclose(out[..., : r // 2 - m], a[..., : r // 2 - m], atol=1e-5)
    assert torch.allclose(out[..., r // 2 + m:], b[..., r // 2 + m:], atol=1e-5)
    # and the seam really is a mixture: neither image alone
    assert not torch.allclose(out, a, atol=1e-3) and not torch.allclose(out, b, atol=1e-3)


def test_mask_resolution_is_free_and_streams_stack(pair):
    G, sa, sb, a, b = pair
    with torch.no_grad():
        low = blend_synthesis(G, sa, sb, torch.ones(1, 1, 7, 9))  # any mask size is resized per block
        assert torch.equal(low, b)
        out = blend_streams(G, sa, [(sb, torch.ones(1, 1, 8, 8)), (sa, torch.zeros(1, 1, 8, 8))])
        assert torch.equal(out, b)
    with pytest.raises(ValueError, match="unknown layer"):
        blend_synthesis(G, sa, sb, torch.ones(1, 1, 8, 8), from_layer="b999.conv0")


def test_render_blend_left_right(fixture_dir):
    r = Renderer()
    model = str(fixture_dir / "sg2ada-64px.pkl")
    a = r.render(model=model, seed=1)["image"]
    b = r.render(model=model, seed=2)["image"]
    mask = np.zeros((64, 64), np.float32)
    mask[:, 32:] = 1
    res = r.render(model=model, seed=1, blend={"seed_b": 2, "mask": mask, "from_layer": "b16.conv0"})
    assert res["error"] is None
    out = res["image"].astype(int)
    assert np.abs(out[:, :16] - a[:, :16]).max() <= 1
    assert np.abs(out[:, 48:] - b[:, 48:]).max() <= 1
