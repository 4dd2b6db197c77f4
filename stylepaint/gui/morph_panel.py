"""The morph panel: interpolate from the current face and edits towards a favorite, in W+
(latent) or S (StyleSpace), with a slider; below it, attribute morphs (``AttributeMorph``): one
group's value moved to another, the rest kept."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QButtonGroup, QCheckBox, QComboBox, QDoubleSpinBox, QFormLayout, QFrame, QHBoxLayout, QLabel, QRadioButton, QSlider,
    QWidget,
)

from stylepaint.gui.attribute_morph import AttributeMorph


class MorphPanel(QWidget):
    morph_changed = Signal(object, bool)      # settings dict | None (off), final

    def __init__(self, parent=None):
        super().__init__(parent)
        self.enabled = QCheckBox("Morph towards a favorite")
        self.target = QComboBox()
        self.target.setToolTip("The favorite to morph towards")
        self.t = QSlider(Qt.Orientation.Horizontal)
        self.t.setRange(0, 100)
        self.t_spin = QDoubleSpinBox()
        self.t_spin.setRange(0.0, 1.0)
        self.t_spin.setSingleStep(0.01)
        self.t_spin.setKeyboardTracking(False)
        self.t_spin.setFixedWidth(72)
        self.space_w = QRadioButton("W+")
        self.space_w.setToolTip("Interpolate the latents (W+)")
        self.space_s = QRadioButton("S")
        self.space_s.setToolTip("Interpolate the styles (StyleSpace)")
        self.space_w.setChecked(True)
        self._group = QButtonGroup(self)
        self._group.addButton(self.space_w)
        self._group.addButton(self.space_s)
        t_row = QHBoxLayout()
        t_row.addWidget(self.t, 1)
        t_row.addWidget(self.t_spin)
        space_row = QHBoxLayout()
        space_row.addWidget(self.space_w)
        space_row.addWidget(self.space_s)
        space_row.addStretch(1)
        form = QFormLayout(self)
        form.addRow(self.enabled)
        form.addRow("Towards", self.target)
        form.addRow("Amount", t_row)
        form.addRow("Space", space_row)
        line = QFrame()
        line.setFrameShape(QFrame.Shape.HLine)
        form.addRow(line)
        heading = QLabel("<b>Attributes</b>: morph one, keep the rest")
        heading.setWordWrap(True)
        form.addRow(heading)
        self.attributes = AttributeMorph()
        form.addRow(self.attributes)

        self.enabled.toggled.connect(lambda _: self._emit(True))
        self.target.currentIndexChanged.connect(lambda _: self._emit(True))
        self.t.valueChanged.connect(self._from_slider)
        self.t.sliderReleased.connect(lambda: self._emit(True))
        self.t_spin.valueChanged.connect(self._from_spin)
        self._group.buttonToggled.connect(lambda b, on: on and self._emit(True))

    def _from_slider(self, v: int) -> None:
        self.t_spin.blockSignals(True)
        self.t_spin.setValue(v / 100)
        self.t_spin.blockSignals(False)
        self._emit(not self.t.isSliderDown())

    def _from_spin(self, v: float) -> None:
        self.t.blockSignals(True)
        self.t.setValue(round(v * 100))
        self.t.blockSignals(False)
        self._emit(True)

    def set_targets(self, favorites) -> None:
        current = self.target.currentData()
        self.target.blockSignals(True)
        self.target.clear()
        for fav in favorites:
            self.target.addItem(fav.name, fav.id)
        i = self.target.findData(current)
        self.target.setCurrentIndex(i if i >= 0 else 0)
        self.target.blockSignals(False)

    def choose(self, fav_id: str) -> None:
        for w in (self.target, self.enabled):
            w.blockSignals(True)
        i = self.target.findData(fav_id)
        if i >= 0:
            self.target.setCurrentIndex(i)
        self.enabled.setChecked(True)
        for w in (self.target, self.enabled):
            w.blockSignals(False)
        if self.t.value() == 0:
            self.t.setValue(50)
        else:
            self._emit(True)

    def settings(self) -> dict | None:
        if not self.enabled.isChecked() or self.target.currentData() is None:
            return None
        return {"favorite": self.target.currentData(), "label": self.target.currentText(),
                "t": self.t_spin.value(), "space": "s" if self.space_s.isChecked() else "w+"}

    def _emit(self, final: bool) -> None:
        self.morph_changed.emit(self.settings(), final)

    def switch_off(self) -> None:
        self.enabled.blockSignals(True)
        self.enabled.setChecked(False)
        self.enabled.blockSignals(False)
