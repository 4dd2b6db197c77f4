"""The blend panel: two faces in one picture - the current face is A, a favorite (or a
snapshot of the current face) is B; the mask is a left/right or top/bottom split or a
painted region, with a feathered seam; a slider picks from which layer on the faces blend
(coarse = shape and everything after it, fine = colour only)."""

from __future__ import annotations

import qtawesome as qta
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox, QComboBox, QFormLayout, QHBoxLayout, QLabel, QSlider, QToolButton, QWidget,
)

SNAPSHOT = "__snapshot__"
MODES = (("left-right", "Left | right"), ("top-bottom", "Top / bottom"), ("painted", "Painted region"))


def block_layers(resolution: int) -> list[str]:
    """First style layer of each synthesis block: b4.conv1, b8.conv0, ..., b{R}.conv0."""
    names, res = [], 4
    while res <= max(resolution, 4):
        names.append("b4.conv1" if res == 4 else f"b{res}.conv0")
        res *= 2
    return names


class BlendPanel(QWidget):
    blend_changed = Signal(object, bool)      # settings dict | None (off), final
    snapshot_requested = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self._layers = block_layers(256)
        self.enabled = QCheckBox("Blend with face B")
        self.enabled.setToolTip("Blend the current face (A) with face B")
        self.face_b = QComboBox()
        self.face_b.setToolTip("Face B: a favorite, or a snapshot of the current face")
        self.snapshot = QToolButton()
        self.snapshot.setIcon(qta.icon("mdi6.camera-outline"))
        self.snapshot.setToolTip("Use the current face as B, then pick another face as A")
        self.mode = QComboBox()
        for key, label in MODES:
            self.mode.addItem(label, key)
        self.feather = QSlider(Qt.Orientation.Horizontal)
        self.feather.setRange(0, 40)
        self.feather.setValue(5)
        self.feather.setToolTip("Feather: width of the soft seam, in % of the picture")
        self.from_layer = QSlider(Qt.Orientation.Horizontal)
        self.from_layer.setToolTip("Which layers blend: left = from the coarsest (shape and all), right = finest (colour)")
        self.layer_label = QLabel()
        self.layer_label.setWordWrap(True)
        b_row = QHBoxLayout()
        b_row.addWidget(self.face_b, 1)
        b_row.addWidget(self.snapshot)
        layer_row = QHBoxLayout()
        layer_row.addWidget(QLabel("shape"))
        layer_row.addWidget(self.from_layer, 1)
        layer_row.addWidget(QLabel("colour"))
        form = QFormLayout(self)
        form.addRow(self.enabled)
        form.addRow("Face B", b_row)
        form.addRow("Mask", self.mode)
        form.addRow("Feather", self.feather)
        form.addRow("Blend from", layer_row)
        form.addRow("", self.layer_label)
        self._set_layer_range()

        self.enabled.toggled.connect(lambda _: self._emit(True))
        self.face_b.currentIndexChanged.connect(lambda _: self._emit(True))
        self.mode.currentIndexChanged.connect(lambda _: self._emit(True))
        for s in (self.feather, self.from_layer):
            s.valueChanged.connect(lambda _, s=s: self._emit(not s.isSliderDown()))
            s.sliderReleased.connect(lambda: self._emit(True))
        self.snapshot.clicked.connect(self.snapshot_requested)

    def set_resolution(self, resolution: int) -> None:
        layers = block_layers(resolution)
        if layers != self._layers:
            self._layers = layers
            self._set_layer_range()

    def _set_layer_range(self) -> None:
        self.from_layer.blockSignals(True)
        self.from_layer.setRange(0, len(self._layers) - 1)
        self.from_layer.blockSignals(False)
        self._update_label()

    def _update_label(self) -> None:
        name = self._layers[self.from_layer.value()]
        self.layer_label.setText(f"from {name} ({'all layers' if self.from_layer.value() == 0 else 'finer layers only'})")

    def set_faces(self, favorites, has_snapshot: bool = False) -> None:
        """Fill the face-B list from favorites (objects with id and name)."""
        current = self.face_b.currentData()
        self.face_b.blockSignals(True)
        self.face_b.clear()
        if has_snapshot:
            self.face_b.addItem(qta.icon("mdi6.camera-outline"), "Snapshot of a face", SNAPSHOT)
        for fav in favorites:
            self.face_b.addItem(fav.name, fav.id)
        i = self.face_b.findData(current)
        self.face_b.setCurrentIndex(i if i >= 0 else 0)
        self.face_b.blockSignals(False)

    def choose(self, face_id: str, mode: str | None = None) -> None:
        """Select face B (a favorite id or SNAPSHOT) and switch blending on."""
        for w in (self.face_b, self.mode, self.enabled):
            w.blockSignals(True)
        i = self.face_b.findData(face_id)
        if i >= 0:
            self.face_b.setCurrentIndex(i)
        if mode is not None:
            self.mode.setCurrentIndex(self.mode.findData(mode))
        self.enabled.setChecked(True)
        for w in (self.face_b, self.mode, self.enabled):
            w.blockSignals(False)
        self._emit(True)

    def settings(self) -> dict | None:
        if not self.enabled.isChecked() or self.face_b.currentData() is None:
            return None
        return {
            "face_b": self.face_b.currentData(),
            "label": self.face_b.currentText(),
            "mode": self.mode.currentData(),
            "feather": self.feather.value() / 100,
            "from_layer": None if self.from_layer.value() == 0 else self._layers[self.from_layer.value()],
        }

    def _emit(self, final: bool) -> None:
        self._update_label()
        self.blend_changed.emit(self.settings(), final)

    def switch_off(self) -> None:
        self.enabled.blockSignals(True)
        self.enabled.setChecked(False)
        self.enabled.blockSignals(False)

    def show_on(self, blend: dict) -> None:
        """Show a blend the state holds (after undo, or a failed model's fallback); emits nothing."""
        widgets = (self.enabled, self.face_b, self.mode, self.feather, self.from_layer)
        for w in widgets:
            w.blockSignals(True)
        self.enabled.setChecked(True)
        i = self.face_b.findText(str(blend.get("label") or ""))
        if i >= 0:
            self.face_b.setCurrentIndex(i)
        i = self.mode.findData(blend.get("mode", "left-right"))
        if i >= 0:
            self.mode.setCurrentIndex(i)
        self.feather.setValue(round(float(blend.get("feather", 0.05)) * 100))
        layer = blend.get("from_layer")
        self.from_layer.setValue(self._layers.index(layer) if layer in self._layers else 0)
        for w in widgets:
            w.blockSignals(False)
        self._update_label()
