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


def _picture(renderer, model, clip, **kw):
    res = renderer.render(model=model, clip=clip, **kw)
    assert res["error"] is None, res["error"]
    return res


@pytest.mark.parametrize("space", ["w+", "s"])
def test_morph_at_one_is_face_b_as_saved_and_at_zero_the_current_picture(renderer, tiny_model_file, tiny_clip_spec,
                                                                        space):
    """Issue 14, item 6: both spaces end exactly on the target picture (with its own edits)."""
    a_edits = [EditStep("smiling", alpha=6.0, beta=0.0).to_dict()]
    b_edits = [EditStep("curly hair", alpha=-7.0, beta=0.0).to_dict()]
    face_b = _picture(renderer, tiny_model_file, tiny_clip_spec, seed=7, truncation=0.7, edits=b_edits)
    ws_b = face_b["metadata"]["ws"]
    current = _picture(renderer, tiny_model_file, tiny_clip_spec, seed=2, truncation=0.7, edits=a_edits)
    images = {}
    for t in (0.0, 0.5, 1.0):
        morph = {"ws_b": ws_b, "edits_b": b_edits, "t": t, "space": space}
        images[t] = _picture(renderer, tiny_model_file, tiny_clip_spec, seed=2, truncation=0.7, edits=a_edits,
                             morph=morph)["image"]
    assert np.array_equal(images[1.0], face_b["image"])
    assert np.array_equal(images[0.0], current["image"])
    assert not np.array_equal(images[0.5], images[0.0]) and not np.array_equal(images[0.5], images[1.0])


def test_pinned_shifts_render_as_saved_when_the_directions_change(renderer, tiny_model_file, tiny_clip_spec):
    """Issue 14, item 7: a render reports the shifts it used; given back as ``pinned`` they give
    the same picture after the directions changed (a partial build that finished)."""
    import copy

    from stylepaint.directions import Editor

    edits = [EditStep("smiling", alpha=6.0, beta=0.0).to_dict(), EditStep("old", alpha=3.0, beta=0.0).to_dict()]
    saved = _picture(renderer, tiny_model_file, tiny_clip_spec, seed=3, edits=edits)
    shifts = saved["metadata"]["shifts"]
    assert set(shifts) == {EditStep.from_dict(e).direction_key() for e in edits}
    G = renderer.generator(tiny_model_file, "cpu")
    editor = renderer.editor(G, tiny_clip_spec)
    rel = copy.deepcopy(editor.relevance)
    rel.R = rel.R.flip(0)                                   # other directions, as after the build finished
    renderer.set_editor(G, tiny_clip_spec, Editor(rel, editor.text, G.img_resolution, editor.default_neutral))
    try:
        moved = _picture(renderer, tiny_model_file, tiny_clip_spec, seed=3, edits=edits)
        pinned = _picture(renderer, tiny_model_file, tiny_clip_spec, seed=3, edits=edits, pinned=shifts)
    finally:
        renderer.set_editor(G, tiny_clip_spec, editor)
    assert not np.array_equal(moved["image"], saved["image"])
    assert np.array_equal(pinned["image"], saved["image"])
    # every edit pinned: no directions needed at all
    bare = Renderer(build_directions=False)
    alone = bare.render(model=tiny_model_file, clip="no-such-clip", seed=3, edits=edits, pinned=shifts)
    assert alone["error"] is None and np.array_equal(alone["image"], saved["image"])
