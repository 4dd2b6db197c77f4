"""Inversion on tiny generators: the loss falls on a generator's own sample, W+ and PTI help,
progress carries previews, closing the job cancels it; the photo pipeline and CLI run end to end."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from conftest import CHECKPOINTS, PHOTOS
from stylepaint.edits import EditStep
from stylepaint.engine.render import to_uint8
from stylepaint.inversion.invert import invert, psnr, run
from stylepaint.inversion.losses import FeatureLoss, PixelLoss, make_loss


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def own_sample(tiny_generator):
    G = tiny_generator
    with torch.no_grad():
        ws = G.mapping(torch.randn(1, G.z_dim, generator=torch.Generator().manual_seed(7)))
        img = to_uint8(G.synthesis(ws))
    return ws[0].numpy(), img


def test_inversion_reduces_the_loss_on_the_generators_own_sample(tiny_generator, own_sample):
    _, target = own_sample
    messages = list(invert(tiny_generator, target, steps_w=15, steps_wplus=15, lr=0.05, preview_every=5,
                           init_candidates=4))
    result = messages[-1]["result"]
    assert result.losses[-1] < 0.5 * result.losses[0]
    assert result.ws.shape == (tiny_generator.num_ws, tiny_generator.w_dim)
    assert result.image.shape == target.shape
    # the reported PSNR is the real one, and better than the average face's
    assert result.psnr == pytest.approx(psnr(result.image, target))
    G = tiny_generator
    with torch.no_grad():
        avg = to_uint8(G.synthesis(G.w_avg[None, None].expand(1, G.num_ws, -1)))
    assert result.psnr > psnr(avg, target) + 1.0
    # progress: counts rise to the total, W then W+, previews along the way
    stages = [m["stage"] for m in messages]
    assert stages.index("w") < stages.index("w+") < stages.index("done")
    assert [m["done"] for m in messages] == sorted(m["done"] for m in messages)
    assert messages[-1]["done"] == messages[-1]["total"]
    previews = [m["preview"] for m in messages if "preview" in m]
    assert len(previews) >= 4 and previews[0].dtype == np.uint8


def test_plateau_ends_a_stage_early_and_keeps_progress_consistent(tiny_generator, own_sample):
    full = run(invert(tiny_generator, own_sample[1], steps_w=60, steps_wplus=0, init_candidates=1, lr=0.2))
    msgs = list(invert(tiny_generator, own_sample[1], steps_w=60, steps_wplus=0, init_candidates=1, lr=0.2,
                       plateau=0.5))
    result = msgs[-1]["result"]
    assert 50 <= len(result.losses) < len(full.losses) == 60  # stopped after the first 50-step comparison
    assert "levelled off" in msgs[-2]["message"] and msgs[-1]["done"] == msgs[-1]["total"]


def test_closing_the_job_cancels_it(tiny_generator, own_sample):
    job = invert(tiny_generator, own_sample[1], steps_w=1000, steps_wplus=1000, init_candidates=1)
    seen = 0
    for msg in job:
        seen += 1
        if seen == 3:
            break
    job.close()
    with pytest.raises(StopIteration):
        next(job)


def test_pivotal_tuning_fits_closer_and_leaves_the_original_alone(tiny_generator, own_sample):
    G = tiny_generator
    before = {k: v.clone() for k, v in G.state_dict().items()}
    rng = np.random.default_rng(3)
    target = rng.integers(0, 256, own_sample[1].shape, dtype=np.uint8)  # not reachable without tuning
    plain = run(invert(G, target, steps_w=5, steps_wplus=5, init_candidates=1))
    tuned = run(invert(G, target, steps_w=5, steps_wplus=5, init_candidates=1, pti_steps=30, pti_lr=3e-3))
    assert tuned.generator is not None and plain.generator is None
    assert tuned.loss < plain.loss
    for k, v in G.state_dict().items():
        assert torch.equal(v, before[k]), k


def test_loss_choice():
    assert isinstance(make_loss("pixel"), PixelLoss)
    # without lpips weights the photo loss falls back to the pixel loss
    assert make_loss("auto", "photo").__class__.__name__ in ("PixelLoss", "_Lpips")
    from stylepaint.errors import InputError

    with pytest.raises(InputError):
        make_loss("fancy")
    # a feature loss over any conv stages: zero on identical images, positive otherwise
    conv = torch.nn.Conv2d(3, 4, 3, padding=1)
    loss = FeatureLoss([conv], None, "test")
    a = torch.rand(1, 3, 16, 16) * 2 - 1
    with torch.no_grad():
        assert float(loss(a, a)) == pytest.approx(0.0, abs=1e-6)
        assert float(loss(a, a.flip(-1))) > 0
        # the target's features are computed once per target, and again when it changes
        t = a.clone()
        assert float(loss(a, t)) == pytest.approx(0.0, abs=1e-6)
        t.mul_(-1)
        assert float(loss(a, t)) > 0
        assert float(loss(a, a.clone())) == pytest.approx(0.0, abs=1e-6)


def test_oracle_feature_loss_drives_inversion(tiny_generator, own_sample, tmp_path):
    from stylepaint.inversion.losses import oracle_loss
    from stylepaint.portraits.oracle import OracleNet, save_oracle

    torch.manual_seed(0)
    net = OracleNet({"hair_color": ["red", "black"], "eyewear": ["none", "glasses"]}, image_size=16, widths=(8, 16))
    save_oracle(net.eval(), tmp_path / "oracle.safetensors")
    loss = oracle_loss("cpu", tmp_path / "oracle.safetensors")
    assert loss.name == "oracle" and len(loss.stages) == 2
    result = run(invert(tiny_generator, own_sample[1], steps_w=8, steps_wplus=8, loss=loss, init_candidates=1))
    assert result.losses[-1] < result.losses[0]


def test_auto_portrait_loss_is_never_the_oracle():
    # the oracle scores the inversion benchmark; the automatic loss must not be built on it
    loss = make_loss("auto", "portrait")
    assert loss.name == "clip"
    from stylepaint.clip.registry import default_clip

    assert loss.clip.spec == default_clip()
    assert make_loss("auto", "photo").name != "oracle"


def test_clip_feature_loss_drives_inversion(tiny_generator, own_sample, tmp_path):
    import json

    from stylepaint.clip.model import load_clip
    from stylepaint.inversion.losses import ClipFeatureLoss

    cfg = {"embed_dim": 16, "vision_cfg": {"image_size": 32, "layers": [1, 1, 1, 1], "width": 8, "head_width": 16},
           "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1}}
    (tmp_path / "rn-clip.json").write_text(json.dumps(cfg))
    torch.manual_seed(0)
    clip = load_clip(f"{tmp_path / 'rn-clip.json'}:random")
    clip.model.eval().requires_grad_(False)
    loss = ClipFeatureLoss(clip)
    a = torch.rand(1, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        assert float(loss(a, a)) == pytest.approx(0.0, abs=1e-5)
        assert float(loss(a, a.flip(-1))) > float(loss(a, a))
    result = run(invert(tiny_generator, own_sample[1], steps_w=8, steps_wplus=8, loss=loss, init_candidates=1))
    assert result.losses[-1] < result.losses[0]


def test_clip_feature_loss_needs_a_conv_tower(tiny_clip_spec):
    from stylepaint.clip.model import load_clip
    from stylepaint.inversion.losses import ClipFeatureLoss

    with pytest.raises(TypeError, match="ModifiedResNet"):
        ClipFeatureLoss(load_clip(tiny_clip_spec))


def test_photo_pipeline_end_to_end(tiny_model_file, tiny_clip_spec, tmp_path):
    from stylepaint.engine.render import Renderer
    from stylepaint.inversion.pasteback import pasted_region
    from stylepaint.inversion.pipeline import edit_photo, invert_photo, load_latent

    messages = []
    renderer = Renderer()
    out = edit_photo(PHOTOS / "astronaut.png", tiny_model_file, [EditStep("smiling", alpha=8.0, beta=0.0)],
                     renderer=renderer, clip=tiny_clip_spec, iterations=(3, 3), on_progress=messages.append)
    photo = out.inversion.photo.pixels
    assert out.image.shape == photo.shape
    region = pasted_region(out.inversion.alignment)
    assert np.array_equal(out.image[~region], photo[~region])
    assert (out.image[region] != photo[region]).any()
    assert any("crop" in m for m in messages) and messages[-1]["stage"] == "done"
    # the edit changed the crop compared with the plain reconstruction
    plain = renderer.render(model=tiny_model_file, ws=out.inversion.ws)["image"]
    assert np.abs(out.crop.astype(int) - plain).max() > 0
    # latent file round trip
    path = out.inversion.save(tmp_path / "face.npz")
    data = load_latent(path)
    assert np.array_equal(data["ws"], out.inversion.ws)
    assert np.allclose(data["alignment"].matrix, out.inversion.alignment.matrix)
    assert data["meta"]["photo_size"] == [512, 512]
    # the latent file edits the photo again without inverting again
    from stylepaint.inversion.pipeline import inversion_from_latent, paste_edit

    again = inversion_from_latent(PHOTOS / "astronaut.png", path)
    assert np.array_equal(again.ws, out.inversion.ws)
    redo = paste_edit(again, [EditStep("smiling", alpha=8.0, beta=0.0)], renderer=renderer, clip=tiny_clip_spec)
    assert np.array_equal(redo.image, out.image)
    from stylepaint.errors import InputError

    with pytest.raises(InputError, match="latent was made for a 512x512 photo"):
        inversion_from_latent(PHOTOS / "coffee.png", path)
    # cancelling the photo job stops it
    job = invert_photo(PHOTOS / "astronaut.png", model=tiny_model_file, iterations=(50, 50))
    next(job)
    job.close()


def test_cli_invert_writes_a_latent_and_reports_no_face(tmp_path, capsys):
    from stylepaint.cli import main

    model = str(CHECKPOINTS / "sg2ada-32px-fp16-clamp.pkl")
    out = tmp_path / "lat.npz"
    code = main(["invert", str(PHOTOS / "astronaut.png"), "--model", model, "-o", str(out), "--steps", "2", "2",
                 "--quiet", "--loss", "pixel", "--pasted", str(tmp_path / "pasted.png"), "--restarts", "2"])
    assert code == 0
    with np.load(out) as data:
        assert data["ws"].shape[1] == 64 and data["crop"].shape == (32, 32, 3)
        import json

        meta = json.loads(str(data["meta"]))
    assert (tmp_path / "pasted.png").exists()
    printed = capsys.readouterr().out
    # two runs, each with its identity distance to the photo; the closest is kept and reported
    runs = re.findall(r"run (\d)/2: PSNR [\d.]+ dB, identity distance ([\d.]+)", printed)
    assert [r[0] for r in runs] == ["1", "2"]
    kept = float(re.search(r"wrote .*\n(?:.*\n)*?identity distance ([\d.]+)", printed).group(1))
    assert kept == min(float(r[1]) for r in runs)
    assert "68 landmarks" in printed and len(meta["face"]["landmarks"]) == 68
    code = main(["invert", str(PHOTOS / "astronaut.png"), "--model", model, "-o", str(out), "--restarts", "0"])
    assert code == 2 and "--restarts must be at least 1" in capsys.readouterr().err
    code = main(["invert", str(PHOTOS / "coffee.png"), "--model", model, "-o", str(tmp_path / "x.npz"), "--quiet"])
    assert code == 2
    assert "coffee.png: no face found" in capsys.readouterr().err
    # the saved latent renders through the render command
    code = main(["render", model, "--latent", str(out), "-o", str(tmp_path / "again.png")])
    assert code == 0


def test_small_models_get_the_longer_wplus_schedule(tiny_model_file):
    from stylepaint.inversion.pipeline import DEFAULT_STEPS, default_schedule, invert_photo

    assert default_schedule(256) == (DEFAULT_STEPS, 0.002)
    (steps_w, steps_wplus), plateau = default_schedule(32)
    assert steps_wplus > DEFAULT_STEPS[1] and plateau == 0.0
    job = invert_photo(PHOTOS / "astronaut.png", model=tiny_model_file, preview_every=0)
    try:
        first = next(m for m in job if m.get("stage") == "init")
    finally:
        job.close()
    assert first["total"] == steps_w + steps_wplus + 1
