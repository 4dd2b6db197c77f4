"""Shared set-up for the editor's window tests: one Renderer for the session with the 64 px
fixture generator and a tiny random CLIP whose text directions are random unit rows
(building real ones takes minutes on a CPU; the window tests are about the window)."""

from __future__ import annotations

import json

import numpy as np

TINY_CLIP = {
    "embed_dim": 24,
    "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "patch_size": 16, "head_width": 16},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1},
}


def make_engine(model_path, folder):
    import torch

    from stylepaint.clip import load_clip
    from stylepaint.directions import Editor
    from stylepaint.directions.precompute import empty_relevance
    from stylepaint.directions.stats import style_statistics
    from stylepaint.engine.render import Renderer

    cfg = folder / "tiny-clip.json"
    cfg.write_text(json.dumps(TINY_CLIP))
    spec = f"{cfg}:random"
    renderer = Renderer(build_directions=False)
    G = renderer.generator(str(model_path), "auto")
    torch.manual_seed(0)
    clip = load_clip(spec, device=G.device)
    mean, std = style_statistics(G, 400, 0)
    rel = empty_relevance(G, mean, std, clip.embed_dim, {"test": "random directions"})
    R = torch.randn(rel.R.shape, generator=torch.Generator().manual_seed(1))
    start = 0
    for c, rgb in zip(rel.channels, rel.torgb):
        if rgb:
            R[start:start + c] = 0
        start += c
    rel.R = R / R.norm(dim=1, keepdim=True).clamp_min(1e-8) * (R.norm(dim=1, keepdim=True) > 0)
    rel.done = [True] * len(rel.layers)
    renderer.set_editor(G, spec, Editor(rel, clip, G.img_resolution))
    return renderer, spec


def image_of(window) -> np.ndarray:
    return np.asarray(window.controller.result["image"]).copy()


def diff(a, b) -> float:
    return float(np.abs(a.astype(np.float32) - b.astype(np.float32)).mean())


def open_window(qtbot, engine, model, tmp_path, sync=True, **kwargs):
    """A main window on the shared test engine with its own settings and favorites under
    ``tmp_path`` (a second call with the same ``tmp_path`` is the app started again)."""
    from stylepaint.favorites import FavoritesStore
    from stylepaint.gui.main_window import MainWindow
    from stylepaint.gui.settings import Settings
    from stylepaint.gui.worker import RenderWorker

    renderer, spec = engine
    worker = RenderWorker(render_fn=renderer.render, sync=sync)
    window = MainWindow(model=None if model is None else str(model), clip=spec, worker=worker, settings=Settings(tmp_path / "editor.json"),
                        store=FavoritesStore(tmp_path / "favorites"), **kwargs)
    qtbot.addWidget(window)
    return window


def set_prompt(w, text, alpha=None, beta=None):
    panel = w.prompt_panel
    panel.target.setEditText(text)
    panel.target.lineEdit().returnPressed.emit()
    if beta is not None:
        panel.beta.spin.setValue(beta)
    if alpha is not None:
        panel.alpha.slider.setValue(round(alpha * panel.alpha.per_unit))
