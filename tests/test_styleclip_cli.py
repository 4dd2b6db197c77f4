"""`stylepaint edit --method optimize|mapper|directions` and `stylepaint mapper train`, in-process,
on a tiny saved generator and a tiny CLIP saved to a file (its id is the same in every run)."""

from __future__ import annotations

import numpy as np
from PIL import Image

from stylepaint.cli import main
from test_directions_cli import files  # noqa: F401  (the tiny saved generator and CLIP files)


def edit(files, out, *extra):
    return main(["edit", files["model"], "--seed", "4", "--clip", files["clip"], *extra, "-o", str(out)])


def pixels(path):
    return np.asarray(Image.open(path).convert("RGB"))


def test_optimize_and_mapper_methods_from_the_command_line(files, tmp_path, capsys, one_torch_thread):
    assert edit(files, tmp_path / "plain.png", "--prompt", "red hair", "--method", "optimize", "--alpha", "0",
                "--steps", "3") == 0
    assert edit(files, tmp_path / "opt.png", "--prompt", "red hair", "--method", "optimize", "--alpha", "1",
                "--steps", "3") == 0
    assert not np.array_equal(pixels(tmp_path / "plain.png"), pixels(tmp_path / "opt.png"))
    assert edit(files, tmp_path / "none.png", "--prompt", "red hair", "--method", "mapper", "--alpha", "1") == 2
    assert "mapper train" in capsys.readouterr().err
    assert main(["mapper", "train", files["model"], "--prompt", "red hair", "--steps", "2",
                 "--clip", files["clip"]]) == 0
    assert "wrote" in capsys.readouterr().out
    assert edit(files, tmp_path / "map0.png", "--prompt", "red hair", "--method", "mapper", "--alpha", "0") == 0
    assert edit(files, tmp_path / "map.png", "--prompt", "red hair", "--method", "mapper", "--alpha", "3") == 0
    assert np.array_equal(pixels(tmp_path / "map0.png"), pixels(tmp_path / "plain.png"))
    assert not np.array_equal(pixels(tmp_path / "map.png"), pixels(tmp_path / "plain.png"))


def test_bad_method_and_empty_prompt_are_one_line_errors(files, tmp_path, capsys):
    assert edit(files, tmp_path / "x.png", "--prompt", "x", "--method", "bogus", "--alpha", "1") == 2
    assert "unknown edit method" in capsys.readouterr().err
    assert main(["mapper", "train", files["model"], "--prompt", " ", "--clip", files["clip"]]) == 2
    assert "prompt is empty" in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()
