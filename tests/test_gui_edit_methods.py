"""Edit methods in the editor (issue 17, Editor): a layer is made with global directions, the
latent optimizer or a latent mapper, picked in the prompt panel or the layer's right-click menu.
The optimizer and mapper run as jobs (progress, cancel); the layer keeps the optimizer's Δ so
undo, favorites, recipes and documents replay it without optimizing again; α scales every
method; a cancelled job leaves the layer untouched; bad input is one sentence in the message
bar. 64 px fixture, tiny random CLIP, the window's real jobs."""

from __future__ import annotations

import numpy as np
import pytest
from gui_support import diff, image_of, open_window, set_prompt

from stylepaint.edits import EditStep, Recipe
from stylepaint.gui.edit_methods import EMPTY_PROMPT
from stylepaint.gui.edit_stack import _STRENGTH

pytestmark = [pytest.mark.gui, pytest.mark.usefixtures("one_torch_thread")]


def pick(w, method):
    """Choose ``method`` in the prompt panel's Method box, as a user does."""
    combo = w.prompt_panel.method
    combo.activated.emit(combo.findData(method))


def plain_image(engine, w):
    renderer, _ = engine
    args = dict(w.controller.render_args(), edits=[])
    args.pop("preview_size", None)
    return renderer.render(**args)["image"]


def test_optimized_layer_keeps_its_delta_and_replays_without_optimizing(window, engine, tmp_path, monkeypatch):
    w, c = window, window.controller
    w.settings["optimize_steps"] = 4
    set_prompt(w, "red hair", alpha=3)
    directions = image_of(w)
    w.prompt_panel.add_button.click()
    pick(w, "optimize")
    step = c.state.edits[0]
    assert step.method == "optimize" and step.alpha == 1.0 and step.prompt == "red hair"
    G = engine[0].generator(c.state.model, "auto")
    assert len(step.delta) == sum(layer.channels for layer in G.style_layers)
    optimized = image_of(w)
    assert diff(optimized, plain_image(engine, w)) > 0 and diff(optimized, directions) > 0
    assert w.edit_stack.list.item(0).data(_STRENGTH) == "α +1.0 · optimized"
    assert w.prompt_panel.method.currentData() == "optimize" and not w.prompt_panel.beta.isEnabled()
    # α scales the stored Δ: 0 is the plain face, 2 moves further
    w.prompt_panel.alpha.spin.setValue(0.0)
    assert np.array_equal(image_of(w), plain_image(engine, w))
    w.prompt_panel.alpha.spin.setValue(1.0)
    assert np.array_equal(image_of(w), optimized) and c.state.edits[0].delta == step.delta

    # from here on nothing may optimize again
    import stylepaint.styleclip as styleclip

    monkeypatch.setattr(styleclip, "optimize", lambda *a, **k: pytest.fail("optimized again"))
    fav = w.actions.add_favorite("optimized")
    w.actions.save_recipe_to(tmp_path / "r.json")
    assert w.documents.save_to(tmp_path / "doc.stylepaint")
    c.undo()                                          # α 0 -> 1 back to 0
    c.undo()                                          # ... and the layer's method back to directions
    c.undo()
    assert c.state.edits[0].method == "directions" and np.array_equal(image_of(w), directions)
    c.redo()
    assert c.state.edits[0] == step and np.array_equal(image_of(w), optimized)
    w.controller.on_seed(5)
    w.actions.restore_favorite(fav.id)
    assert c.state.edits[0] == step and np.array_equal(image_of(w), optimized)
    assert Recipe.load(tmp_path / "r.json").steps == [step]
    w.documents.new()
    assert w.documents.open_from(tmp_path / "doc.stylepaint")
    assert c.state.edits[0] == step and np.array_equal(image_of(w), optimized)


