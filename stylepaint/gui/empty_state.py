"""What the canvas area shows before there is a picture: loading, or no model yet with the
ways to get one."""

from __future__ import annotations

import qtawesome as qta
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget


class EmptyState(QWidget):
    open_checkpoint = Signal()
    open_models = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.icon = QLabel()
        self.icon.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.title = QLabel()
        self.title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        font = self.title.font()
        font.setPointSizeF(font.pointSizeF() * 1.4)
        font.setBold(True)
        self.title.setFont(font)
        self.detail = QLabel()
        self.detail.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.detail.setWordWrap(True)
        self.detail.setContentsMargins(40, 0, 40, 0)
        self.detail.setStyleSheet("color: palette(placeholder-text);")
        self.open_button = QPushButton(qta.icon("mdi6.folder-open-outline"), "Open checkpoint…")
        self.models_button = QPushButton(qta.icon("mdi6.view-grid-outline"), "Models…")
        self.open_button.clicked.connect(self.open_checkpoint)
        self.models_button.clicked.connect(self.open_models)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.open_button)
        buttons.addWidget(self.models_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addStretch(1)
        layout.addWidget(self.icon)
        layout.addWidget(self.title)
        layout.addWidget(self.detail)
        layout.addSpacing(12)
        layout.addLayout(buttons)
        layout.addStretch(2)
        self.loading()

    def loading(self, what: str = "the model") -> None:
        self.icon.setPixmap(qta.icon("mdi6.timer-sand", color="gray").pixmap(48, 48))
        self.title.setText(f"Loading {what}…")
        self.detail.setText("The first picture takes a moment; the window stays usable meanwhile.")
        self.open_button.hide()
        self.models_button.hide()

    def no_model(self, detail: str = "") -> None:
        self.icon.setPixmap(qta.icon("mdi6.cube-off-outline", color="gray").pixmap(48, 48))
        self.title.setText("No model loaded")
        self.detail.setText(detail or "Open a StyleGAN2 checkpoint (.pkl, .pt, .safetensors), or get a published one with Models…")
        self.open_button.show()
        self.models_button.show()
