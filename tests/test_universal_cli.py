"""`stylepaint mapper train-universal` and `stylepaint edit --instruction` (issue 18), in-process,
on the tiny saved generator and tiny CLIP of the directions CLI tests."""

from __future__ import annotations

import json

import numpy as np
from PIL import Image

from stylepaint.cli import main
from test_directions_cli import files  # noqa: F401  (the tiny saved generator and CLIP files)


def edit(files, out, *extra):
    return main(["edit", files["model"], "--seed", "4", "--clip", files["clip"], *extra, "-o", str(out)])


def pixels(path):
    return np.asarray(Image.open(path).convert("RGB"))


def test_train_resume_and_edit_by_instruction(files, tmp_path, capsys, one_torch_thread):
    assert edit(files, tmp_path / "none.png", "--instruction", "make the hair red") == 2
    assert "train-universal" in capsys.readouterr().err
    train = ["mapper", "train-universal", files["model"], "--out", str(tmp_path / "run"), "--clip", files["clip"]]
    # reader only (no CLIP loss; no pairs on this generator), in two chunks; a CLIP-only reader
    # first, then the two-encoder reader from train-reader, which the resume keeps
    assert main([*train, "--steps", "300", "--groups", "hair_color,eyewear", "--no-clip-loss", "--lr", "1e-2",
                 "--reader", "clip"]) == 0
    assert "wrote" in capsys.readouterr().out
    from stylepaint.styleclip.universal_mapper import FILE_NAME, load_universal

    assert main(["mapper", "train-reader", str(tmp_path / "run"), files["model"], "--clip", files["clip"],
                 "--steps", "300", "--members", "2", "--masked", "1.5"]) == 2
    assert "between 0 and 1" in capsys.readouterr().err
    assert main(["mapper", "train-reader", str(tmp_path / "run"), files["model"], "--clip", files["clip"],
                 "--steps", "300", "--members", "2", "--masked", "0.25", "--views", "0.5"]) == 0
    assert "later resumes" in capsys.readouterr().out
    settings = json.loads((tmp_path / "run" / "reader.json").read_text())
    assert settings["masked"] == 0.25 and settings["views"] == 0.5 and settings["glosses"] is True
    assert main([*train, "--resume", "--steps", "600", "--batch", "3"]) == 0
    out = capsys.readouterr().out
    assert "600/600 steps" in out and "reader (clip+sentence, 2 members) trained" in out
    import stylepaint
    from stylepaint.clip import load_clip

    run_model = load_universal(tmp_path / "run" / FILE_NAME, stylepaint.load_generator(files["model"]),
                               load_clip(files["clip"]))
    assert run_model.sentence_dim == 2 * 384 and run_model.glosses and run_model.info["steps"] == 600
    assert run_model.info["reader"]["views"] == 0.5                  # the resume trained the same reader again
    # this generator has no portrait code: no pairs to calibrate the strengths on, one clear line
    capsys.readouterr()
    assert main(["mapper", "calibrate-universal", str(tmp_path / "run"), files["model"], "--clip", files["clip"]]) == 2
    err = capsys.readouterr().err
    assert "portrait code" in err and err.count("\n") == 1
    state = json.loads((tmp_path / "run" / "checkpoint.json").read_text())["state"]
    assert state["step"] == 600 and state["chunks"] == 1 and state["params"]["batch"] == 3
    assert edit(files, tmp_path / "plain.png", "--prompt", "red hair", "--alpha", "0") == 0
    assert edit(files, tmp_path / "zero.png", "--instruction", "make the hair red", "--alpha", "0") == 0
    assert "hair colour → red" in capsys.readouterr().out
    assert edit(files, tmp_path / "red.png", "--instruction", "make the hair red") == 0
    assert np.array_equal(pixels(tmp_path / "zero.png"), pixels(tmp_path / "plain.png"))
    assert not np.array_equal(pixels(tmp_path / "red.png"), pixels(tmp_path / "plain.png"))
    capsys.readouterr()
    assert edit(files, tmp_path / "x.png", "--instruction", "make the car red") == 2
    err = capsys.readouterr().err
    assert "could not understand the instruction" in err and err.count("\n") == 1
    assert edit(files, tmp_path / "y.png", "--instruction", " ") == 2
    assert "the instruction is empty" in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists() and not (tmp_path / "y.png").exists()


def test_the_editor_job_makes_the_edit_or_says_why_not(files, tmp_path, one_torch_thread):
    from stylepaint.engine import stylespace
    from stylepaint.engine.render import Renderer
    from stylepaint.errors import StylepaintError
    from stylepaint.gui.engine_jobs import universal_edit_job

    class Worker:
        renderer = Renderer(build_directions=False)

    def run(text):
        job = universal_edit_job(files["model"], files["clip"], "cpu", ws, text, worker=Worker())
        progress = []
        try:
            while True:
                progress.append(next(job))
        except StopIteration as stop:
            return progress, stop.value

    ws = stylespace.seed_to_ws(Worker.renderer.generator(files["model"], "cpu"), 4)[0].numpy()
    try:
        run("make the hair red")
        raise AssertionError("no universal mapper is trained yet")
    except StylepaintError as exc:
        assert "train-universal" in str(exc)
    assert main(["mapper", "train-universal", files["model"], "--out", str(tmp_path / "run"), "--clip", files["clip"],
                 "--steps", "600", "--groups", "hair_color,eyewear", "--no-clip-loss", "--lr", "1e-2"]) == 0
    progress, result = run("make the hair red")
    assert progress and result["name"] == "hair colour → red" and result["kind"] == "instruction"
    assert result["delta"].shape == (sum(l.channels for l in Worker.renderer.generator(files["model"], "cpu").style_layers),)
