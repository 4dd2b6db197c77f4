"""Attribute morph sliders (issue 13): per vocabulary group, the face's value ("this face" until
it is read), a target value and a slider that moves the face from one to the other while the
rest stays. The window keeps each morph as an edit layer of the stack (global directions from
the value's phrase to the target's, or whatever method the layer is switched to), so morphs
stack, undo, save and export like any edit; this widget only shows and sets them."""

from __future__ import annotations

import qtawesome as qta
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QGridLayout, QLabel, QPushButton, QSlider, QVBoxLayout, QWidget

UNKNOWN = "this face"
NONE = "—"
STEPS = 100                      # slider ticks from the face's value (0) to the target (1)


class AttributeMorph(QWidget):
    morph_changed = Signal(str, object, object, float, bool)   # group, from | None, to | None, t 0..1, final
    read_requested = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.rows: dict[str, tuple[QComboBox, QComboBox, QSlider]] = {}
        self.read = QPushButton(qta.icon("mdi6.eye-outline"), "Read this face")
        self.read.setToolTip("Set each group's value from what the attribute oracle sees on the picture")
        self.grid = QGridLayout()
        self.grid.setContentsMargins(0, 0, 0, 0)
        self.grid.setHorizontalSpacing(4)
        self.grid.setColumnStretch(1, 1)
        self.grid.setColumnStretch(3, 2)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.read)
        layout.addLayout(self.grid)
        self.read.clicked.connect(self.read_requested)

    def set_groups(self, groups: dict[str, tuple[str, list[str]]] | None) -> None:
        """Group -> (label, values). None: no vocabulary (the section hides)."""
        while self.grid.count():
            self.grid.takeAt(0).widget().deleteLater()
        self.rows = {}
        for r, (group, (label, values)) in enumerate((groups or {}).items()):
            source, target = QComboBox(), QComboBox()
            source.addItem(UNKNOWN, None)
            target.addItem(NONE, None)
            for value in values:
                source.addItem(value, value)
                target.addItem(value, value)
            source.setToolTip(f"The face's {label} now (Read this face sets it)")
            target.setToolTip(f"The {label} to morph to; {NONE} removes the morph")
            for combo in (source, target):              # narrow docks: the combos shrink, not the slider
                combo.setMinimumContentsLength(4)
                combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            slider = QSlider(Qt.Orientation.Horizontal)
            slider.setRange(0, STEPS)
            slider.setEnabled(False)
            slider.setToolTip(f"From the face's {label} (left) to the target (right)")
            self.grid.addWidget(QLabel(label), 2 * r, 0)             # label and slider, then from -> to
            self.grid.addWidget(slider, 2 * r, 1, 1, 3)
            self.grid.addWidget(source, 2 * r + 1, 0, 1, 2)
            self.grid.addWidget(QLabel("→"), 2 * r + 1, 2)
            self.grid.addWidget(target, 2 * r + 1, 3)
            self.rows[group] = (source, target, slider)
            target.activated.connect(lambda _=0, g=group: self._emit(g, True))
            source.activated.connect(lambda _=0, g=group: self._emit(g, True) if self.value(g)[1] else None)
            slider.valueChanged.connect(lambda _=0, g=group, s=slider: self._emit(g, not s.isSliderDown()))
            slider.sliderReleased.connect(lambda g=group: self._emit(g, True))
        self.setVisible(bool(self.rows))

    def value(self, group: str) -> tuple[str | None, str | None, float]:
        source, target, slider = self.rows[group]
        return source.currentData(), target.currentData(), slider.value() / STEPS

    def _emit(self, group: str, final: bool) -> None:
        source, target, t = self.value(group)
        self.rows[group][2].setEnabled(target is not None)
        self.morph_changed.emit(group, source, target, t, final)

    # -- state -> widget (emits nothing) -----------------------------------------------------
    def set_face_values(self, values: dict[str, str]) -> None:
        """What the face shows now (the oracle's reading): the "from" of morphs made next."""
        for group, value in values.items():
            if group in self.rows:
                _set(self.rows[group][0], value)

    def set_morphs(self, morphs: dict[str, tuple[str | None, str, float]]) -> None:
        """Group -> (from, to, t) of the morph layers in the stack; other groups show none."""
        for group, (source, target, slider) in self.rows.items():
            if group in morphs:
                old, new, t = morphs[group]
                if old is not None:
                    _set(source, old)
                _set(target, new)
                slider.blockSignals(True)
                slider.setValue(round(min(max(t, 0.0), 1.0) * STEPS))
                slider.blockSignals(False)
            else:
                _set(target, None)
                slider.blockSignals(True)
                slider.setValue(0)
                slider.blockSignals(False)
            slider.setEnabled(group in morphs)


def _set(combo: QComboBox, data) -> None:
    combo.blockSignals(True)
    combo.setCurrentIndex(max(combo.findData(data), 0))
    combo.blockSignals(False)
