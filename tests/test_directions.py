"""Global directions: the edit formula, the fast precompute against the recipe as written,
the disk cache, cancel/resume, partial results, and errors that write nothing.

Generators: a fixture checkpoint (shapes, names, fast == brute force) and a tiny random
Generator (full builds); CLIP: a tiny randomly initialised open_clip config.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch

import stylepaint
from stylepaint.clip import build as build_clip
from stylepaint.clip import preflight
from stylepaint.directions import (BuildParams, Editor, apply_steps, build, cache_key, cached, edit_shift, run)
from stylepaint.directions.cache import cache_paths
from stylepaint.directions.precompute import image_styles, layer_rows, new_relevance
from stylepaint.directions.reference import brute_force_row
from stylepaint.edits import EditStep
from stylepaint.engine import stylespace
from stylepaint.engine.networks import Generator
from stylepaint.errors import InputError
from conftest import CHECKPOINTS

FIXTURES = CHECKPOINTS
TINY_CLIP = {
    "embed_dim": 24,
    "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "patch_size": 16, "head_width": 16},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1},
}
PARAMS = BuildParams(n_images=3, n_stats=500, seed=3)
BATCH = 96


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    folder = tmp_path_factory.mktemp("home")
    old = os.environ.get("STYLEPAINT_HOME")
    os.environ["STYLEPAINT_HOME"] = str(folder)
    yield folder
    if old is None:
        os.environ.pop("STYLEPAINT_HOME", None)
    else:
        os.environ["STYLEPAINT_HOME"] = old


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    path = tmp_path_factory.mktemp("clip") / "tiny-clip.json"
    path.write_text(json.dumps(TINY_CLIP))
    torch.manual_seed(0)
    return build_clip(preflight(f"{path}:random"))


@pytest.fixture(scope="module")
def tiny_g():
    torch.manual_seed(1)
    G = Generator(z_dim=32, w_dim=32, img_resolution=16, mapping_layers=2, channel_base=64, channel_max=32)
    return G.eval().requires_grad_(False)


@pytest.fixture(scope="module")
def full(home, tiny_g, clip):
    """One uninterrupted, uncached build of the tiny generator's directions."""
    return run(build(tiny_g, clip, PARAMS, batch_size=BATCH, use_cache=False))


@pytest.fixture(scope="module")
def editor(full, tiny_g, clip):
    return Editor(full, clip, tiny_g.img_resolution)


def cache_files(home):
    folder = Path(home) / "cache" / "directions"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


# --- the pure formula ----------------------------------------------------------------------

def test_edit_shift_formula_on_synthetic_tensors():
    r = torch.tensor([0.5, -0.2, 0.05, 0.0, -0.8])
    std = torch.tensor([1.0, 2.0, 3.0, 4.0, 0.5])
    shift, n = edit_shift(r, std, beta=0.1)
    assert n == 3
    assert torch.allclose(shift, torch.tensor([0.5 / 0.8, -0.2 / 0.8 * 2.0, 0.0, 0.0, -1.0 * 0.5]))
    shift, n = edit_shift(r, std, beta=0.0)
    assert n == 4 and torch.equal(shift != 0, r != 0)
    shift, n = edit_shift(r, std, beta=0.81)
    assert n == 0 and not shift.any()
    mask = torch.tensor([True, True, True, True, False])  # the peak channel is excluded
    shift, n = edit_shift(r, std, beta=0.0, mask=mask)
    assert n == 3 and shift[4] == 0 and torch.isclose(shift[0], torch.tensor(1.0))
    with pytest.raises(InputError):
        edit_shift(r, std, beta=-0.1)


# --- the precompute ------------------------------------------------------------------------

