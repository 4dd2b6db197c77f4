"""Faces from tags in the editor (issue 13): a combo per vocabulary group ("any" first) or
free-text tags for a model without the portrait code; the search runs as a job on the worker's
thread; a grid of 8 faces; one click makes a face the current face, the context menu keeps it
as a favorite. The panel alone with qtbot; the window on the 64 px fixture (CLIP route, tiny
random CLIP) and on a tiny generator whose mapping computes the portrait code (exact route)."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch
from gui_support import diff, image_of, open_window

from stylepaint.gui.face_search import STALE
from stylepaint.gui.tag_faces_panel import ANY, COUNT, TagFacesPanel

pytestmark = [pytest.mark.gui, pytest.mark.usefixtures("one_torch_thread")]

GROUPS = {"hair_color": ("hair colour", ["black", "red"]), "eyewear": ("eyewear", ["none", "glasses"])}


def faces(n=COUNT, size=8):
    return [np.full((size, size, 3), 30 * i, np.uint8) for i in range(n)]


def test_panel_lists_groups_asks_for_faces_and_offers_each_face(qtbot):
    panel = TagFacesPanel()
    qtbot.addWidget(panel)
    panel.set_groups(GROUPS)
    assert list(panel.combos) == ["hair_color", "eyewear"]
    assert [panel.combos["eyewear"].itemText(i) for i in range(3)] == [f"eyewear: {ANY}", "eyewear: none", "eyewear: glasses"]
    assert panel.tags() is None
    panel.find.click()                                       # nothing chosen: a hint, no search
    assert "at least one group" in panel.status.text()
    panel.free.setText(" red hair,glasses ,")
    assert panel.tags() == ["red hair", "glasses"]
    panel.combos["hair_color"].setCurrentIndex(2)
    assert panel.tags() == {"hair_color": "red"}             # groups win over free text
    with qtbot.waitSignal(panel.search_requested) as sig:
        panel.find.click()
    assert sig.args == [{"hair_color": "red"}, 0] and not panel.find.isEnabled()
    panel.set_faces(faces(), "portrait code")
    assert panel.grid.count() == COUNT and panel.find.isEnabled() and panel.more.isEnabled()
    assert panel.status.text() == "8 faces by portrait code."
    with qtbot.waitSignal(panel.search_requested) as sig:
        panel.more.click()
    assert sig.args == [{"hair_color": "red"}, 1]
    with qtbot.waitSignal(panel.face_chosen) as sig:
        panel.grid.itemClicked.emit(panel.grid.item(3))
    assert sig.args == [3]
    menu = panel.face_menu(5)
    assert [a.text() for a in menu.actions()] == ["Edit this face", "Add to favorites"]
    with qtbot.waitSignal(panel.favorite_requested) as sig:
        menu.actions()[1].trigger()
    assert sig.args == [5]
    panel.set_groups(None)
    assert panel.combos == {} and panel.groups_box.isHidden()


def test_free_text_tags_run_on_the_worker_and_a_face_becomes_current_or_a_favorite(qtbot, engine, fixture_dir,
                                                                                  tmp_path, monkeypatch):
    import stylepaint.tag_faces as tag_faces

    threads = []
    real = tag_faces.faces_from_tags

    def spy(*args, **kwargs):
        threads.append(threading.current_thread())
        yield from real(*args, **kwargs)

    monkeypatch.setattr(tag_faces, "faces_from_tags", spy)
    w = open_window(qtbot, engine, fixture_dir / "sg2ada-64px.pkl", tmp_path, sync=False)
    try:
        qtbot.waitUntil(lambda: w.controller.result is not None, timeout=60000)
        panel = w.tag_faces_panel
        assert set(panel.combos) >= {"hair_color", "eyewear", "expression"}   # the vocabulary's groups
        panel.free.setText("red hair, glasses")
        panel.find.click()
        assert panel.grid.count() == 0 and not panel.find.isEnabled()        # the GUI thread did not wait
        qtbot.waitUntil(lambda: panel.grid.count() == COUNT, timeout=60000)
        assert threads and threads[0] is not threading.main_thread()
        found = w.face_search.found
        assert found["method"] == "CLIP search" and found["ws"].shape[0] == COUNT
        panel.grid.itemClicked.emit(panel.grid.item(2))
        assert np.array_equal(w.controller.state.ws, found["ws"][2])
        qtbot.waitUntil(lambda: w.controller.result["args"]["ws"] is not None and not w.worker.busy(), timeout=30000)
        assert diff(image_of(w), found["images"][2]) < 1.0                   # the face the grid showed
        fav = w.face_search.keep(6)
        assert fav.name == "red hair, glasses #7" and fav.name in w.favorites_dock.names()
        assert np.array_equal(w.store.get(fav.id).arrays["ws"], found["ws"][6])
    finally:
        w.worker.stop()


def test_groups_are_exact_on_a_portrait_code_generator_and_refused_elsewhere(qtbot, engine, fixture_dir, tmp_path):
    from stylepaint.engine.checkpoints import save_generator
    from stylepaint.engine.networks import Generator
    from stylepaint.portraits.latent_code import write_mapping
    from stylepaint.tag_faces import portrait_code

    torch.manual_seed(0)
    G = Generator(z_dim=128, w_dim=128, img_resolution=16, mapping_layers=2, channel_base=64, channel_max=8)
    write_mapping(G)
    save_generator(G.eval(), tmp_path / "code.safetensors")
    w = open_window(qtbot, engine, fixture_dir / "sg2ada-64px.pkl", tmp_path / "a")
    panel = w.tag_faces_panel
    panel.combos["hair_color"].setCurrentIndex(panel.combos["hair_color"].findData("red"))
    panel.find.click()
    assert "no attribute groups" in w.message_bar.label.text() and panel.find.isEnabled()
    assert "no attribute groups" in panel.status.text() and panel.grid.count() == 0
    assert panel.combos == {} and panel.groups_box.isHidden()        # this model: free text only
    w.controller.on_model(str(tmp_path / "code.safetensors"))         # another model: the groups again
    assert panel.combos and not panel.groups_box.isHidden()
    w.worker.stop()

    w = open_window(qtbot, engine, tmp_path / "code.safetensors", tmp_path / "b")
    panel = w.tag_faces_panel
    tags = {"hair_color": "pink", "expression": "surprised", "eyewear": "glasses"}
    for group, value in tags.items():
        panel.combos[group].setCurrentIndex(panel.combos[group].findData(value))
    panel.find.click()
    found = w.face_search.found
    assert panel.grid.count() == COUNT and found["method"] == "portrait code"
    code = portrait_code(engine[0].generator(str(tmp_path / "code.safetensors"), "auto"))
    records = code.decode(found["ws"][:, 0].astype(np.float64))
    assert all(r["attributes"][g] == v for r in records for g, v in tags.items())
    assert len({r["attributes"]["hair_style"] for r in records}) >= 2        # the rest still varies
    first = found["ws"]
    panel.more.click()                                                      # 8 other faces, same tags
    assert not np.array_equal(w.face_search.found["ws"], first)
    w.face_search.found["model_id"] = "another-model"
    panel.grid.itemClicked.emit(panel.grid.item(0))
    assert w.message_bar.label.text() == STALE and w.controller.state.ws is None
    w.worker.stop()
