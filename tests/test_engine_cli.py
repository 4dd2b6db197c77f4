"""info / render / convert from the command line, on every fixture checkpoint."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

import stylepaint
from conftest import CHECKPOINT_FILES
from stylepaint.cli import main


@pytest.mark.parametrize("name", CHECKPOINT_FILES)
def test_render_writes_correct_size_png(name, fixture_dir, tmp_path, capsys):
    out = tmp_path / "out.png"
    assert main(["render", str(fixture_dir / name), "--seed", "7", "--truncation", "0.7", "-o", str(out)]) == 0
    G = stylepaint.load_generator(fixture_dir / name)
    with Image.open(out) as im:
        assert im.size == (G.img_resolution, G.img_resolution) and im.mode == "RGB"
        pixels = np.asarray(im)
    assert pixels.std() > 1  # not a blank image


def test_render_seed_is_deterministic_and_seeds_differ(fixture_dir, tmp_path):
    path = str(fixture_dir / "sg2ada-64px.pkl")
    files = [tmp_path / f"{i}.png" for i in range(3)]
    for f, seed in zip(files, [1, 1, 2]):
        assert main(["render", path, "--seed", str(seed), "-o", str(f)]) == 0
    a, b, c = (np.asarray(Image.open(f)) for f in files)
    assert np.array_equal(a, b) and not np.array_equal(a, c)


@pytest.mark.parametrize("name", CHECKPOINT_FILES)
def test_info_prints_architecture(name, fixture_dir, capsys):
    assert main(["info", str(fixture_dir / name)]) == 0
    out = capsys.readouterr().out
    G = stylepaint.load_generator(fixture_dir / name)
    assert f"{G.img_resolution} x {G.img_resolution}" in out
    assert f"{G.z_dim} / {G.w_dim}" in out
    assert str(sum(l.channels for l in G.style_layers)) in out
    assert "conv clamp" in out and "fp16 blocks" in out


@pytest.mark.parametrize("name", CHECKPOINT_FILES)
def test_convert_round_trips_to_identical_images(name, fixture_dir, tmp_path):
    out = tmp_path / "model.safetensors"
    assert main(["convert", str(fixture_dir / name), str(out)]) == 0
    a = stylepaint.load_generator(fixture_dir / name)
    b = stylepaint.load_generator(out)
    assert b.source_format == "stylepaint" and a.model_id == b.model_id
    z = torch.randn(2, a.z_dim, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.equal(a(z, truncation_psi=0.7), b(z, truncation_psi=0.7))


def test_render_error_exits_2_without_traceback(tmp_path, capsys):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"PK\x03\x04 not really a zip")
    assert main(["render", str(bad), "-o", str(tmp_path / "x.png")]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and str(bad) in err
    assert not (tmp_path / "x.png").exists()