def test_fixture_shapes_names_and_rows_match_the_recipe(home, clip):
    G = stylepaint.load_generator(FIXTURES / "sg2ada-32px-fp16-clamp.pkl")
    params = BuildParams(n_images=2, n_stats=500)
    rel = new_relevance(G, clip, params)
    assert rel.layers == [l.name for l in G.style_layers]
    assert rel.layers[:3] == ["b4.conv1", "b4.torgb", "b8.conv0"]
    assert rel.R.shape == (sum(l.channels for l in G.style_layers), clip.embed_dim)
    assert rel.mean.shape == rel.std.shape == (rel.R.shape[0],) and bool((rel.std > 0).all())
    styles0 = image_styles(G, params)
    for name, channels in (("b8.conv1", range(5, 7)), ("b32.conv0", range(1, 2))):
        layer = next(l for l in G.style_layers if l.name == name)
        *_, (_, rows) = list(layer_rows(G, clip, styles0, layer, rel.mean, rel.std, params, 16, channels))
        assert rows.shape == (len(channels), clip.embed_dim)
        for row, c in zip(rows, channels):
            slow = brute_force_row(G, clip, styles0, name, c, rel.mean, rel.std, params)
            assert float(row @ slow) > 0.9999
    assert cache_files(home) == []


def test_build_result_is_complete_with_unit_rows_and_zero_torgb(full, tiny_g, clip):
    assert full.complete
    norms = full.R.norm(dim=1)
    offsets = full.offsets()
    for layer in tiny_g.style_layers:
        start, stop = offsets[layer.name]
        if layer.is_torgb:
            assert not full.R[start:stop].any()
        else:
            assert torch.allclose(norms[start:stop], torch.ones(stop - start), atol=1e-4)
    styles0 = image_styles(tiny_g, PARAMS)
    for name, c in (("b4.conv1", 7), ("b16.conv1", 2)):
        slow = brute_force_row(tiny_g, clip, styles0, name, c, full.mean, full.std, PARAMS)
        assert float(full.R[offsets[name][0] + c] @ slow) > 0.9999


# --- the editor ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def styles(tiny_g):
    with torch.no_grad():
        return tiny_g.styles(tiny_g.mapping(torch.randn(2, tiny_g.z_dim, generator=torch.Generator().manual_seed(5))))


def test_alpha_zero_changes_nothing_and_edit_is_linear_in_alpha(editor, styles):
    d = editor.direction("curly hair", "hair")
    same, n = editor.apply(styles, d, 0.0, 0.05)
    assert n > 0
    for name in styles:
        assert torch.equal(same[name], styles[name])
    base = stylespace.flatten(styles)
    one = stylespace.flatten(editor.apply(styles, d, 1.0, 0.05)[0]) - base
    assert one.abs().max() > 0
    for alpha in (2.5, -3.0):
        moved = stylespace.flatten(editor.apply(styles, d, alpha, 0.05)[0]) - base
        assert torch.allclose(moved, alpha * one, atol=1e-5)


def test_beta_zero_moves_every_relevant_channel_and_high_beta_none(editor, styles, full):
    d = editor.direction("a smiling face")
    r = editor.channel_relevance(d)
    base = stylespace.flatten(styles)
    moved, n = editor.apply(styles, d, 2.0, 0.0)
    changed = (stylespace.flatten(moved) - base).abs().amax(dim=0) > 0
    assert n == int((r != 0).sum()) == int(changed.sum())
    assert n == sum(c for c, t in zip(full.channels, full.torgb) if not t)
    assert torch.equal(changed, r != 0)
    none, n = editor.apply(styles, d, 2.0, float(r.abs().max()) + 1e-3)
    assert n == 0
    assert all(torch.equal(none[k], styles[k]) for k in styles)
    fewer = editor.apply(styles, d, 2.0, float(r.abs().median()))[1]
    assert 0 < fewer < int((r != 0).sum())


