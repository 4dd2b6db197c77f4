"""Previews that follow the mouse: a preview is the skip architecture's intermediate RGB (the
very tensor the full network has after that block), and the prefix cache that reuses unchanged
blocks gives the same pixels as a fresh synthesis, bit for bit."""

from __future__ import annotations

from collections import OrderedDict

import pytest
import torch

import stylepaint
from stylepaint.engine import stylespace
from stylepaint.engine.memory_budget import MemoryBudget
from stylepaint.engine.prefix_cache import PrefixCache, cpu_has_bf16, stop_for
from stylepaint.engine.render import Renderer, to_uint8
from conftest import CHECKPOINTS

MODEL = CHECKPOINTS / "sg2ada-64px.pkl"


@pytest.fixture(scope="module")
def G():
    return stylepaint.load_generator(MODEL)


def styles_of(G, seed):
    with torch.inference_mode():
        return G.styles(stylespace.seed_to_ws(G, seed))


def shifted(styles, layer, amount=0.5):
    out = OrderedDict((k, v.clone()) for k, v in styles.items())
    out[layer] = out[layer] + amount
    return out


def intermediate_rgbs(G, styles):
    """The skip image after every block of one full synthesis."""
    x = img = None
    out = []
    with torch.inference_mode():
        for i in range(len(G.synthesis.block_resolutions)):
            x, img = G.synthesis.run_blocks(styles, "const", i, i + 1, x=x, img=img)
            out.append(img.clone())
    return out


def test_preview_is_the_full_networks_intermediate_rgb(G):
    styles = styles_of(G, 1)
    rgbs = intermediate_rgbs(G, styles)
    cache = PrefixCache()
    with torch.inference_mode():
        full = G.synthesis_from_styles(styles)
        for i, res in enumerate(G.synthesis.block_resolutions):
            preview, _ = PrefixCache().synthesize(G, styles, max_resolution=res)
            assert preview.shape[-1] == res and torch.equal(preview, rgbs[i])
            cached, _ = cache.synthesize(G, styles, max_resolution=res)
            assert torch.equal(cached, rgbs[i])
    assert torch.equal(rgbs[-1], full)
    assert stop_for(G, 20) == 4 and stop_for(G, None) == stop_for(G, 4096) == 5


def test_changed_fine_layer_reuses_the_blocks_before_it_and_gives_the_same_pixels(G):
    cache = PrefixCache()
    styles = styles_of(G, 2)
    with torch.inference_mode():
        image, reused = cache.synthesize(G, styles)
        assert reused == 0 and torch.equal(image, G.synthesis_from_styles(styles))
        for layer, expect in (("b32.conv1", 3), ("b64.torgb", 4), ("b8.conv0", 1), ("b4.conv1", 0)):
            styles = shifted(styles, layer)
            image, reused = cache.synthesize(G, styles)
            assert reused == expect, layer
            assert torch.equal(image, G.synthesis_from_styles(styles)), layer
        again, reused = cache.synthesize(G, styles)
        assert reused == 5 and torch.equal(again, image) and again.data_ptr() != image.data_ptr()


def test_release_after_preview_reuses_the_preview_blocks(G):
    cache = PrefixCache()
    styles = shifted(styles_of(G, 3), "b16.conv0")
    with torch.inference_mode():
        _, reused = cache.synthesize(G, styles, max_resolution=32)
        full, reused = cache.synthesize(G, styles)
        assert reused == 4 and torch.equal(full, G.synthesis_from_styles(styles))


def test_before_and_after_pictures_keep_their_own_prefix(G):
    cache = PrefixCache()
    a, b = styles_of(G, 4), styles_of(G, 5)
    with torch.inference_mode():
        cache.synthesize(G, a)
        cache.synthesize(G, b)
        image_a, reused_a = cache.synthesize(G, shifted(a, "b64.conv1"))
        image_b, reused_b = cache.synthesize(G, b)
        assert (reused_a, reused_b) == (4, 5)
        assert torch.equal(image_a, G.synthesis_from_styles(shifted(a, "b64.conv1")))


