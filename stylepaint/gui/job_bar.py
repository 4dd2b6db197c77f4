"""Progress of long jobs in the status bar, with a cancel button."""

from __future__ import annotations

import qtawesome as qta
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QToolButton, QWidget


class JobBar(QWidget):
    cancel_requested = Signal(int)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.job_id = None
        self.label = QLabel()
        self.bar = QProgressBar()
        self.bar.setFixedWidth(160)
        self.bar.setTextVisible(False)
        self.cancel = QToolButton()
        self.cancel.setIcon(qta.icon("mdi6.close-circle-outline"))
        self.cancel.setToolTip("Cancel (Esc)")
        self.cancel.setAutoRaise(True)
        self.cancel.clicked.connect(lambda: self.job_id is not None and self.cancel_requested.emit(self.job_id))
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.label)
        row.addWidget(self.bar)
        row.addWidget(self.cancel)
        self.hide()

    def start(self, job_id: int, message: str) -> None:
        self.job_id = job_id
        self.label.setText(message)
        self.bar.setRange(0, 0)
        self.show()

    def progress(self, job_id: int, info: dict) -> None:
        if job_id != self.job_id:
            return
        total, done = info.get("total"), info.get("done")
        if total:
            self.bar.setRange(0, int(total))
            self.bar.setValue(int(done or 0))
        if info.get("message"):
            self.label.setText(str(info["message"]))

    def finish(self, job_id: int) -> None:
        if job_id == self.job_id:
            self.job_id = None
            self.hide()
