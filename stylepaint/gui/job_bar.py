"""Progress of the running jobs in the status bar: one row per job (label, bar, cancel), so a
quick export never hides a direction build's progress."""

from __future__ import annotations

import qtawesome as qta
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QToolButton, QWidget


class _JobRow(QWidget):
    def __init__(self, job_id: int, message: str, cancel, parent=None):
        super().__init__(parent)
        self.label = QLabel(message)
        self.bar = QProgressBar()
        self.bar.setFixedWidth(120)
        self.bar.setTextVisible(False)
        self.bar.setRange(0, 0)
        self.cancel = QToolButton()
        self.cancel.setIcon(qta.icon("mdi6.close-circle-outline"))
        self.cancel.setToolTip(f"Cancel “{message}”")
        self.cancel.setAutoRaise(True)
        self.cancel.clicked.connect(lambda: cancel(job_id))
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 6, 0)
        row.addWidget(self.label)
        row.addWidget(self.bar)
        row.addWidget(self.cancel)


class JobBar(QWidget):
    cancel_requested = Signal(int)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.rows: dict[int, _JobRow] = {}
        self._layout = QHBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self.hide()

    @property
    def job_id(self) -> int | None:
        """The newest running job (what Cancel in the menu stops)."""
        return next(reversed(self.rows), None)

    @property
    def label(self) -> QLabel:
        """The newest job's label."""
        return self.rows[self.job_id].label if self.rows else QLabel()

    def messages(self) -> list[str]:
        return [row.label.text() for row in self.rows.values()]

    def start(self, job_id: int, message: str) -> None:
        row = _JobRow(job_id, message, self.cancel_requested.emit, self)
        self.rows[job_id] = row
        self._layout.addWidget(row)
        self.show()

    def progress(self, job_id: int, info: dict) -> None:
        row = self.rows.get(job_id)
        if row is None:
            return
        total, done = info.get("total"), info.get("done")
        if total:
            row.bar.setRange(0, int(total))
            row.bar.setValue(int(done or 0))
        if info.get("message"):
            text = str(info["message"])
            if info.get("eta_s") is not None:
                text += f" — about {_duration(info['eta_s'])} left"
            row.label.setText(text)

    def finish(self, job_id: int) -> None:
        row = self.rows.pop(job_id, None)
        if row is not None:
            self._layout.removeWidget(row)
            row.deleteLater()
        if not self.rows:
            self.hide()


def _duration(seconds: float) -> str:
    seconds = max(int(round(seconds)), 0)
    if seconds < 60:
        return f"{seconds} s"
    return f"{seconds // 60} min {seconds % 60:02d} s" if seconds < 3600 else f"{seconds // 3600} h {seconds % 3600 // 60} min"