def test_the_layer_menu_picks_the_method_and_back_to_directions(window):
    w, c = window, window.controller
    w.settings["optimize_steps"] = 2
    set_prompt(w, "a smiling face", alpha=4)
    w.prompt_panel.add_button.click()
    menu = w.edit_stack.method_menu(0)
    labels = [a.text() for a in menu.actions()]
    assert labels == ["Make with directions", "Make with optimized", "Make with mapper",
                      "Read as an instruction (universal mapper)"]
    assert [a.isChecked() for a in menu.actions()] == [True, False, False, False]
    menu.actions()[1].trigger()
    assert c.state.edits[0].method == "optimize"
    menu = w.edit_stack.method_menu(0)
    assert menu.actions()[1].text() == "Optimize again for this face"
    menu.actions()[0].trigger()
    back = c.state.edits[0]
    assert back.method == "directions" and back.delta is None and back.alpha == 1.0


def test_mapper_is_trained_once_then_reused_and_alpha_zero_is_the_identity(window, engine):
    w, c = window, window.controller
    w.settings["mapper_steps"] = 3
    set_prompt(w, "blue eyes", alpha=2)
    w.prompt_panel.add_button.click()
    plain = plain_image(engine, w)
    pick(w, "mapper")
    assert c.state.edits[0].method == "mapper" and c.state.edits[0].delta is None
    assert "trained and saved" in w.message_bar.label.text()
    assert w.edit_stack.list.item(0).data(_STRENGTH) == "α +1.0 · mapper"
    mapped = image_of(w)
    assert diff(mapped, plain) > 0
    w.prompt_panel.alpha.spin.setValue(0.0)
    assert np.array_equal(image_of(w), plain)
    # the same prompt on another layer: the cached mapper, no training
    import stylepaint.styleclip as styleclip

    w.edit_stack.buttons["new"].click()
    set_prompt(w, "blue eyes", alpha=0)
    w.prompt_panel.add_button.click()
    assert c.state.edits[1].method == "directions"
    original = styleclip.train_mapper
    styleclip.train_mapper = lambda *a, **k: pytest.fail("trained again")
    try:
        w.edit_stack.method_requested.emit(1, "mapper")
    finally:
        styleclip.train_mapper = original
    assert c.state.edits[1].method == "mapper" and "found in the cache" in w.message_bar.label.text()


def test_errors_are_one_sentence_and_leave_the_layer_alone(window, engine, tiny_generator):
    w, c = window, window.controller
    pick(w, "optimize")                                   # nothing typed
    assert w.message_bar.label.text() == EMPTY_PROMPT and c.state.draft is None
    # a mapper file of another model where this model's would be
    from stylepaint.clip import load_clip
    from stylepaint.styleclip import mapper_path, save_mapper, train_mapper
    from stylepaint.styleclip.mapper import MapperParams

    renderer, spec = engine
    G = renderer.generator(c.state.model, "auto")
    clip = load_clip(spec)
    foreign = list(train_mapper(tiny_generator, clip, "green hair", params=MapperParams(steps=1)))[-1]["mapper"]
    save_mapper(foreign, path=mapper_path(G, clip, "green hair", None, "all"))
    set_prompt(w, "green hair", alpha=2)
    before = c.state
    pick(w, "mapper")
    text = w.message_bar.label.text()
    assert "another model" in text and "Traceback" not in text and "\n" not in text
    assert c.state.current_edit == before.current_edit and c.state.current_edit.method == "directions"


@pytest.mark.parametrize("method", ["optimize", "mapper"])
def test_cancel_leaves_the_layer_untouched(qtbot, engine, fixture_dir, tmp_path, method):
    w = open_window(qtbot, engine, fixture_dir / "sg2ada-64px.pkl", tmp_path, sync=False)
    try:
        qtbot.waitUntil(lambda: w.controller.result is not None, timeout=60000)
        w.settings["optimize_steps"] = w.settings["mapper_steps"] = 2000
        set_prompt(w, "curly hair", alpha=3)
        qtbot.waitUntil(lambda: [e["alpha"] for e in w.controller.result["args"]["edits"]] == [3.0]
                        and not w.worker.busy(), timeout=30000)
        before, shown = w.controller.state, image_of(w)
        pick(w, method)
        qtbot.waitUntil(lambda: bool(w.job_bar.rows) and "step" in w.job_bar.label.text(), timeout=60000)
        job = w.job_bar.job_id
        w.job_bar.rows[job].cancel.click()
        qtbot.waitUntil(lambda: not w.worker.running_jobs() and not w.worker.busy(), timeout=60000)
        qtbot.wait(50)
        assert w.controller.state is before and w.controller.state.current_edit.method == "directions"
        assert np.array_equal(image_of(w), shown) and not w.edit_methods.running
        assert isinstance(before.current_edit, EditStep)
    finally:
        w.worker.stop()


