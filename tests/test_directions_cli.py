"""`stylepaint directions build` and `stylepaint edit`, in-process, on a tiny saved generator
and a tiny CLIP saved to a file; bad input fails in under 2 s and writes nothing."""

from __future__ import annotations

import json
import time

import numpy as np
import open_clip  # noqa: F401  (imported up front: timings below measure the commands, not imports)
import pytest
import torch
from PIL import Image

from stylepaint.cli import main
from stylepaint.clip import build as build_clip
from stylepaint.clip import preflight
from stylepaint.engine.checkpoints import save_generator
from stylepaint.engine.networks import Generator

TINY_CLIP = {
    "embed_dim": 24,
    "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "patch_size": 16, "head_width": 16},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1},
}


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("models")
    torch.manual_seed(2)
    G = Generator(z_dim=32, w_dim=32, img_resolution=16, mapping_layers=2, channel_base=64, channel_max=32)
    save_generator(G, folder / "tiny.safetensors")
    (folder / "clip.json").write_text(json.dumps(TINY_CLIP))
    clip = build_clip(preflight(f"{folder / 'clip.json'}:random"))
    torch.save(clip.model.state_dict(), folder / "clip.pt")
    return {"model": str(folder / "tiny.safetensors"), "clip": f"{folder / 'clip.json'}:{folder / 'clip.pt'}"}


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("STYLEPAINT_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def cache_files(home):
    folder = home / "cache" / "directions"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_build_then_cached_then_edit_and_grid(files, home, tmp_path, capsys):
    args = ["directions", "build", files["model"], "--clip", files["clip"], "--images", "2", "--stats", "300"]
    assert main(args) == 0
    assert "built in" in capsys.readouterr().out
    assert len(cache_files(home)) == 1
    assert main(args) == 0
    assert "found in the cache" in capsys.readouterr().out

    base = ["edit", files["model"], "--clip", files["clip"], "--seed", "4"]
    plain, edited, stacked = (tmp_path / f"{n}.png" for n in ("plain", "edited", "stacked"))
    assert main(base + ["--prompt", "curly hair", "--alpha", "0", "-o", str(plain)]) == 0
    assert main(base + ["--prompt", "curly hair", "--neutral", "hair", "--alpha", "4", "--beta", "0.05",
                        "-o", str(edited)]) == 0
    out = capsys.readouterr().out
    assert "channels moved: 'curly hair':" in out
    assert main(base + ["--prompt", "curly hair", "--neutral", "hair", "--alpha", "4", "--beta", "0.05",
                        "--prompt", "a smiling face", "--alpha", "-3", "--layers", "coarse", "-o", str(stacked)]) == 0
    assert "'a smiling face':" in capsys.readouterr().out
    a, b, c = (np.asarray(Image.open(p)) for p in (plain, edited, stacked))
    assert a.shape == b.shape == (16, 16, 3)
    assert np.abs(a.astype(int) - b).max() > 0 and np.abs(b.astype(int) - c).max() > 0

    grid = tmp_path / "grid.png"
    assert main(base + ["--prompt", "curly hair", "--alpha", "4", "--grid", "--grid-alphas=-4,0,4",
                        "--grid-betas", "0.05,0.2", "-o", str(grid)]) == 0
    sheet = Image.open(grid)
    assert sheet.size[0] >= 3 * 16 and sheet.size[1] >= 2 * 16
    assert len(cache_files(home)) == 1  # editing reused the build


@pytest.mark.parametrize("extra, words", [
    (["--clip", "no-such-clip"], "unknown CLIP model"),
    (["--clip", "ViT-B-32:/no/such/weights.pt"], "missing"),
    (["--clip", "ViT-B-32:openai"], "not downloaded"),
    (["--clip", "ViT-B-32:laion2b_s34b_b79k", "--download"], "offline"),
])
def test_bad_clip_fails_fast_with_one_sentence_and_writes_nothing(files, home, extra, words, capsys, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    for command in (["directions", "build", files["model"]], ["edit", files["model"], "--prompt", "x", "--alpha", "1",
                                                              "-o", str(home / "x.png")]):
        start = time.perf_counter()
        assert main(command + extra) == 2
        assert time.perf_counter() - start < 2.0
        err = capsys.readouterr().err
        assert words in err and "Traceback" not in err
    assert cache_files(home) == []


def test_empty_prompt_and_misplaced_options(files, home, capsys):
    start = time.perf_counter()
    assert main(["edit", files["model"], "--prompt", "  ", "--alpha", "1", "-o", str(home / "x.png")]) == 2
    assert time.perf_counter() - start < 2.0
    assert "non-empty prompt" in capsys.readouterr().err
    assert main(["edit", files["model"], "--prompt", "curly hair", "-o", str(home / "x.png")]) == 2
    assert "needs an --alpha" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["edit", files["model"], "--alpha", "1", "--prompt", "x", "-o", str(home / "x.png")])
    assert cache_files(home) == []


def test_shipped_directions_let_the_first_edit_run_without_a_build(files, home, tmp_path, monkeypatch, capsys):
    import shutil

    from stylepaint import paths
    from stylepaint.portraits.manifest import read_manifest, sha256_of

    build = ["directions", "build", "--clip", files["clip"], "--images", "2", "--stats", "300", "--ship"]
    assert main([build[0], build[1], files["model"], *build[2:]]) == 2       # not an embedded model
    assert "only a model in" in capsys.readouterr().err
    models = tmp_path / "embedded"
    models.mkdir()
    shutil.copy(files["model"], models / "tiny.safetensors")
    monkeypatch.setattr(paths, "MODELS_DIR", models)
    assert main([build[0], build[1], str(models / "tiny.safetensors"), *build[2:]]) == 0
    assert "shipped tiny.safetensors.directions.pt" in capsys.readouterr().out
    entry = read_manifest(models / "manifest.json")["tiny.safetensors.directions.pt"]
    assert entry["role"] == "directions" and entry["generator"] == "tiny.safetensors"
    assert entry["sha256"] == sha256_of(models / "tiny.safetensors.directions.pt")

    shutil.rmtree(home / "cache" / "directions")          # a fresh user: nothing cached
    out = tmp_path / "edited.png"
    assert main(["edit", str(models / "tiny.safetensors"), "--clip", files["clip"], "--seed", "4",
                 "--prompt", "smiling", "--alpha", "3", "-o", str(out)]) == 0
    assert out.is_file() and cache_files(home) == []        # edited with the shipped file, nothing built
    # a shipped file that was changed is not used: the edit builds again
    blob = bytearray((models / "tiny.safetensors.directions.pt").read_bytes())
    blob[-200] ^= 0xFF
    (models / "tiny.safetensors.directions.pt").write_bytes(bytes(blob))
    assert main(["edit", str(models / "tiny.safetensors"), "--clip", files["clip"], "--seed", "4",
                 "--prompt", "smiling", "--alpha", "3", "-o", str(out)]) == 0
    assert len(cache_files(home)) == 1


def test_edit_morph_moves_one_attribute_exactly_without_directions(files, home, tmp_path, capsys):
    from stylepaint.imagefiles import read_png_metadata
    from stylepaint.portraits.latent_code import write_mapping

    torch.manual_seed(0)
    G = Generator(z_dim=128, w_dim=128, img_resolution=16, mapping_layers=2, channel_base=64, channel_max=8)
    write_mapping(G)
    model = tmp_path / "code.safetensors"
    save_generator(G.eval(), model)
    base = ["edit", str(model), "--clip", files["clip"], "--seed", "5"]
    plain, red, half = (tmp_path / f"{n}.png" for n in ("plain", "red", "half"))
    assert main(base + ["--morph", "hair_color=red", "--alpha", "0", "-o", str(plain)]) == 0
    assert main(base + ["--morph", "hair_color=red", "-o", str(red)]) == 0
    assert "→ red" in capsys.readouterr().out
    assert main(base + ["--morph", "hair_color=red", "--alpha", "0.5", "-o", str(half)]) == 0
    a, b, c = (np.asarray(Image.open(p)).astype(int) for p in (plain, red, half))
    assert np.abs(a - b).max() > 0 and 0 < np.abs(a - c).mean() < np.abs(a - b).mean()
    step = json.loads(read_png_metadata(red)["edits"])[0]
    assert step["method"] == "optimize" and step["prompt"].endswith("red hair")
    assert cache_files(home) == []                               # no directions were built
    for bad, words in (("hair_color", "GROUP=VALUE"), ("hair_color=plaid", "has no value"),
                       ("hat_size=big", "unknown attribute group")):
        assert main(base + ["--morph", bad, "-o", str(tmp_path / "x.png")]) == 2
        assert words in capsys.readouterr().err
    assert main(["edit", files["model"], "--clip", files["clip"], "--morph", "hair_color=red",
                 "-o", str(tmp_path / "x.png")]) == 2
    assert "does not compute the portrait code" in capsys.readouterr().err
