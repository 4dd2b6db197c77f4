"""The Models dialog: published generators and CLIP weights, installed or available.

It knows nothing of the catalogue code: it gets plain row dicts (``ModelStore.rows()``),
a ``start_download(name)`` callable returning the download generator job, ``remove(name)``,
and optionally ``refresh()`` to re-read the rows. The download job runs on a QThread of its
own (a blocked network read must not stall the GUI or the render thread); Cancel closes the
generator at its next progress step, which keeps the partial file for a later resume.

Non-commercial licences must be acknowledged (a check box) before Download is enabled.
``model_chosen(path)`` asks the window to open an installed generator.
"""

from __future__ import annotations

import html

from PySide6.QtCore import Qt, QThread, Signal
from PySide6.QtWidgets import (QAbstractItemView, QCheckBox, QDialog, QDialogButtonBox, QHBoxLayout,
                               QLabel, QMessageBox, QProgressBar, QPushButton, QSizePolicy, QTableWidget,
                               QTableWidgetItem, QVBoxLayout)

COLUMNS = ("Name", "Content", "Size", "Status", "Licence")


class _DownloadThread(QThread):
    progress = Signal(object)   # progress dict
    finished_ok = Signal(object)  # the last progress dict ("done")
    failed = Signal(str)        # one sentence, or "cancelled"

    def __init__(self, start_download, name: str, parent=None):
        super().__init__(parent)
        self._start, self._name, self._cancel = start_download, name, False

    def cancel(self) -> None:
        self._cancel = True

    def run(self) -> None:
        job, last = None, None
        try:
            job = self._start(self._name)
            for last in job:
                if self._cancel:
                    job.close()
                    self.failed.emit("cancelled")
                    return
                self.progress.emit(last)
        except Exception as exc:  # errors come back as values, never as a crash in a thread
            self.failed.emit(str(exc) or type(exc).__name__)
            return
        self.finished_ok.emit(last or {})


