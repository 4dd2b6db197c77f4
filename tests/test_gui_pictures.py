"""Blend, morph and favorites reproduce the pictures they refer to (issue 14, items 5-7):
real renderer, 64 px fixture generator, tiny random CLIP, offscreen windows."""

from __future__ import annotations

import copy

import numpy as np
import pytest
from gui_support import diff, image_of, set_prompt

pytestmark = [pytest.mark.gui, pytest.mark.usefixtures("one_torch_thread")]


def test_blend_shows_face_b_with_its_edits(window):
    w = window
    w.controller.on_seed(7)
    b_plain = image_of(w)
    set_prompt(w, "smiling", alpha=8)
    b_edited = image_of(w)
    w.actions.add_favorite("B smiling")
    w.edit_stack.set_steps((), None)
    w.controller.change(w.controller.state.with_(draft=None, edits=(), active=None, seed=3))
    w.blend_panel.feather.setValue(0)
    w.actions.blend_with(w.favorites_dock.ids()[0])
    right = image_of(w)[:, 44:]
    print(f"\nright half vs B edited {diff(right, b_edited[:, 44:]):.2f}, vs B unedited {diff(right, b_plain[:, 44:]):.2f}")
    assert diff(b_edited[:, 44:], b_plain[:, 44:]) > 1.0
    assert diff(right, b_edited[:, 44:]) < 0.25 * diff(right, b_plain[:, 44:])


@pytest.mark.parametrize("space", ["w+", "s"])
def test_morph_at_one_is_the_favorite_pixel_for_pixel_and_at_zero_the_current_image(window, space):
    w = window
    c = w.controller
    c.on_seed(7)
    set_prompt(w, "old", alpha=5)
    w.prompt_panel.add_button.click()                 # one edit in the stack ...
    c.on_select(None)
    set_prompt(w, "smiling", alpha=7)                # ... and one still in the prompt panel
    assert len(c.state.edits) == 1 and c.state.draft.prompt == "smiling"
    w.actions.add_favorite("F")
    favorite = np.asarray(c.full_result["image"]).copy()
    c.change(c.state.with_(seed=3, edits=(), draft=None, active=None))
    set_prompt(w, "curly hair", alpha=4)
    current = image_of(w)
    w.actions.morph_towards(w.favorites_dock.ids()[0])
    (w.morph_panel.space_w if space == "w+" else w.morph_panel.space_s).click()
    w.morph_panel.t_spin.setValue(1.0)
    assert c.result["args"]["morph"]["space"] == space
    assert np.array_equal(image_of(w), favorite)
    w.morph_panel.t_spin.setValue(0.0)
    assert np.array_equal(image_of(w), current)


def test_a_favorite_saved_with_partial_directions_renders_as_saved_after_the_build(window, engine):
    from stylepaint.directions import Editor

    renderer, spec = engine
    w = window
    c = w.controller
    G = renderer.generator(c.state.model, "auto")
    full = renderer.editor(G, spec)
    partial = copy.deepcopy(full.relevance)
    half = partial.offsets()[partial.layers[len(partial.layers) // 2]][0]
    partial.R[half:] = 0                                        # the later layers not built yet
    partial.done = [i < len(partial.layers) // 2 for i in range(len(partial.layers))]
    renderer.set_editor(G, spec, Editor(partial, full.text, G.img_resolution, full.default_neutral))
    try:
        c.on_seed(5)
        set_prompt(w, "curly hair", alpha=6, beta=0.0)
        saved = image_of(w)
        w.actions.add_favorite("partial")
    finally:
        renderer.set_editor(G, spec, full)                      # the build finished
    c.change(c.state.with_(seed=9, draft=None))
    set_prompt(w, "curly hair", alpha=6, beta=0.0)
    assert diff(image_of(w), saved) > 0                         # live edits now use the full directions
    w.actions.restore_favorite(w.favorites_dock.ids()[0])
    assert np.array_equal(image_of(w), saved)
