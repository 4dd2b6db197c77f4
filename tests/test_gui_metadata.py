"""Exported PNGs and recipes carry enough to re-create the picture (issue 14, item 8): the PNG's
metadata holds blend, morph, CLIP and the whole document, which ``stylepaint render --document``
turns back into the same pixels; a recipe keeps its region masks."""

from __future__ import annotations

import json

import numpy as np
import pytest
from gui_support import image_of, set_prompt

from stylepaint import imagefiles
from stylepaint.cli import main
from stylepaint.inversion.imageio import load_photo

pytestmark = [pytest.mark.gui, pytest.mark.usefixtures("one_torch_thread")]


def region_edit(w, prompt="curly hair", alpha=6):
    set_prompt(w, prompt, alpha=alpha)
    w.prompt_panel.add_button.click()
    w.canvas.set_tool("brush")
    w.canvas.begin_stroke((16, 16))
    w.canvas.continue_stroke((16, 16), (40, 30))
    w.canvas.end_stroke()
    w.canvas.set_tool("view")


def test_an_exported_png_re_creates_its_picture(window, tmp_path, capsys):
    w = window
    c = w.controller
    c.on_seed(8)
    set_prompt(w, "smiling", alpha=7)
    w.actions.add_favorite("B")
    c.change(c.state.with_(seed=5, draft=None))
    region_edit(w)
    w.blend_panel.feather.setValue(0)
    w.actions.blend_with(w.favorites_dock.ids()[0])
    shown = image_of(w)
    w.actions.export_png_to(tmp_path / "out.png", 1)
    meta = imagefiles.read_png_metadata(tmp_path / "out.png")
    assert json.loads(meta["blend"])["label"] and meta["clip"] and meta["document"]
    assert json.loads(meta["edits"])[0]["mask"] == "region1"
    assert main(["render", "--document", str(tmp_path / "out.png"), "-o", str(tmp_path / "again.png")]) == 0, \
        capsys.readouterr().err
    again = load_photo(tmp_path / "again.png").pixels
    assert np.array_equal(again, shown) and np.array_equal(load_photo(tmp_path / "out.png").pixels, shown)

    w.actions.morph_towards(w.favorites_dock.ids()[0])           # a morph is in it too
    w.actions.export_png_to(tmp_path / "morph.png", 1)
    assert json.loads(imagefiles.read_png_metadata(tmp_path / "morph.png")["morph"])["t"] == 0.5
    assert main(["render", "--document", str(tmp_path / "morph.png"), "-o", str(tmp_path / "m2.png")]) == 0
    assert np.array_equal(load_photo(tmp_path / "m2.png").pixels, image_of(w))


def test_a_recipe_keeps_its_region(window, tmp_path):
    w = window
    c = w.controller
    c.on_seed(5)
    region_edit(w)
    mask = c.state.masks["region1"].copy()
    w.actions.save_recipe_to(tmp_path / "recipe.json")
    assert "region1" in json.loads((tmp_path / "recipe.json").read_text())["masks"]
    c.change(c.state.with_(seed=11, edits=(), masks={}, active=None, draft=None))
    w.actions.apply_recipe_from(tmp_path / "recipe.json")
    s = c.state
    assert s.edits[0].mask == "region1" and np.array_equal(s.masks["region1"], mask)
    assert c.result["args"]["masks"].keys() == {"region1"}
