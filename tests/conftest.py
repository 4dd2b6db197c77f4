"""Shared test set-up: fixture paths, tiny generators, and a private STYLEPAINT_HOME per test."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "tests" / "data"           # reference checkpoints and photos (tests/data/README.md)
CHECKPOINTS = DATA / "checkpoints"
PHOTOS = DATA / "photos"

CHECKPOINT_FILES = ["sg2ada-64px.pkl", "sg2ada-32px-fp16-clamp.pkl", "rosinality-32px.pt"]


@pytest.fixture(autouse=True)
def _private_home(tmp_path_factory, monkeypatch):
    """Every test gets its own user data/cache/config folders."""
    home = tmp_path_factory.mktemp("stylepaint-home")
    monkeypatch.setenv("STYLEPAINT_HOME", str(home))
    return home


@pytest.fixture(autouse=True)
def _no_modal_questions(monkeypatch):
    """A window a test shows and leaves with unsaved work must not wait on the modal "unsaved
    changes" question when it is closed (by the test or by qtbot's teardown): it is answered
    "discard" unless the test patches ``ask`` itself."""
    try:
        from stylepaint.gui import unsaved_dialog
    except ImportError:                  # no Qt here: no windows either
        return
    monkeypatch.setattr(unsaved_dialog, "ask", lambda parent, name: "discard")


@pytest.fixture
def one_torch_thread():
    """Tiny networks on a busy 2-core machine step several times faster on one torch thread
    (two spin against other work); the caller's setting is restored afterwards."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def fixture_dir() -> Path:
    if not CHECKPOINTS.is_dir():
        pytest.fail(f"reference checkpoints not found at {CHECKPOINTS}")
    return CHECKPOINTS


@pytest.fixture(scope="session")
def tiny_generator():
    """A small randomly initialised generator (16 px) for fast tests."""
    import torch

    from stylepaint.engine.networks import Generator

    torch.manual_seed(0)
    G = Generator(z_dim=32, w_dim=32, img_resolution=16, mapping_layers=2, channel_base=128, channel_max=32)
    with torch.no_grad():
        for name, p in G.named_parameters():
            if name.endswith("noise_strength"):
                p.fill_(0.1)
    G.model_id = "tiny-test-generator"
    G.source_path, G.source_format = "<tiny>", "memory"
    return G.eval().requires_grad_(False)


TINY_CLIP_CONFIG = {
    "embed_dim": 24,
    "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "patch_size": 16, "head_width": 16},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1},
}


@pytest.fixture(scope="session")
def tiny_clip_spec(tmp_path_factory) -> str:
    """A CLIP spec for a tiny randomly initialised open_clip model (no download, no file)."""
    import json

    path = tmp_path_factory.mktemp("clip") / "tiny-clip.json"
    path.write_text(json.dumps(TINY_CLIP_CONFIG))
    return f"{path}:random"


@pytest.fixture(scope="session")
def tiny_model_file(tiny_generator, tmp_path_factory) -> str:
    """The tiny generator saved in stylepaint's own format, usable as a `model` argument."""
    from stylepaint.engine.checkpoints import save_generator

    path = tmp_path_factory.mktemp("model") / "tiny.safetensors"
    save_generator(tiny_generator, path)
    return str(path)


@pytest.fixture(scope="module")
def engine(fixture_dir, tmp_path_factory):
    """The window tests' renderer (64 px fixture, tiny random CLIP directions) and CLIP spec."""
    from gui_support import make_engine

    return make_engine(fixture_dir / "sg2ada-64px.pkl", tmp_path_factory.mktemp("engine"))


@pytest.fixture
def window(qtbot, engine, fixture_dir, tmp_path):
    """A main window on ``engine`` with a synchronous worker, settings and favorites in ``tmp_path``."""
    from gui_support import open_window

    w = open_window(qtbot, engine, fixture_dir / "sg2ada-64px.pkl", tmp_path)
    yield w
    w.worker.stop()