def test_layer_groups_restrict_the_edit(editor, styles, tiny_g):
    d = editor.direction("curly hair", "hair")
    for group in ("coarse", "middle", "fine"):
        edited, n = editor.apply(styles, d, 3.0, 0.0, layers=group)
        for layer in tiny_g.style_layers:
            diff = (edited[layer.name] - styles[layer.name]).abs().max()
            inside = stylespace.layer_group(layer, tiny_g.img_resolution) == group and not layer.is_torgb
            assert (diff > 0) == inside, (group, layer.name)
    with pytest.raises(InputError):
        editor.apply(styles, d, 1.0, 0.0, layers="everything")


def test_steps_stack_in_order_and_skip_disabled(editor, styles):
    steps = [EditStep("curly hair", neutral="hair", alpha=2.0, beta=0.05),
             EditStep("glasses", alpha=5.0, beta=0.05, enabled=False),
             {"prompt": "a smiling face", "alpha": -1.5, "beta": 0.02, "layers": "coarse"}]
    out, moved = apply_steps(editor, styles, steps)
    manual, n1 = editor.apply(styles, editor.direction("curly hair", "hair"), 2.0, 0.05)
    manual, n2 = editor.apply(manual, editor.direction("a smiling face"), -1.5, 0.02, "coarse")
    assert moved == [n1, n2]
    for name in styles:
        assert torch.allclose(out[name], manual[name])
    with pytest.raises(InputError):
        editor.direction("   ")


# --- cache, cancel/resume, partial results, errors ------------------------------------------

def test_cache_hit_on_second_build(home, tiny_g, clip, full):
    params = BuildParams(n_images=3, n_stats=500, seed=3)
    first = list(build(tiny_g, clip, params, batch_size=BATCH))
    assert first[-1]["finished"] and not first[-1]["cached"]
    key = cache_key(tiny_g, clip, params)
    assert cache_paths(key)[0].is_file()
    second = list(build(tiny_g, clip, params, batch_size=BATCH))
    assert len(second) == 1 and second[0]["cached"] and second[0]["finished"]
    assert torch.equal(second[0]["relevance"].R, first[-1]["relevance"].R)
    assert torch.allclose(cached(tiny_g, clip, params).R, full.R)
    assert cache_key(tiny_g, clip, BuildParams(n_images=4, n_stats=500, seed=3)) != key


def test_cancel_then_resume_gives_the_uninterrupted_matrix(tmp_path, monkeypatch, tiny_g, clip, full, styles):
    monkeypatch.setenv("STYLEPAINT_HOME", str(tmp_path))  # an empty cache
    params = PARAMS
    key = cache_key(tiny_g, clip, params)
    final, partial = cache_paths(key)
    job = build(tiny_g, clip, params, batch_size=BATCH)
    for info in job:
        if info["layers_done"] >= 2:
            break
    live = info["relevance"]
    assert 2 <= sum(live.done) < sum(not t for t in live.torgb) and not live.complete
    # partial results are usable: only the finished layers move
    ed = Editor(live, clip, tiny_g.img_resolution)
    edited, n = ed.apply(styles, ed.direction("curly hair", "hair"), 3.0, 0.0)
    finished = {name for name, d in zip(live.layers, live.done) if d}
    assert n == sum(c for name, c in zip(live.layers, live.channels) if name in finished)
    for name in styles:
        assert bool((edited[name] != styles[name]).any()) == (name in finished)
    job.close()
    assert partial.is_file() and not final.exists()

    resumed = list(build(tiny_g, clip, params, batch_size=BATCH))
    assert resumed[0]["resumed"] and resumed[0]["done"] > 0
    assert resumed[-1]["finished"] and final.is_file() and not partial.exists()
    assert torch.allclose(resumed[-1]["relevance"].R, full.R, atol=1e-6)  # `full` ran uninterrupted


class FailingClip:
    """A CLIP whose image encoder breaks after a few calls (a crash in the middle of a build)."""

    def __init__(self, clip, calls):
        self._clip, self._left = clip, calls

    def __getattr__(self, name):
        return getattr(self._clip, name)

    def encode_images(self, images):
        self._left -= 1
        if self._left < 0:
            raise RuntimeError("out of memory")
        return self._clip.encode_images(images)


