"""The face panel: which model, which face (seed, Random, an opened latent or photo) and the
truncation slider."""

from __future__ import annotations

from pathlib import Path

import qtawesome as qta
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QDoubleSpinBox, QFormLayout, QHBoxLayout, QLabel, QMenu, QSizePolicy, QSlider, QSpinBox, QToolButton, QWidget,
)

MAX_SEED = 2**31 - 1


class ModelMenu(QMenu):
    """Embedded default / Open checkpoint file… / Recent / Models… (shared by the panel and the menu bar)."""

    model_chosen = Signal(object)              # path str | None (embedded default)
    open_checkpoint_requested = Signal()
    models_dialog_requested = Signal()

    def __init__(self, parent=None):
        super().__init__("&Model", parent)
        self.action_default = QAction(qta.icon("mdi6.star-four-points-outline"), "Embedded default", self)
        self.action_default.triggered.connect(lambda: self.model_chosen.emit(None))
        self.action_open = QAction(qta.icon("mdi6.folder-open-outline"), "Open checkpoint file…", self)
        self.action_open.setShortcut(QKeySequence("Ctrl+O"))
        self.action_open.triggered.connect(self.open_checkpoint_requested)
        self.action_models = QAction(qta.icon("mdi6.view-grid-outline"), "Models…", self)
        self.action_models.triggered.connect(self.models_dialog_requested)
        self.recent = QMenu("Recent", self)
        self.addAction(self.action_default)
        self.addAction(self.action_open)
        self.addMenu(self.recent)
        self.addSeparator()
        self.addAction(self.action_models)
        self.set_recent([])

    def set_recent(self, paths: list[str]) -> None:
        self.recent.clear()
        for path in paths:
            self.recent.addAction(Path(path).name, lambda p=path: self.model_chosen.emit(p)).setToolTip(path)
        self.recent.setEnabled(bool(paths))


class FacePanel(QWidget):
    seed_changed = Signal(int)
    random_requested = Signal()
    truncation_changed = Signal(float, bool)   # value, final
    open_latent_requested = Signal()
    open_photo_requested = Signal()

    def __init__(self, model_menu: ModelMenu, parent=None):
        super().__init__(parent)
        self.model_button = QToolButton()
        self.model_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.model_button.setIcon(qta.icon("mdi6.cube-outline"))
        self.model_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.model_button.setMenu(model_menu)
        self.model_button.setText("No model")
        self.model_button.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.model_button.setMinimumWidth(90)           # a long model name is cut, never widens the panel
        self.seed = QSpinBox()
        self.seed.setRange(0, MAX_SEED)
        self.seed.setKeyboardTracking(False)
        self.seed.setMinimumWidth(80)
        self.seed.setToolTip("The face's seed: the same seed gives the same face")
        self.random = QToolButton()
        self.random.setIcon(qta.icon("mdi6.dice-5-outline"))
        self.random.setText("Random")
        self.random.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.random.setToolTip("A new random face (R)")
        self.random.setShortcut(QKeySequence("R"))
        self.open_latent = QToolButton()
        self.open_latent.setIcon(qta.icon("mdi6.file-upload-outline"))
        self.open_latent.setToolTip("Open a saved latent (.npz)")
        self.open_photo = QToolButton()
        self.open_photo.setIcon(qta.icon("mdi6.image-search-outline"))
        self.open_photo.setToolTip("Open a photo (finds the face and inverts it)")
        self.source = QLabel("")
        self.source.setObjectName("faceSource")
        self.source.setWordWrap(True)
        self.truncation = QSlider(Qt.Orientation.Horizontal)
        self.truncation.setRange(0, 150)
        self.truncation.setToolTip("Truncation ψ: lower = more typical faces, higher = more variety")
        self.trunc_spin = QDoubleSpinBox()
        self.trunc_spin.setRange(0.0, 1.5)
        self.trunc_spin.setSingleStep(0.05)
        self.trunc_spin.setDecimals(2)
        self.trunc_spin.setKeyboardTracking(False)
        self.trunc_spin.setFixedWidth(72)

        seed_row = QHBoxLayout()
        seed_row.addWidget(self.seed, 1)
        seed_row.addWidget(self.random)
        seed_row.addWidget(self.open_latent)
        seed_row.addWidget(self.open_photo)
        trunc_row = QHBoxLayout()
        trunc_row.addWidget(self.truncation, 1)
        trunc_row.addWidget(self.trunc_spin)
        form = QFormLayout(self)
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)   # narrow: labels above
        form.addRow("Model", self.model_button)
        form.addRow("Seed", seed_row)
        form.addRow("", self.source)
        form.addRow("Truncation", trunc_row)

        self.seed.valueChanged.connect(self.seed_changed)
        self.random.clicked.connect(self.random_requested)
        self.open_latent.clicked.connect(self.open_latent_requested)
        self.open_photo.clicked.connect(self.open_photo_requested)
        self.truncation.valueChanged.connect(self._from_slider)
        self.truncation.sliderReleased.connect(lambda: self.truncation_changed.emit(self.trunc_spin.value(), True))
        self.trunc_spin.valueChanged.connect(self._from_spin)

    def _from_slider(self, ticks: int) -> None:
        self.trunc_spin.blockSignals(True)
        self.trunc_spin.setValue(ticks / 100)
        self.trunc_spin.blockSignals(False)
        self.truncation_changed.emit(ticks / 100, not self.truncation.isSliderDown())

    def _from_spin(self, v: float) -> None:
        self.truncation.blockSignals(True)
        self.truncation.setValue(round(v * 100))
        self.truncation.blockSignals(False)
        self.truncation_changed.emit(v, True)

    def set_face(self, seed: int, truncation: float, source: str = "") -> None:
        for w in (self.seed, self.truncation, self.trunc_spin):
            w.blockSignals(True)
        self.seed.setValue(seed)
        self.truncation.setValue(round(truncation * 100))
        self.trunc_spin.setValue(truncation)
        for w in (self.seed, self.truncation, self.trunc_spin):
            w.blockSignals(False)
        self.source.setText(source)
        self.source.setVisible(bool(source))

    def set_model_name(self, name: str, tooltip: str = "") -> None:
        self.model_button.setText(name)
        self.model_button.setToolTip(tooltip or name)
