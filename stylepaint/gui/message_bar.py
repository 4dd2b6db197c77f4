"""An inline message bar above the canvas: problems are told here in one sentence, without a
modal box and without stopping anything; information hides itself after a few seconds.

It floats over the top of the canvas (``overlay_on``) instead of taking a row of the layout,
so a message appearing or going never moves the canvas under the mouse (issue 14, item 12)."""

from __future__ import annotations

import qtawesome as qta
from PySide6.QtCore import QEvent, QTimer
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QToolButton

_STYLES = {
    "error": ("mdi6.alert-circle-outline", "#c0392b", "#f6dedb"),      # opaque: it floats over the picture
    "warning": ("mdi6.alert-outline", "#d9822b", "#f9ecdf"),
    "info": ("mdi6.information-outline", "#2e86c1", "#dfecf6"),
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
        self._host = None
        self.hide()

    def overlay_on(self, host) -> None:
        """Float over the top edge of ``host`` (following its size) instead of sitting in a layout."""
        self._host = host
        self.setParent(host)
        self.setAutoFillBackground(True)
        host.installEventFilter(self)
        self.hide()

    def eventFilter(self, obj, event) -> bool:
        if obj is self._host and event.type() == QEvent.Type.Resize and self.isVisible():
            self._place()
        return False

    def _place(self) -> None:
        if self._host is None:
            return
        margin = 6
        width = max(120, self._host.width() - 2 * margin)
        self.setFixedWidth(width)
        self.setFixedHeight(self.heightForWidth(width) if self.hasHeightForWidth() else self.sizeHint().height())
        self.move(margin, margin)
        self.raise_()

    def show_message(self, text: str, level: str = "error", action: tuple | None = None) -> None:
        """``action``: optional (button text, callable) offered beside the message."""
        icon, colour, background = _STYLES.get(level, _STYLES["error"])
        self.level = level
        self.icon.setPixmap(qta.icon(icon, color=colour).pixmap(18, 18))
        self.setStyleSheet(f"#messageBar {{ background: {background}; border: 1px solid {colour}; border-radius: 4px; }} "
                           "#messageBar QLabel { color: #202020; }")
        self.label.setText(text)
        self._action = action
        self.action_button.setText(action[0] if action else "")
        self.action_button.setVisible(action is not None)
        self.show()
        self._place()
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
