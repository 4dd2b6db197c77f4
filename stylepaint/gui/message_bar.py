"""An inline message bar above the canvas: problems are told here in one sentence, without a
modal box and without stopping anything; information hides itself after a few seconds."""

from __future__ import annotations

import qtawesome as qta
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QToolButton

_STYLES = {
    "error": ("mdi6.alert-circle-outline", "#c0392b", "rgba(192, 57, 43, 0.14)"),
    "warning": ("mdi6.alert-outline", "#d9822b", "rgba(217, 130, 43, 0.14)"),
    "info": ("mdi6.information-outline", "#2e86c1", "rgba(46, 134, 193, 0.12)"),
}


class MessageBar(QFrame):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("messageBar")
        self.icon = QLabel()
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(self.label.textInteractionFlags().TextSelectableByMouse)
        self.action_button = QPushButton()
        self.action_button.hide()
        self.action_button.clicked.connect(self._run_action)
        self._action = None
        close = QToolButton()
        close.setIcon(qta.icon("mdi6.close"))
        close.setAutoRaise(True)
        close.setToolTip("Dismiss")
        close.clicked.connect(self.clear)
        row = QHBoxLayout(self)
        row.setContentsMargins(8, 4, 4, 4)
        row.addWidget(self.icon)
        row.addWidget(self.label, 1)
        row.addWidget(self.action_button)
        row.addWidget(close)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.clear)
        self.level = ""
        self.hide()

    def show_message(self, text: str, level: str = "error", action: tuple | None = None) -> None:
        """``action``: optional (button text, callable) offered beside the message."""
        icon, colour, background = _STYLES.get(level, _STYLES["error"])
        self.level = level
        self.icon.setPixmap(qta.icon(icon, color=colour).pixmap(18, 18))
        self.setStyleSheet(f"#messageBar {{ background: {background}; border: 1px solid {colour}; border-radius: 4px; }}")
        self.label.setText(text)
        self._action = action
        self.action_button.setText(action[0] if action else "")
        self.action_button.setVisible(action is not None)
        self.show()
        if level == "info":
            self._timer.start(6000)
        else:
            self._timer.stop()

    def _run_action(self) -> None:
        action, self._action = self._action, None
        self.clear()
        if action is not None:
            action[1]()

    def text(self) -> str:
        return self.label.text() if self.isVisibleTo(self.parentWidget()) else ""

    def clear(self) -> None:
        self._timer.stop()
        self.label.setText("")
        self.level = ""
        self.hide()
