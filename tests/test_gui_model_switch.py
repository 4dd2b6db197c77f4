"""Issue 14, item 9: switching model with a prompt typed. A valid model whose text directions
are not built opens (its face shows, with a warning that offers the build), never "could not
open that model"; a model that really fails brings the previous picture back with its blend
box as it was; messages about one model do not stay once another is shown."""

from __future__ import annotations

import pytest
from gui_support import set_prompt

pytestmark = pytest.mark.gui


def _blend_with_snapshot(w):
    w.controller.on_seed(7)
    w.actions.snapshot_for_blend()
    w.controller.on_seed(3)
    assert w.controller.state.blend is not None and w.blend_panel.enabled.isChecked()


def test_a_model_without_directions_opens_with_a_prompt_typed(window, fixture_dir):
    w = window
    set_prompt(w, "curly hair", alpha=3)
    assert w.controller.state.current_edit is not None
    other = str(fixture_dir / "rosinality-32px.pt")
    w.controller.on_model(other)
    assert w.controller.state.model == other                     # no fallback to the first model
    assert w.controller.model_meta["resolution"] == 32           # the new model's face is shown
    assert w.controller.result["image"].shape[0] == 32
    text = w.message_bar.text()
    assert "Could not open" not in text and "not built" in text
    assert w.message_bar.action_button.text() == "Build now" and not w.message_bar.action_button.isHidden()
    w.controller.on_model(str(fixture_dir / "sg2ada-64px.pkl"))  # back: its directions are there
    assert w.controller.model_meta["resolution"] == 64
    assert "not built" not in w.message_bar.text()
    assert w.controller.result["metadata"]["channels_moved"]     # and the prompt edits again


def test_a_failed_model_brings_the_blend_back_ticked_and_its_error_goes_once_a_model_opens(window, fixture_dir, tmp_path):
    w = window
    _blend_with_snapshot(w)
    set_prompt(w, "curly hair", alpha=3)
    broken = tmp_path / "broken.pkl"
    broken.write_bytes(b"not a checkpoint at all" * 10)
    w.controller.on_model(str(broken))
    assert w.controller.state.model == str(fixture_dir / "sg2ada-64px.pkl")
    assert "Could not open" in w.message_bar.text()
    assert w.controller.state.blend is not None
    assert w.blend_panel.enabled.isChecked()                     # the box says what renders
    w.controller.on_model(str(fixture_dir / "rosinality-32px.pt"))
    assert w.controller.model_meta["resolution"] == 32
    assert "Could not open" not in w.message_bar.text()          # that error is over


def test_undo_of_switching_blend_off_ticks_the_box_again(window):
    w = window
    _blend_with_snapshot(w)
    w.blend_panel.enabled.setChecked(False)
    assert w.controller.state.blend is None
    w.controller.undo()
    assert w.controller.state.blend is not None and w.blend_panel.enabled.isChecked()