def test_no_reuse_for_random_noise_or_without_memory(G):
    styles = styles_of(G, 6)
    with torch.inference_mode():
        cache = PrefixCache()
        cache.synthesize(G, styles, "random")
        assert cache.synthesize(G, styles, "random")[1] == 0
        tight = PrefixCache(MemoryBudget(1))                 # nothing fits: nothing stored, same pixels
        tight.synthesize(G, styles)
        image, reused = tight.synthesize(G, styles)
        assert reused == 0 and torch.equal(image, G.synthesis_from_styles(styles))


def test_renderer_previews_and_reuses(G):
    renderer = Renderer(build_directions=False)
    first = renderer.render(model=str(MODEL), seed=7, preview_size=32, precision="fp32")
    assert first["error"] is None and first["image"].shape == (32, 32, 3) and first["metadata"]["preview"]
    with torch.inference_mode():
        expected = intermediate_rgbs(G, styles_of(G, 7))
    assert (first["image"] == to_uint8(expected[3])).all()
    full = renderer.render(model=str(MODEL), seed=7)
    assert full["metadata"]["reused_blocks"] == 4 and not full["metadata"]["preview"]
    assert (full["image"] == to_uint8(expected[4])).all()


def test_worker_drag_then_release_reuses_the_preview_blocks():
    pytest.importorskip("PySide6")
    from stylepaint.gui.worker import RenderWorker

    worker = RenderWorker(render_fn=Renderer(build_directions=False).render, sync=True)
    results = []
    worker.rendered.connect(lambda channel, stamp, result: results.append(result))
    worker.request({"model": str(MODEL), "seed": 8, "preview_size": 32, "precision": "fp32"})   # while dragging
    worker.request({"model": str(MODEL), "seed": 8, "preview_size": None, "precision": "fp32"})  # released
    assert [r["image"].shape[0] for r in results] == [32, 64]
    assert [r["metadata"]["reused_blocks"] for r in results] == [0, 4]


@pytest.mark.skipif(not cpu_has_bf16(), reason="this CPU has no native bfloat16")
def test_bf16_previews_are_close_and_never_leak_into_full_renders(G):
    renderer = Renderer(build_directions=False)
    preview = renderer.render(model=str(MODEL), seed=9, preview_size=32)
    assert preview["metadata"]["precision"] == "bf16"
    with torch.inference_mode():
        styles = styles_of(G, 9)
        exact = intermediate_rgbs(G, styles)
        fast, _ = PrefixCache().synthesize(G, styles, max_resolution=32, precision="bf16")
    assert fast.dtype == torch.float32 and 10 * torch.log10(4 / (fast - exact[3]).square().mean()) > 25
    full = renderer.render(model=str(MODEL), seed=9)
    assert full["metadata"]["precision"] == "fp32" and full["metadata"]["reused_blocks"] == 0
    assert (full["image"] == to_uint8(exact[4])).all()


def test_all_prefixes_together_stay_within_their_share_of_the_budget(G, monkeypatch):
    from stylepaint.engine import prefix_cache

    one = sum(4 * (c * r * r + 3 * r * r) for r, c in G.synthesis.channels.items())   # one picture's blocks
    monkeypatch.setattr(prefix_cache, "CACHE_SHARE", 1.0)
    cache = PrefixCache(MemoryBudget(int(one * 1.5)))
    with torch.inference_mode():
        for seed in (10, 11, 12):
            cache.synthesize(G, styles_of(G, seed))
        stored = sum(prefix_cache._bytes(o) for p in cache._prefixes for o in p.outputs)
        assert 0 < stored <= one * 1.5
        assert cache.synthesize(G, styles_of(G, 12))[1] == 5          # the newest picture is whole
