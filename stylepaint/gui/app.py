"""Start the editor: one QApplication, the main window, the event loop."""

from __future__ import annotations

import sys


def run(model: str | None = None, clip: str | None = None, argv: list[str] | None = None) -> int:
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication
    from PySide6.QtWidgets import QApplication

    from stylepaint.gui.main_window import MainWindow

    QGuiApplication.setHighDpiScaleFactorRoundingPolicy(Qt.HighDpiScaleFactorRoundingPolicy.PassThrough)
    app = QApplication.instance() or QApplication(argv if argv is not None else sys.argv[:1])
    app.setApplicationName("stylepaint")
    app.setOrganizationName("stylepaint")
    app.setStyle("Fusion")
    window = MainWindow(model=model, clip=clip, reopen=model is None)
    window.show()
    return app.exec()