def test_a_layer_not_made_with_directions_has_a_badge_on_its_thumbnail(qtbot):
    from PySide6.QtGui import QColor, QPixmap

    from stylepaint.gui.edit_stack import BADGE, THUMB, _badged

    plain = QPixmap(THUMB, THUMB)
    plain.fill(QColor("black"))
    assert _badged(plain, "directions") is plain
    for method in ("optimize", "mapper"):
        image = _badged(plain, method).toImage()
        assert image.pixelColor(2, 2) == QColor("black")
        assert image.pixelColor(THUMB - BADGE // 2, THUMB - 2) != QColor("black")


def test_an_instruction_is_read_by_the_universal_mapper_and_names_the_layer(window, engine, tmp_path, monkeypatch):
    from stylepaint.clip import load_clip
    from stylepaint.styleclip.universal_mapper import save_universal, universal_path
    from stylepaint.styleclip.universal_training import UniversalParams, train_reader, train_universal

    w, c = window, window.controller
    renderer, spec = engine
    G = renderer.generator(c.state.model, "auto")
    clip = load_clip(spec)
    set_prompt(w, "make the hair red", alpha=0)
    pick(w, "instruction")                      # no universal mapper for this model yet: one sentence
    text = w.message_bar.label.text()
    assert "no universal mapper" in text and "\n" not in text and c.state.current_edit.method == "directions"

    params = UniversalParams(steps=2, batch=1, reader_batch=16, hidden=16, groups=("hair_color", "eyewear"), seed=1)
    model = list(train_universal(G, clip, tmp_path / "run", params))[-1]["mapper"]
    save_universal(train_reader(model, clip, sentence=True, steps=300), universal_path(G, clip))
    plain = plain_image(engine, w)
    pick(w, "instruction")
    step = c.state.current_edit
    assert step.method == "instruction" and step.delta is not None and step.alpha == 1.0
    assert step.label == "hair colour → red" and step.prompt == "make the hair red"
    assert w.prompt_panel.method.currentData() == "instruction"
    assert "Read “make the hair red” as instruction: hair colour → red." == w.message_bar.label.text()
    assert diff(image_of(w), plain) > 0
    w.prompt_panel.alpha.spin.setValue(0.0)
    assert np.array_equal(image_of(w), plain)
    # an instruction that names nothing the model knows: one sentence, the layer as it was
    w.edit_stack.buttons["new"].click()
    set_prompt(w, "make the engine louder", alpha=1)
    before = c.state.current_edit
    pick(w, "instruction")
    text = w.message_bar.label.text()
    assert "could not understand the instruction" in text, text
    assert c.state.current_edit == before and "Traceback" not in text
    # a reading the reader is unsure of is applied and said to be a guess, with what to do
    from stylepaint.styleclip import instructions

    monkeypatch.setattr(instructions, "UNSURE", 1.01)          # every reading counts as unsure
    w.edit_stack.buttons["new"].click()
    set_prompt(w, "make the hair red", alpha=1)
    pick(w, "instruction")
    text = w.message_bar.label.text()
    assert c.state.current_edit.label == "hair colour → red"
    assert "hair colour → red (instruction), a guess (" in text and "say it in other words" in text, text
    # the message offers the reader's runner-up; taking it makes the same layer with that target
    bar = w.message_bar
    assert bar.action_button.isVisibleTo(w) and bar.action_button.text().startswith("Use ")
    offered = bar.action_button.text()[len("Use "):]
    guessed = c.state.current_edit
    bar.action_button.click()
    made = c.state.current_edit
    assert made.label == offered != guessed.label and made.prompt == "make the hair red"
    assert made.method == "instruction" and not np.array_equal(made.delta, guessed.delta)
