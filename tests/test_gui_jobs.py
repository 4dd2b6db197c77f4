"""Long jobs beside renders and exports (issue 14, item 3): a long job runs on its own thread,
so a seed change shows and an export is written while it works, and the job bar shows every
running job. Real renderer on the 64 px fixture, the window's real (threaded) worker."""

from __future__ import annotations

import threading
import time

import pytest
from gui_support import open_window

from stylepaint.gui.job_bar import JobBar

pytestmark = [pytest.mark.gui, pytest.mark.usefixtures("one_torch_thread")]


def slow_job(release: threading.Event, steps: int = 3):
    """A stand-in for a direction build whose steps take long (the real one: seconds to minutes)."""
    for i in range(steps):
        yield {"done": i, "total": steps, "message": f"Long step {i + 1}/{steps}"}
        release.wait(30)                 # a step that lasts until the test lets it go
    return "built"


def test_renders_and_exports_never_wait_behind_a_long_job(qtbot, engine, fixture_dir, tmp_path):
    w = open_window(qtbot, engine, fixture_dir / "sg2ada-64px.pkl", tmp_path, sync=False)
    release = threading.Event()
    try:
        qtbot.waitUntil(lambda: w.controller.result is not None, timeout=60000)
        done = []
        job = w.run_job(slow_job, "Building text directions", release, on_done=done.append)
        qtbot.waitUntil(lambda: w.job_bar.messages() == ["Long step 1/3"], timeout=10000)
        time.sleep(0.2)                                          # the long job is inside its step now

        t0 = time.monotonic()
        w.controller.on_seed(42)
        qtbot.waitUntil(lambda: w.controller.result["args"]["seed"] == 42, timeout=10000)
        render_s = time.monotonic() - t0
        t0 = time.monotonic()
        w.actions.export_png_to(tmp_path / "out.png")
        assert len(w.job_bar.rows) == 2 and w.job_bar.messages()[0] == "Long step 1/3"   # both shown
        qtbot.waitUntil(lambda: (tmp_path / "out.png").is_file(), timeout=10000)
        export_s = time.monotonic() - t0
        print(f"\nwhile a long job's step ran: seed change shown in {render_s:.2f} s, export written in {export_s:.2f} s")
        assert job in w.worker.running_jobs() and not done          # ... and the long job is still in its step
        qtbot.waitUntil(lambda: len(w.job_bar.rows) == 1, timeout=5000)
        release.set()
        qtbot.waitUntil(lambda: done == ["built"], timeout=10000)
        assert w.job_bar.isHidden()
    finally:
        release.set()
        w.worker.stop()


def test_job_bar_rows_and_eta(qtbot):
    bar = JobBar()
    qtbot.addWidget(bar)
    cancelled = []
    bar.cancel_requested.connect(cancelled.append)
    bar.start(1, "Building text directions")
    bar.start(2, "Exporting a.png")
    bar.progress(1, {"done": 3, "total": 10, "message": "Building (1/8 layers)", "eta_s": 125})
    assert bar.messages() == ["Building (1/8 layers) — about 2 min 05 s left", "Exporting a.png"]
    assert bar.job_id == 2
    bar.rows[1].cancel.click()
    assert cancelled == [1]
    bar.finish(2)
    assert bar.job_id == 1 and not bar.isHidden()
    bar.finish(1)
    assert bar.isHidden() and bar.job_id is None


def test_esc_in_a_text_field_belongs_to_the_field_not_to_the_running_job(qtbot, engine, fixture_dir, tmp_path):
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QApplication

    def two_steps(first, second):
        yield {"message": "step 1"}
        first.wait(30)
        yield {"message": "step 2"}
        second.wait(30)
        yield {"message": "step 3"}
        return "done"

    w = open_window(qtbot, engine, fixture_dir / "sg2ada-64px.pkl", tmp_path, sync=False)
    first, second = threading.Event(), threading.Event()
    try:
        w.show()
        w.activateWindow()
        qtbot.waitUntil(lambda: QApplication.activeWindow() is w, timeout=5000)   # shortcuts need it
        qtbot.waitUntil(lambda: w.controller.result is not None, timeout=60000)
        failed = []
        w.worker.job_failed.connect(lambda job_id, message: failed.append(message))
        w.run_job(two_steps, "Building text directions", first, second)
        field = w.prompt_panel.target.lineEdit()
        field.setFocus()
        qtbot.keyClicks(field, "curly")
        qtbot.keyClick(field, Qt.Key.Key_Escape)
        w.face_panel.seed.setFocus()                       # a spin box is a text field too
        qtbot.keyClick(w.face_panel.seed, Qt.Key.Key_Escape)
        first.set()
        qtbot.waitUntil(lambda: w.job_bar.label.text() == "step 2", timeout=10000)   # not cancelled
        assert not failed
        w.canvas.setFocus()                                # elsewhere Esc still cancels the job
        qtbot.keyClick(w.canvas, Qt.Key.Key_Escape)
        second.set()
        qtbot.waitUntil(lambda: failed == ["cancelled"], timeout=10000)
    finally:
        first.set()
        second.set()
        w.worker.stop()
