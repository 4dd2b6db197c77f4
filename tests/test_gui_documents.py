"""Documents (issue 14, item 2 and "Documents"): quit asks about unsaved work, a saved document
reopens to the same pixels, autosave brings the work back after the app is killed, old or
newer schema versions are refused in one sentence. Offscreen windows on the 64 px fixture."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from gui_support import image_of, open_window, set_prompt
from PySide6.QtWidgets import QFileDialog

from stylepaint.document import load_document
from stylepaint.gui import documents, unsaved_dialog

pytestmark = [pytest.mark.gui, pytest.mark.usefixtures("one_torch_thread")]
TESTS = Path(__file__).resolve().parent


@pytest.fixture
def model(fixture_dir):
    return fixture_dir / "sg2ada-64px.pkl"


def make_work(w):
    """An edit stack with a painted region, on a chosen face."""
    c = w.controller
    c.on_seed(5)
    set_prompt(w, "curly hair", alpha=6)
    w.prompt_panel.add_button.click()
    w.canvas.set_tool("brush")
    w.canvas.begin_stroke((20, 20))
    w.canvas.continue_stroke((20, 20), (44, 40))
    w.canvas.end_stroke()
    c.on_select(None)
    set_prompt(w, "smiling", alpha=-4)
    assert c.state.masks and c.state.edits[0].mask
    return image_of(w)


def same_work(a, b) -> None:
    assert a.edits == b.edits and a.draft == b.draft and a.seed == b.seed and a.model == b.model
    assert sorted(a.masks) == sorted(b.masks)
    for k in a.masks:
        assert np.array_equal(a.masks[k], b.masks[k])


def test_quit_with_unsaved_work_asks_and_a_restart_brings_the_work_back(qtbot, engine, model, tmp_path, monkeypatch):
    w = open_window(qtbot, engine, model, tmp_path)
    w.show()
    shown = make_work(w)
    asked = []
    monkeypatch.setattr(unsaved_dialog, "ask", lambda parent, name: asked.append(name) or "cancel")
    w.action_quit.trigger()
    assert asked == ["Untitled"] and w.isVisible()                 # Cancel: the window stays
    target = tmp_path / "portrait.stylepaint"
    monkeypatch.setattr(unsaved_dialog, "ask", lambda parent, name: asked.append(name) or "save")
    monkeypatch.setattr(QFileDialog, "exec", lambda self: 1)
    monkeypatch.setattr(QFileDialog, "selectedFiles", lambda self: [str(target)])
    w.action_quit.trigger()
    assert len(asked) == 2 and not w.isVisible() and target.is_file()
    assert not documents.autosave_path().exists()                  # saved: nothing left to restore

    again = open_window(qtbot, engine, None, tmp_path, reopen=True)   # a plain start
    assert again.documents.path == target and not again.documents.dirty
    same_work(again.controller.state, w.controller.state)
    assert np.array_equal(image_of(again), shown)
    assert again.recent_menu.actions()[0].toolTip() == str(target)


def test_a_saved_document_reopens_to_the_same_pixels(qtbot, engine, model, tmp_path):
    w = open_window(qtbot, engine, model, tmp_path)
    make_work(w)
    w.controller.on_seed(8)
    w.actions.add_favorite("B")
    w.controller.on_seed(5)
    w.blend_panel.feather.setValue(0)
    w.actions.blend_with(w.favorites_dock.ids()[0])
    shown = image_of(w)
    assert w.documents.dirty and w.windowTitle().startswith("• Untitled")
    assert w.documents.save_to(tmp_path / "doc")
    path = tmp_path / "doc.stylepaint"
    assert path.is_file() and not w.documents.dirty and w.windowTitle().startswith("doc.stylepaint")
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
    assert "document.json" in names and any(n.startswith("masks/") and n.endswith(".png") for n in names)

    other = open_window(qtbot, engine, model, tmp_path / "other")
    other.controller.on_seed(99)
    assert other.documents.open_from(path)
    same_work(other.controller.state, w.controller.state)
    assert other.controller.state.blend["mode"] == w.controller.state.blend["mode"]
    assert np.array_equal(image_of(other), shown)
    other.controller.undo()                                       # a fresh document: nothing to undo
    assert np.array_equal(image_of(other), shown)


@pytest.mark.parametrize("version, words", [(0, "older stylepaint"), (7, "newer stylepaint")])
def test_other_schema_versions_are_refused_in_one_sentence(qtbot, engine, model, tmp_path, version, words):
    w = open_window(qtbot, engine, model, tmp_path)
    make_work(w)
    assert w.documents.save_to(tmp_path / "a.stylepaint")
    with zipfile.ZipFile(tmp_path / "a.stylepaint") as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    doc = json.loads(members["document.json"])
    doc["version"] = version
    members["document.json"] = json.dumps(doc).encode()
    with zipfile.ZipFile(tmp_path / "b.stylepaint", "w") as zf:
        for n, data in members.items():
            zf.writestr(n, data)
    before = w.controller.state
    assert not w.documents.open_from(tmp_path / "b.stylepaint")
    assert words in w.message_bar.text() and "\n" not in w.message_bar.text()
    assert w.controller.state is before
    (tmp_path / "c.stylepaint").write_bytes(b"not a zip")
    assert not w.documents.open_from(tmp_path / "c.stylepaint")
    assert "not a stylepaint document" in w.message_bar.text()


KILLED_APP = r"""
import sys, time
from pathlib import Path
sys.path.insert(0, {tests!r})
import numpy as np, torch
torch.set_num_threads(1)
from PySide6.QtWidgets import QApplication
from gui_support import image_of, make_engine
from test_gui_documents import make_work
from stylepaint.gui import documents
from stylepaint.gui.main_window import MainWindow
from stylepaint.gui.worker import RenderWorker
app = QApplication([])
renderer, spec = make_engine(Path({model!r}), Path({folder!r}))
w = MainWindow(model={model!r}, clip=spec, worker=RenderWorker(render_fn=renderer.render, sync=True))
w.show()
shown = make_work(w)
np.save({out!r}, shown)
end = time.monotonic() + 60
while not documents.autosave_path().exists() and time.monotonic() < end:
    app.processEvents()
    time.sleep(0.05)
print("autosaved" if documents.autosave_path().exists() else "no autosave", flush=True)
while True:
    app.processEvents()
    time.sleep(0.05)
"""


def test_a_killed_app_restores_its_work_on_the_next_start(qtbot, engine, model, tmp_path):
    script = tmp_path / "app.py"
    shown_file = tmp_path / "shown.npy"
    (tmp_path / "engine").mkdir()
    script.write_text(KILLED_APP.format(tests=str(TESTS), model=str(model), folder=str(tmp_path / "engine"),
                                        out=str(shown_file)))
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}      # STYLEPAINT_HOME: this test's own
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env)
    try:
        line = proc.stdout.readline()
        assert line.strip() == "autosaved", line + proc.stderr.read() if proc.poll() is not None else line
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
    state, arrays = load_document(documents.autosave_path())
    assert state["edits"][0]["mask"] in state["mask_keys"]

    w = open_window(qtbot, engine, model, tmp_path / "fresh")
    assert "Restored the unsaved work" in w.message_bar.text() and w.documents.dirty
    s = w.controller.state
    assert [e.prompt for e in s.edits] == ["curly hair"] and s.draft.prompt == "smiling" and s.seed == 5
    assert s.edits[0].mask in s.masks and s.masks[s.edits[0].mask].max() > 0
    assert np.array_equal(image_of(w), np.load(shown_file))
