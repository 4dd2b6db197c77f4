"""Attribute morph sliders (issue 13): per vocabulary group a value, a target and a slider, kept
as edit layers of the stack (global directions from the value's phrase to the target's), so
the picture moves smoothly with the slider, morphs stack with each other and with typed edits,
undo and recipes replay them. The widget alone with qtbot; the window on the 64 px fixture with
random directions (what the face becomes is the default model's business; here: that the
slider drives one layer smoothly and leaves everything else alone)."""

from __future__ import annotations

import numpy as np
import pytest
from gui_support import diff, image_of, set_prompt

from stylepaint.edits import EditStep
from stylepaint.gui.attribute_morph import NONE, UNKNOWN, AttributeMorph
from stylepaint.gui.morph_layers import END_ALPHA

pytestmark = pytest.mark.gui

GROUPS = {"hair_color": ("hair colour", ["brown", "red"]), "expression": ("expression", ["neutral", "smiling"])}


def choose(combo, data):
    combo.setCurrentIndex(combo.findData(data))
    combo.activated.emit(combo.currentIndex())


def test_rows_emit_from_target_and_t_and_show_the_stack(qtbot):
    widget = AttributeMorph()
    qtbot.addWidget(widget)
    widget.set_groups(GROUPS)
    source, target, slider = widget.rows["hair_color"]
    assert source.currentText() == UNKNOWN and target.currentText() == NONE and not slider.isEnabled()
    with qtbot.waitSignal(widget.morph_changed) as sig:
        choose(target, "red")
    assert sig.args == ["hair_color", None, "red", 0.0, True] and slider.isEnabled()
    widget.set_face_values({"hair_color": "brown", "not_a_group": "x"})
    assert source.currentData() == "brown"
    with qtbot.waitSignal(widget.morph_changed) as sig:
        slider.setValue(40)
    assert sig.args == ["hair_color", "brown", "red", 0.4, True]
    widget.set_morphs({"expression": ("neutral", "smiling", 0.25)})
    assert widget.value("expression") == ("neutral", "smiling", 0.25)
    assert widget.value("hair_color")[1:] == (None, 0.0) and not slider.isEnabled()
    with qtbot.waitSignal(widget.read_requested):
        widget.read.click()


def test_a_morph_is_a_layer_the_slider_moves_smoothly_and_the_rest_stays(window):
    w, c = window, window.controller
    rows = w.morph_panel.attributes.rows
    assert {"hair_color", "expression", "eyewear", "background"} <= set(rows)
    set_prompt(w, "curly hair", alpha=3)
    w.prompt_panel.add_button.click()
    typed = c.state.edits[0]
    start = image_of(w)
    source, target, slider = rows["hair_color"]
    choose(source, "brown")
    choose(target, "red")
    assert c.state.edits[1] == EditStep("a portrait of a person with red hair", "a portrait of a person with brown hair",
                                        alpha=0.0, beta=c.settings["beta"], name="hair colour: brown → red")
    assert np.array_equal(image_of(w), start)                     # t = 0: the face as it was
    pictures = []
    for t in (0.25, 0.5, 0.75, 1.0):
        slider.setValue(round(t * 100))
        assert c.state.edits[1].alpha == pytest.approx(t * END_ALPHA) and c.state.edits[0] == typed
        pictures.append(image_of(w))
    away = [diff(p, start) for p in pictures]
    steps = [diff(a, b) for a, b in zip([start] + pictures, pictures)]
    print(f"\nmorph t 0.25..1: mean |Δ| from the start {np.round(away, 2)}, per quarter {np.round(steps, 2)}")
    assert all(b > a for a, b in zip(away, away[1:]))            # moves steadily away ...
    assert max(steps) < 0.5 * sum(steps)                          # ... with no jump
    slider.setValue(51)
    assert diff(image_of(w), pictures[1]) < 0.2 * steps[2]       # a tick moves it a little: no snapping
    slider.setValue(100)
    assert w.edit_stack.list.item(1).text() == "hair colour: brown → red"
    # a second group stacks; a target of "—" removes only its layer; undo brings it back
    choose(rows["expression"][1], "smiling")
    rows["expression"][2].setValue(50)
    assert [s.name or s.prompt for s in c.state.edits] == ["curly hair", "hair colour: brown → red",
                                                           "expression: this face → smiling"]
    assert c.state.edits[2].prompt == "a portrait of a person with a smile"
    assert c.state.edits[2].neutral == "a portrait of a person"             # the face's value unknown
    choose(target, None)
    assert [s.name or s.prompt for s in c.state.edits] == ["curly hair", "expression: this face → smiling"]
    assert not slider.isEnabled()
    c.undo()
    assert len(c.state.edits) == 3 and c.state.edits[1].name == "hair colour: brown → red"
    assert w.morph_panel.attributes.value("hair_color") == ("brown", "red", 1.0)


