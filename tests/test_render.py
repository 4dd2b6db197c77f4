"""The render entry point: plain args in, {image, error, timings, metadata} out, never raising."""

from __future__ import annotations

import numpy as np
import pytest

from stylepaint.directions import BuildParams
from stylepaint.edits import EditStep
from stylepaint.engine.render import Renderer


@pytest.fixture(scope="module")
def renderer():
    return Renderer(direction_params=BuildParams(n_images=3, n_stats=300, seed=1))


def test_plain_render_and_metadata(renderer, tiny_model_file):
    res = renderer.render(model=tiny_model_file, seed=4, truncation=0.7)
    assert res["error"] is None
    assert res["image"].shape == (16, 16, 3) and res["image"].dtype == np.uint8
    meta = res["metadata"]
    assert meta["resolution"] == 16 and meta["ws"].shape == (meta["num_ws"], 32)
    assert res["timings"]["total_ms"] >= res["timings"]["synthesis_ms"] > 0
    again = renderer.render(model=tiny_model_file, seed=4, truncation=0.7)
    assert np.array_equal(again["image"], res["image"])
    assert renderer.render(model=tiny_model_file, ws=meta["ws"])["image"].tolist() == res["image"].tolist()


def test_edits_alpha_zero_changes_nothing_and_alpha_moves_pixels(renderer, tiny_model_file, tiny_clip_spec):
    plain = renderer.render(model=tiny_model_file, seed=2)["image"]
    zero = renderer.render(model=tiny_model_file, seed=2, clip=tiny_clip_spec,
                           edits=[EditStep("smiling", alpha=0.0, beta=0.0).to_dict()])
    assert zero["error"] is None, zero["error"]
    assert np.array_equal(zero["image"], plain)
    moved = renderer.render(model=tiny_model_file, seed=2, clip=tiny_clip_spec,
                            edits=[EditStep("smiling", alpha=8.0, beta=0.0).to_dict()])
    assert moved["metadata"]["channels_moved"][0] > 0
    assert not np.array_equal(moved["image"], plain)
    fewer = renderer.render(model=tiny_model_file, seed=2, clip=tiny_clip_spec,
                            edits=[EditStep("smiling", alpha=8.0, beta=0.5).to_dict()])
    assert fewer["metadata"]["channels_moved"][0] < moved["metadata"]["channels_moved"][0]


@pytest.fixture(scope="module")
def clip64_spec(tmp_path_factory) -> str:
    """The tiny CLIP with a 64 px input, the fixture generator's own size (no early-stop question)."""
    import copy
    import json

    from conftest import TINY_CLIP_CONFIG

    config = copy.deepcopy(TINY_CLIP_CONFIG)
    config["vision_cfg"]["image_size"] = 64
    path = tmp_path_factory.mktemp("clip64") / "tiny-clip-64.json"
    path.write_text(json.dumps(config))
    return f"{path}:random"


def test_region_edit_stays_inside_its_mask(fixture_dir, clip64_spec):
    r = Renderer(direction_params=BuildParams(n_images=2, n_stats=200, seed=1))
    model = str(fixture_dir / "sg2ada-64px.pkl")
    plain = r.render(model=model, seed=1)["image"].astype(float)
    mask = np.zeros((64, 64), np.float32)
    mask[16:48, 16:48] = 1
    res = r.render(model=model, seed=1, clip=clip64_spec, masks={"m": mask}, heatmap=True,
                   edits=[EditStep("red hair", alpha=10.0, beta=0.0, mask="m").to_dict()])
    assert res["error"] is None, res["error"]
    diff = np.abs(res["image"].astype(float) - plain).mean(axis=2)
    inside, outside = diff[mask > 0].mean(), diff[mask == 0].mean()
    print(f"region edit: mean change inside {inside:.2f}, outside {outside:.2f} ({inside / outside:.1f}x)")
    assert inside > 5 * outside
    far = np.ones_like(mask, bool)
    far[12:52, 12:52] = False              # more than the feather (1 px at 64 px) away from the region
    assert diff[far].max() == 0
    assert res["metadata"]["heatmap"].shape == (64, 64)


@pytest.mark.parametrize("args,needle", [
    (dict(model="/no/such/model.pkl"), "no such file"),
    (dict(device="banana"), "unknown device"),
    (dict(ws=np.zeros((2, 2))), "latent has shape"),
    (dict(edits=[{"prompt": "x", "mask": "nowhere"}]), "region mask"),
    (dict(edits=[{"prompt": "   "}]), "non-empty prompt"),
])
def test_bad_input_comes_back_as_an_error(renderer, tiny_model_file, args, needle):
    res = renderer.render(**{"model": tiny_model_file, **args})
    assert res["image"] is None and needle in res["error"]


def test_preview_size_renders_smaller(renderer, fixture_dir):
    res = renderer.render(model=str(fixture_dir / "sg2ada-64px.pkl"), seed=0, preview_size=32)
    assert res["image"].shape == (32, 32, 3) and res["metadata"]["preview"]


def test_a_generator_loaded_by_render_works_under_autograd(tiny_model_file):
    """Photo inversion optimises through the renderer's cached generator (issue 14, item 1): the
    weights that render() loaded must not be inference tensors."""
    import torch

    fresh = Renderer(build_directions=False)
    assert fresh.render(model=tiny_model_file, seed=1)["error"] is None
    G = fresh.generator(tiny_model_file, "cpu")
    assert not any(p.is_inference() for p in G.parameters())
    ws = torch.zeros([1, G.num_ws, G.w_dim], requires_grad=True)
    G.synthesis(ws).square().mean().backward()
    assert ws.grad is not None and float(ws.grad.abs().sum()) > 0
