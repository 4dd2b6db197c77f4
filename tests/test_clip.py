"""CLIP specs, preflight errors, loading, torch preprocessing and the text cache.

Models are tiny randomly initialised open_clip configs (``arch.json:random``) or files saved
from them; nothing is ever downloaded.
"""

from __future__ import annotations

import json
import time

import open_clip  # noqa: F401  (imported up front: the timings below measure preflight, not imports)
import pytest
import torch

from stylepaint.clip import ClipModel, build, load_clip, parse_spec, preflight, to_clip_input
from stylepaint.errors import ClipError, InputError

TINY = {
    "embed_dim": 24,
    "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "patch_size": 16, "head_width": 16},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1},
}


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("STYLEPAINT_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


@pytest.fixture
def tiny_config(tmp_path):
    path = tmp_path / "tiny-clip.json"
    path.write_text(json.dumps(TINY))
    return path


@pytest.fixture
def tiny(tiny_config):
    torch.manual_seed(0)
    return load_clip(f"{tiny_config}:random")


def files_under(folder):
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


# --- specs -----------------------------------------------------------------------------------

@pytest.mark.parametrize("spec, expected", [
    ("portrait-clip", ("portrait-clip", None)),
    ("ViT-B-32:openai", ("ViT-B-32", "openai")),
    ("ViT-B-32:/tmp/w.pt", ("ViT-B-32", "/tmp/w.pt")),
    ("/a/arch.json:/b/w.pt", ("/a/arch.json", "/b/w.pt")),
    ("C:\\models\\arch.json:random", ("C:\\models\\arch.json", "random")),
    ("hf-hub:laion/CLIP-ViT-B-32", ("hf-hub:laion/CLIP-ViT-B-32", None)),
])
def test_parse_spec(spec, expected):
    assert parse_spec(spec) == expected


# --- preflight: clear errors, fast, nothing written ---------------------------------------------

@pytest.mark.parametrize("spec, words", [
    ("", ["no CLIP model"]),
    ("   ", ["no CLIP model"]),
    ("ViT-B-33:openai", ["unknown CLIP model", "ViT-B-32"]),
    ("no-such-clip", ["unknown CLIP model"]),
    ("ViT-B-32", ["say which weights", "openai"]),
    ("ViT-B-32:no_such_tag", ["no pretrained tag", "no_such_tag"]),
    ("ViT-B-32:/no/such/weights.pt", ["missing", "/no/such/weights.pt"]),
    ("ViT-B-32:openai", ["not downloaded"]),
    ("hf-hub:laion/CLIP-ViT-B-32-laion2B-s34B-b79K", ["not downloaded"]),
])
def test_preflight_errors_are_clear_fast_and_write_nothing(spec, words, home):
    start = time.perf_counter()
    with pytest.raises(ClipError) as err:
        preflight(spec)
    assert time.perf_counter() - start < 2.0
    for word in words:
        assert word in str(err.value)
    assert files_under(home) == []


def test_missing_local_files(tiny_config, tmp_path):
    with pytest.raises(ClipError, match="weights file .* is missing"):
        preflight(f"{tiny_config}:{tmp_path / 'absent.pt'}")
    with pytest.raises(ClipError, match="architecture config file .* is missing"):
        preflight(f"{tmp_path / 'absent.json'}:random")
    with pytest.raises(ClipError, match="weights file"):
        preflight(str(tiny_config))  # a config alone has no weights: say so instead of random init
    bad = tmp_path / "bad.json"
    bad.write_text('{"embed_dim": 3}')
    with pytest.raises(ClipError, match="not an open_clip config"):
        preflight(f"{bad}:random")


def test_project_model_missing_weights_is_reported():
    # portrait-clip is registered in stylepaint/resources/clip_models.json; until its files exist (or if
    # its weights are removed) the error names the missing file.
    try:
        preflight("portrait-clip")
    except ClipError as exc:
        assert "missing" in str(exc) and "portrait-clip" in str(exc)


@pytest.mark.parametrize("env", [{"HF_HUB_OFFLINE": "1"}, {"HF_ENDPOINT": "http://127.0.0.1:9"}])
def test_offline_hub_fails_fast_when_download_is_allowed(env, monkeypatch, home):
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    for spec in ("ViT-B-32:laion2b_s34b_b79k", "hf-hub:laion/CLIP-ViT-B-32-laion2B-s34B-b79K"):
        start = time.perf_counter()
        with pytest.raises(ClipError, match="offline"):
            load_clip(spec, download=True)
        assert time.perf_counter() - start < 2.0
    assert files_under(home) == []


# --- loading --------------------------------------------------------------------------------

def test_tiny_random_clip_loads_with_its_own_preprocessing(tiny):
    assert isinstance(tiny, ClipModel)
    assert tiny.input_resolution == 32
    assert tiny.embed_dim == 24
    assert len(tiny.mean) == 3 and len(tiny.std) == 3
    images = torch.rand(3, 3, 48, 40) * 2 - 1
    emb = tiny.encode_images(images)
    assert emb.shape == (3, 24)
    assert torch.allclose(emb.norm(dim=-1), torch.ones(3), atol=1e-5)


def test_local_weights_file_round_trip(tiny, tiny_config, tmp_path):
    weights = tmp_path / "tiny.pt"
    torch.save(tiny.model.state_dict(), weights)
    again = load_clip(f"{tiny_config}:{weights}")
    images = torch.rand(2, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        assert torch.allclose(again.encode_images(images), tiny.encode_images(images), atol=1e-5)
    assert again.model_id == tiny.model_id
    torch.manual_seed(1)
    fresh = build(preflight(f"{tiny_config}:random"))  # uncached: random weights, the same whatever the RNG
    assert fresh.model_id == tiny.model_id
    torch.save({k: v + 0.01 for k, v in tiny.model.state_dict().items()}, tmp_path / "other.pt")
    assert load_clip(f"{tiny_config}:{tmp_path / 'other.pt'}").model_id != tiny.model_id


def test_weights_that_do_not_fit_the_architecture(tiny_config, tmp_path):
    weights = tmp_path / "wrong.pt"
    torch.save({"visual.proj": torch.zeros(3, 3)}, weights)
    with pytest.raises(ClipError, match="cannot build"):
        load_clip(f"{tiny_config}:{weights}")


# --- preprocessing ----------------------------------------------------------------------------

def test_preprocess_shapes_values_and_gradients():
    mean, std = (0.5, 0.4, 0.3), (0.2, 0.25, 0.5)
    gray = torch.zeros(2, 3, 64, 48, requires_grad=True)  # value 0 in [-1, 1] -> 0.5
    out = to_clip_input(gray, 32, mean, std)
    assert out.shape == (2, 3, 32, 32)
    expected = torch.tensor([(0.5 - m) / s for m, s in zip(mean, std)]).view(1, 3, 1, 1)
    assert torch.allclose(out, expected.expand_as(out), atol=1e-5)
    out.sum().backward()
    assert gray.grad is not None and gray.grad.abs().sum() > 0

    # shortest side + centre crop keeps the centre: a tall image with a marked middle band
    tall = -torch.ones(1, 3, 64, 32)
    tall[..., 16:48, :] = 1.0
    centre = to_clip_input(tall, 32, (0, 0, 0), (1, 1, 1))
    assert torch.allclose(centre, torch.ones_like(centre), atol=1e-4)
    squash = to_clip_input(tall, 32, (0, 0, 0), (1, 1, 1), resize_mode="squash")
    assert squash.min() < 0.1
    longest = to_clip_input(tall, (32, 32), (0, 0, 0), (1, 1, 1), resize_mode="longest")
    assert longest.shape == (1, 3, 32, 32) and float(longest[..., :, 0].abs().max()) == 0.0


# --- text -------------------------------------------------------------------------------------

def test_text_embeddings_average_templates_and_are_cached(tiny):
    enc = tiny.text
    first = enc.embed("curly hair")
    assert enc.embed("  curly   hair ") is first  # cached per (normalised) prompt
    with torch.no_grad():
        each = tiny.encode_tokens(tiny.tokenizer([t.format("curly hair") for t in enc.templates]))
    manual = each.mean(0)
    assert torch.allclose(first, manual / manual.norm(), atol=1e-5)
    assert len(enc.templates) > 1
    d = enc.direction("curly hair", "hair")
    assert d.shape == (24,) and abs(float(d.norm()) - 1) < 1e-5
    assert not torch.allclose(d, enc.direction("straight hair", "hair"))


@pytest.mark.parametrize("prompt", ["", "   ", None])
def test_empty_prompt_is_an_input_error(tiny, prompt):
    start = time.perf_counter()
    with pytest.raises(InputError, match="empty"):
        tiny.text.direction(prompt)
    assert time.perf_counter() - start < 2.0