def test_read_this_face_sets_the_values_the_oracle_sees_without_the_edits(window, engine):
    from stylepaint.tag_faces import read_tags

    w, c = window, window.controller
    rows = w.morph_panel.attributes.rows
    choose(rows["hair_color"][1], "red")
    rows["hair_color"][2].setValue(100)                          # an edit on the picture: not read
    w.morph_panel.attributes.read.click()
    args = dict(c.render_args(before=True))
    args.pop("preview_size", None)
    seen = read_tags(engine[0].render(**args)["image"])[0]
    assert {g: rows[g][0].currentData() for g in rows} == {g: seen[g] for g in rows}


def test_a_morph_layer_switched_to_a_mapper_keeps_its_slider(window):
    """α scales every method alike; for a mapper the slider's right end is α 1, its result."""
    w, c = window, window.controller
    w.settings["mapper_steps"] = 2
    source, target, slider = w.morph_panel.attributes.rows["eyewear"]
    choose(source, "none")
    choose(target, "glasses")
    slider.setValue(50)
    assert c.state.edits[0].alpha == pytest.approx(0.5 * END_ALPHA)
    w.edit_stack.method_requested.emit(0, "mapper")
    assert c.state.edits[0].method == "mapper" and c.state.edits[0].prompt == "a portrait of a person with glasses"
    assert w.morph_panel.attributes.value("eyewear") == ("none", "glasses", 1.0)   # the mapper's result: α 1
    slider.setValue(25)
    assert c.state.edits[0].alpha == pytest.approx(0.25) and c.state.edits[0].method == "mapper"


def test_on_a_model_with_the_portrait_code_a_morph_is_exact(qtbot, engine, tmp_path):
    """The default model's kind: the morph layer stores the shift that moves only that group's
    code slots from the face's own value (read off W, not guessed) to the target."""
    import torch
    from gui_support import open_window

    from stylepaint.code_morph import code_morph_delta
    from stylepaint.engine.checkpoints import save_generator
    from stylepaint.engine.networks import Generator
    from stylepaint.portraits.latent_code import write_mapping
    from stylepaint.tag_faces import portrait_code

    torch.manual_seed(0)
    G = Generator(z_dim=128, w_dim=128, img_resolution=16, mapping_layers=2, channel_base=64, channel_max=8)
    write_mapping(G)
    save_generator(G.eval(), tmp_path / "code.safetensors")
    w = open_window(qtbot, engine, tmp_path / "code.safetensors", tmp_path / "b")
    try:
        c, start = w.controller, image_of(w)
        ws = c.result["metadata"]["ws"]
        G_loaded = engine[0].generator(str(tmp_path / "code.safetensors"), "auto")
        own = portrait_code(G_loaded).decode(np.asarray(ws[:1], np.float64))[0]["attributes"]["hair_color"]
        goal = "red" if own != "red" else "blue"
        source, target, slider = w.morph_panel.attributes.rows["hair_color"]
        choose(target, goal)
        layer = c.state.edits[0]
        expected, found = code_morph_delta(G_loaded, ws, "hair_color", goal)
        assert layer.method == "optimize" and found == own
        assert layer.name == f"hair colour: {own} → {goal} (exact)"
        assert np.allclose(np.asarray(layer.delta, np.float32), expected, atol=1e-6)
        assert layer.alpha == 0.0 and np.array_equal(image_of(w), start)
        slider.setValue(100)
        assert c.state.edits[0].alpha == 1.0 and len(c.state.edits) == 1
        assert diff(image_of(w), start) > 0
        assert w.morph_panel.attributes.value("hair_color") == (own, goal, 1.0)
    finally:
        w.worker.stop()