class ModelsDialog(QDialog):
    model_chosen = Signal(str)        # path of an installed generator to open
    downloaded = Signal(str, str)     # name, path
    removed = Signal(str)             # name

    def __init__(self, rows, start_download, remove, refresh=None, confirm=None, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Models")
        self.resize(760, 460)
        self._rows, self._start, self._remove, self._refresh = list(rows), start_download, remove, refresh
        self._confirm = confirm or (lambda text: QMessageBox.question(self, "Models", text)
                                    == QMessageBox.StandardButton.Yes)
        self._thread: _DownloadThread | None = None
        self._active: str | None = None

        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.itemSelectionChanged.connect(self._update)
        self.details = QLabel()
        self.details.setWordWrap(True)
        self.details.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.details.setMinimumWidth(1)
        self.details.setOpenExternalLinks(True)
        self.accept_licence = QCheckBox("I accept the licence (non-commercial use only)")
        self.accept_licence.toggled.connect(self._update)
        self.progress = QProgressBar()
        self.progress.setTextVisible(False)
        self.status = QLabel()
        self.status.setWordWrap(True)                  # a long URL or path wraps instead of widening the dialog
        self.status.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.status.setMinimumWidth(1)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.download_button = QPushButton("Download")
        self.cancel_button = QPushButton("Cancel download")
        self.remove_button = QPushButton("Remove")
        self.use_button = QPushButton("Open in editor")
        self.download_button.clicked.connect(self.start_download)
        self.cancel_button.clicked.connect(self.cancel_download)
        self.remove_button.clicked.connect(self.remove_selected)
        self.use_button.clicked.connect(self._use)
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close.rejected.connect(self.reject)

        buttons = QHBoxLayout()
        for b in (self.download_button, self.cancel_button, self.remove_button, self.use_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        buttons.addWidget(close)
        layout = QVBoxLayout(self)
        for w in (self.table, self.details, self.accept_licence, self.progress, self.status):
            layout.addWidget(w)
        layout.addLayout(buttons)
        self.set_rows(self._rows)

    # -- data -------------------------------------------------------------------------------
    def set_rows(self, rows) -> None:
        selected = self.selected_name()
        self._rows = list(rows)
        self.table.setRowCount(len(self._rows))
        for i, r in enumerate(self._rows):
            content = (f"{r.get('domain') or ''}, {r['resolution']} px" if r["kind"] == "generator"
                       else "CLIP weights")
            status = "downloading…" if r["name"] == self._active else r["status"]
            for j, text in enumerate((r["name"], content, r["size_text"], status, r["licence"])):
                self.table.setItem(i, j, QTableWidgetItem(text))
        self.table.resizeColumnsToContents()
        names = [r["name"] for r in self._rows]
        if selected in names:
            self.table.selectRow(names.index(selected))
        elif self._rows and selected is None:
            self.table.selectRow(0)
        self._update()

    def selected_name(self) -> str | None:
        row = self.table.currentRow()
        return self._rows[row]["name"] if 0 <= row < len(self._rows) else None

    def select(self, name: str) -> None:
        self.table.selectRow([r["name"] for r in self._rows].index(name))

    def _row(self, name: str | None) -> dict | None:
        return next((r for r in self._rows if r["name"] == name), None)

    def _reload(self) -> None:
        if self._refresh is not None:
            self.set_rows(self._refresh())

    # -- actions ----------------------------------------------------------------------------
    def start_download(self) -> None:
        row = self._row(self.selected_name())
        if row is None or self._thread is not None or not self.download_button.isEnabled():
            return
        self._active = row["name"]
        self._thread = _DownloadThread(self._start, row["name"], self)
        self._thread.progress.connect(self._on_progress)
        self._thread.finished_ok.connect(self._on_done)
        self._thread.failed.connect(self._on_failed)
        self.progress.setRange(0, 0)
        self.status.setText(f"Connecting for {row['name']}…")
        self._thread.start()
        self.set_rows(self._rows)

    def cancel_download(self) -> None:
        if self._thread is not None:
            self._thread.cancel()
            self.status.setText("Cancelling…")

    def remove_selected(self) -> None:
        row = self._row(self.selected_name())
        if row is None or row["status"] == "available" or row["name"] == self._active:
            return
        if not self._confirm(f"Delete {row['title']} from {row['path']}?"):
            return
        try:
            self._remove(row["name"])
        except Exception as exc:
            self.status.setText(str(exc))
            return
        self.status.setText(f"Removed {row['name']}.")
        self.removed.emit(row["name"])
        self._reload()

    def _use(self) -> None:
        row = self._row(self.selected_name())
        if row and row["status"] == "installed" and row["kind"] == "generator":
            self.model_chosen.emit(row["path"])

    # -- download thread callbacks (queued onto the GUI thread) -------------------------------
    def _on_progress(self, info: dict) -> None:
        total, done = info.get("total"), info.get("done") or 0
        if total:
            self.progress.setRange(0, 1000)
            self.progress.setValue(int(1000 * done / total))
        self.status.setText(str(info.get("message", "")))

    def _on_done(self, info: dict) -> None:
        name = self._finish()
        self.progress.setRange(0, 1)
        self.progress.setValue(1)
        self.status.setText(str(info.get("message") or f"Downloaded {name}."))
        self.downloaded.emit(name, str(info.get("path", "")))
        self._reload()

    def _on_failed(self, message: str) -> None:
        name = self._finish()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.status.setText(f"Download of {name} cancelled; it will resume next time." if message == "cancelled"
                            else message)
        self._reload()

    def _finish(self) -> str:
        name, self._active = self._active, None
        if self._thread is not None:
            self._thread.wait(5000)
            self._thread.deleteLater()
            self._thread = None
        self.set_rows(self._rows)
        return name

    def _update(self) -> None:
        row = self._row(self.selected_name())
        busy = self._thread is not None
        needs_ack = bool(row) and not row["commercial_use"] and row["status"] != "installed"
        self.accept_licence.setVisible(needs_ack)
        if row is None:
            self.details.setText("")
        else:
            e = {k: html.escape(str(v)) for k, v in row.items()}
            extra = (f"Neutral prompt: “{e['neutral_prompt']}” · default CLIP: {e['clip']}<br>"
                     if row["kind"] == "generator" else "")
            self.details.setText(
                f"<b>{e['title']}</b><br>{extra}From {e['url']}<br>Saved as {e['path']}<br>"
                f"<a href=\"{e['licence_url']}\">{e['licence']}</a>: {e['licence_notice']}")
        installed = bool(row) and row["status"] == "installed"
        self.download_button.setEnabled(bool(row) and not busy and not installed
                                        and (not needs_ack or self.accept_licence.isChecked()))
        self.download_button.setText("Resume download" if row and row["status"] == "partial" else "Download")
        self.cancel_button.setEnabled(busy)
        self.remove_button.setEnabled(bool(row) and row["status"] != "available" and row["name"] != self._active)
        self.use_button.setEnabled(installed and row["kind"] == "generator")

    def done(self, result: int) -> None:
        """Closing the dialog cancels a running download (its part file stays for a resume)."""
        if self._thread is not None:
            self._thread.cancel()
            self._thread.wait(5000)
        super().done(result)