def test_an_error_during_the_build_writes_nothing(tmp_path, monkeypatch, tiny_g, clip):
    monkeypatch.setenv("STYLEPAINT_HOME", str(tmp_path))
    with pytest.raises(RuntimeError):
        run(build(tiny_g, FailingClip(clip, 2), BuildParams(n_images=3, n_stats=500, seed=9), batch_size=BATCH))
    assert cache_files(tmp_path) == []


def test_editor_refuses_directions_from_another_clip(full, tmp_path):
    other = dict(TINY_CLIP, embed_dim=16)
    path = tmp_path / "other.json"
    path.write_text(json.dumps(other))
    with pytest.raises(InputError, match="dimensions"):
        Editor(full, build_clip(preflight(f"{path}:random")), 16)


def test_open_editor_says_not_built_yet_then_uses_any_finished_build(tmp_path, monkeypatch, tiny_g, clip, full):
    from stylepaint.directions import open_editor
    from stylepaint.directions.cache import save_atomic
    from stylepaint.errors import StylepaintError

    monkeypatch.setenv("STYLEPAINT_HOME", str(tmp_path))
    with pytest.raises(StylepaintError, match="not built yet"):
        open_editor(tiny_g, clip)
    assert cache_files(tmp_path) == []
    # a finished build with a non-default recipe (what `directions build --images 3` writes) is found
    key = cache_key(tiny_g, clip, PARAMS)
    assert full.meta["key"] == key
    save_atomic(full, cache_paths(key)[0])
    editor = open_editor(tiny_g, clip)
    assert torch.equal(editor.relevance.R, full.R)


def test_early_stop_is_checked_and_falls_back_to_full_resolution(tmp_path, monkeypatch, tiny_g):
    from stylepaint.directions import precompute

    small = dict(TINY_CLIP, vision_cfg=dict(TINY_CLIP["vision_cfg"], image_size=8, patch_size=4))
    path = tmp_path / "clip8.json"
    path.write_text(json.dumps(small))
    torch.manual_seed(0)
    clip8 = build_clip(preflight(f"{path}:random"))
    assert precompute.stop_block(tiny_g, clip8.input_resolution) == 1  # the 8 px block of a 16 px model
    params = BuildParams(n_images=2, n_stats=300, seed=1)
    styles0 = image_styles(tiny_g, params)
    b16 = next(l for l in tiny_g.style_layers if l.name == "b16.conv0")
    b8 = next(l for l in tiny_g.style_layers if l.name == "b8.conv1")
    results = {}
    for threshold in (2.0, -2.0):  # never / always trust the early stop
        monkeypatch.setattr(precompute, "EARLY_STOP_MIN_COS", threshold)
        rel = run(build(tiny_g, clip8, params, batch_size=BATCH, use_cache=False))
        assert -1.0 <= rel.meta["early_stop_check_cos"] <= 1.0
        assert rel.meta["early_stop_used"] == (threshold < 0)
        results[threshold] = rel
    off = results[2.0].offsets()
    slow = brute_force_row(tiny_g, clip8, styles0, "b8.conv1", 3, results[2.0].mean, results[2.0].std, params)
    assert float(results[2.0].R[off["b8.conv1"][0] + 3] @ slow) > 0.9999          # full resolution
    *_, (_, early) = layer_rows(tiny_g, clip8, styles0, b8, results[2.0].mean, results[2.0].std, params, 16, range(3, 4))
    assert torch.allclose(results[-2.0].R[off["b8.conv1"][0] + 3], early[0], atol=1e-5)   # stopped at 8 px
    # layers above the stop block always run up to their own block
    assert torch.allclose(results[-2.0].rows("b16.conv0"), results[2.0].rows("b16.conv0"), atol=1e-5)
    assert b16.resolution == 16
