"""The export dialog (issue 14, Export dialog): format PNG/JPEG/WebP/TIFF with metadata where
the format holds it, scale 1x/2x/4x, the face or the edited photo (the photo path is tested
end to end in test_gui_photo_export); the zoom percentage in the status bar."""

from __future__ import annotations

import json

import numpy as np
import pytest
from gui_support import image_of, set_prompt
from PIL import Image

from stylepaint import imagefiles
from stylepaint.document import PNG_KEY
from stylepaint.gui.export_dialog import ExportDialog

pytestmark = pytest.mark.gui


def test_the_dialog_keeps_format_suffix_quality_and_choice_consistent(qtbot, tmp_path):
    d = ExportDialog(str(tmp_path / "face.png"), "png", 2, photo_name=None)
    qtbot.addWidget(d)
    assert (d.fmt, d.scale, d.source) == ("png", 2, "face")
    assert not d.photo_choice.isEnabled() and not d.quality_spin.isEnabled()
    d.format_box.setCurrentIndex(d.format_box.findData("jpeg"))
    assert d.path.endswith("face.jpg") and d.quality_spin.isEnabled() and "document does not fit" in d.keeps.text()
    d.path_edit.clear()
    qtbot.keyClicks(d.path_edit, str(tmp_path / "other.TIFF"))
    assert d.fmt == "tiff" and not d.quality_spin.isEnabled()
    d.path_edit.clear()
    qtbot.keyClicks(d.path_edit, " ")
    assert not d.buttons.button(d.buttons.StandardButton.Save).isEnabled()     # no file, no Save
    p = ExportDialog(str(tmp_path / "me-edited.webp"), "webp", 4, photo_name="me.jpg")
    qtbot.addWidget(p)
    assert p.fmt == "webp" and p.photo_choice.isEnabled() and "me.jpg" in p.photo_choice.text()
    p.photo_choice.setChecked(True)
    assert p.source == "photo" and p.scale == 1 and not p.scale_box.isEnabled()   # a photo keeps its size


def _answer(monkeypatch, path, fmt, scale=1, quality=None):
    def exec_(dialog):
        dialog.format_box.setCurrentIndex(dialog.format_box.findData(fmt))
        dialog.scale_box.setCurrentIndex(dialog.scale_box.findData(scale))
        if quality is not None:
            dialog.quality_spin.setValue(quality)
        dialog.path_edit.setText(str(path))
        return 1
    monkeypatch.setattr(ExportDialog, "exec", exec_)


def test_export_writes_each_format_with_its_metadata_at_the_chosen_scale(window, tmp_path, monkeypatch):
    w = window
    set_prompt(w, "curly hair", alpha=5)
    shown = image_of(w)
    for fmt, scale in (("png", 2), ("jpeg", 1), ("webp", 4), ("tiff", 2)):
        path = tmp_path / f"out{imagefiles.FORMATS[fmt][1]}"
        _answer(monkeypatch, path, fmt, scale, quality=90)
        w.action_export.trigger()
        assert path.is_file(), w.message_bar.text()
        with Image.open(path) as im:
            assert im.format == imagefiles.FORMATS[fmt][0] and im.size == (shown.shape[1] * scale, shown.shape[0] * scale)
            pixels = np.asarray(im.convert("RGB"))
        if scale == 1:
            assert np.abs(pixels.astype(int) - shown.astype(int)).mean() < 8           # the picture, lossy or not
        meta = imagefiles.read_image_metadata(path)
        assert json.loads(meta["edits"])[0]["prompt"] == "curly hair" and meta["model"].endswith("sg2ada-64px.pkl")
        assert PNG_KEY in meta and "omitted" not in meta           # a small document fits even JPEG's EXIF
    assert w.settings["export_format"] == "tiff" and w.settings["export_scale"] == 2   # remembered
    assert w.settings["export_quality"] == 90


def test_jpeg_leaves_out_what_its_exif_cannot_hold_and_says_so(tmp_path):
    image = np.full((16, 16, 3), 90, np.uint8)
    meta = {"seed": 3, PNG_KEY: "A" * 100_000}                  # a document with large painted masks
    for fmt in imagefiles.FORMATS:
        path = tmp_path / f"big{imagefiles.FORMATS[fmt][1]}"
        imagefiles.write_file(path, imagefiles.image_bytes(image, meta, 1, fmt))
        back = imagefiles.read_image_metadata(path)
        assert back["seed"] == "3"
        if fmt == "jpeg":
            assert PNG_KEY not in back and json.loads(back["omitted"]) == [PNG_KEY]
        else:
            assert back[PNG_KEY] == meta[PNG_KEY]


def test_a_typed_special_path_is_refused(window, monkeypatch):
    w = window
    _answer(monkeypatch, "/proc/self/stat.png", "png")
    w.action_export.trigger()
    assert "Cannot use that file" in w.message_bar.text()


def test_the_status_bar_shows_the_zoom(window, qtbot):
    w = window
    w.resize(1200, 800)
    w.show()
    qtbot.waitExposed(w)
    fitted = w.canvas.zoom_percent()
    assert w.status_zoom.text() == f"{fitted:.0f} %" and fitted > 100      # a 64 px face fills the canvas
    w.action_zoom_in.trigger()
    assert w.status_zoom.text() == f"{fitted * 1.25:.0f} %"
    w.action_actual.trigger()
    assert w.status_zoom.text() == "100 %"
