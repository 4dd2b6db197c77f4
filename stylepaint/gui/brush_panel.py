"""The brush panel: size, hardness and opacity of the region brush, and the quick-mask overlay
(show/hide, invert, fill, clear) of the region the selected edit applies to."""

from __future__ import annotations

import qtawesome as qta
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QCheckBox, QFormLayout, QHBoxLayout, QLabel, QSlider, QToolButton, QVBoxLayout, QWidget

SIZE_RANGE = (0.005, 0.5)          # brush radius, fraction of the image width (settings' range)


def _slider(lo: int, hi: int, tip: str) -> QSlider:
    s = QSlider(Qt.Orientation.Horizontal)
    s.setRange(lo, hi)
    s.setToolTip(tip)
    return s


class BrushPanel(QWidget):
    brush_changed = Signal(float, float, float)     # radius (fraction of width), hardness, opacity
    overlay_toggled = Signal(bool)
    invert_requested = Signal()
    fill_requested = Signal()
    clear_requested = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.size = _slider(round(SIZE_RANGE[0] * 1000), round(SIZE_RANGE[1] * 1000), "Brush size ([ smaller, ] larger)")
        self.hardness = _slider(0, 100, "Hardness: 0 = soft edge, 100 = hard edge")
        self.opacity = _slider(1, 100, "Opacity: how far one stroke paints (or erases) the region")
        self.values = {name: QLabel() for name in ("size", "hardness", "opacity")}
        for label in self.values.values():
            label.setMinimumWidth(30)
        self.overlay = QCheckBox("Show region")
        self.overlay.setChecked(True)
        self.overlay.setToolTip("Show the painted region as a coloured overlay (Q)")
        self.buttons = {}
        row = QHBoxLayout()
        row.addWidget(self.overlay, 1)
        for name, icon, tip, signal in (("invert", "mdi6.invert-colors", "Invert the region", self.invert_requested),
                                        ("fill", "mdi6.format-color-fill", "Fill: the edit applies everywhere", self.fill_requested),
                                        ("clear", "mdi6.selection-off", "Clear the region", self.clear_requested)):
            b = QToolButton()
            b.setIcon(qta.icon(icon))
            b.setToolTip(tip)
            b.clicked.connect(signal)
            row.addWidget(b)
            self.buttons[name] = b
        form = QFormLayout()
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)    # narrow dock: labels above
        for text, slider, key in (("Size", self.size, "size"), ("Hardness", self.hardness, "hardness"),
                                  ("Opacity", self.opacity, "opacity")):
            slider.setMinimumWidth(60)
            line = QHBoxLayout()
            line.addWidget(slider, 1)
            line.addWidget(self.values[key])
            form.addRow(text, line)
            slider.valueChanged.connect(self._changed)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(row)
        layout.addStretch(1)
        self.overlay.toggled.connect(self.overlay_toggled)
        self.set_brush(0.06, 0.5, 1.0)

    def brush(self) -> tuple[float, float, float]:
        return self.size.value() / 1000, self.hardness.value() / 100, self.opacity.value() / 100

    def set_brush(self, radius: float, hardness: float, opacity: float) -> None:
        """State -> controls; emits nothing."""
        for slider, value in ((self.size, radius * 1000), (self.hardness, hardness * 100), (self.opacity, opacity * 100)):
            slider.blockSignals(True)
            slider.setValue(round(value))
            slider.blockSignals(False)
        self._show_values()

    def set_overlay(self, on: bool) -> None:
        self.overlay.blockSignals(True)
        self.overlay.setChecked(on)
        self.overlay.blockSignals(False)

    def _show_values(self) -> None:
        r, h, o = self.brush()
        self.values["size"].setText(f"{r * 100:.1f}%")
        self.values["hardness"].setText(f"{h * 100:.0f}%")
        self.values["opacity"].setText(f"{o * 100:.0f}%")

    def _changed(self, _=None) -> None:
        self._show_values()
        self.brush_changed.emit(*self.brush())
