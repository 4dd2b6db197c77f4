"""The render worker's scheduling: newest request wins, duplicates dropped, stale results
stamped, jobs with progress/cancel, errors as values. The render function here is a stand-in
(the images do not matter; the scheduling does)."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from stylepaint.errors import InputError
from stylepaint.gui.worker import RenderWorker

pytestmark = pytest.mark.gui


def slow_render(delay=0.03):
    calls = []

    def render(**args):
        calls.append(args)
        time.sleep(delay)
        if args.get("boom"):
            raise RuntimeError("kaput")
        return {"image": np.full((4, 4, 3), int(args["alpha"] * 10) % 256, np.uint8), "error": None,
                "metadata": {"alpha": args["alpha"]}}
    render.calls = calls
    return render


@pytest.fixture
def worker(qtbot):
    w = RenderWorker(render_fn=slow_render())
    yield w
    w.stop()


def test_newest_request_wins(worker, qtbot):
    shown = []
    worker.rendered.connect(lambda ch, stamp, r: shown.append((stamp, r["metadata"]["alpha"])))
    alphas = np.linspace(-10, 10, 50)
    stamps = []
    for a in alphas:                       # 50 slider moves, faster than one render each
        stamps.append(worker.request({"alpha": float(a)}))
        time.sleep(0.002)
    qtbot.waitUntil(lambda: bool(shown) and shown[-1][0] == stamps[-1], timeout=5000)
    assert worker.frames < 25, worker.frames
    assert shown[-1][1] == pytest.approx(alphas[-1])
    assert [s for s, _ in shown] == sorted(s for s, _ in shown)


def test_duplicates_dropped_and_force(worker, qtbot):
    with qtbot.waitSignal(worker.rendered, timeout=3000):
        assert worker.request({"alpha": 1.0, "ws": np.ones(3)}) is not None
    assert worker.request({"alpha": 1.0, "ws": np.ones(3)}) is None
    with qtbot.waitSignal(worker.rendered, timeout=3000):
        assert worker.request({"alpha": 1.0, "ws": np.ones(3)}, force=True) is not None
    assert worker.requests == 2


def test_channels_are_independent(worker, qtbot):
    got = {}
    worker.rendered.connect(lambda ch, stamp, r: got.setdefault(ch, r))
    worker.request({"alpha": 1.0}, "main")
    worker.request({"alpha": 2.0}, "before")
    qtbot.waitUntil(lambda: len(got) == 2, timeout=3000)
    assert got["before"]["metadata"]["alpha"] == 2.0


def test_render_exception_comes_back_as_error(worker, qtbot):
    with qtbot.waitSignal(worker.rendered, timeout=3000) as sig:
        worker.request({"alpha": 1.0, "boom": True})
    assert "kaput" in sig.args[2]["error"] and sig.args[2]["image"] is None
    with qtbot.waitSignal(worker.rendered, timeout=3000) as sig:  # the thread is still alive
        worker.request({"alpha": 2.0})
    assert sig.args[2]["error"] is None


def counting_job(n, gate=None, fail_at=None):
    for i in range(n):
        if fail_at == i:
            raise InputError("that photo has no face")
        if gate is not None:
            gate.wait(2)
        yield {"done": i + 1, "total": n, "message": f"step {i + 1}"}
    return "all done"


def test_job_progress_and_result(worker, qtbot):
    progress = []
    worker.job_progress.connect(lambda j, p: progress.append(p["done"]))
    with qtbot.waitSignal(worker.job_finished, timeout=3000) as sig:
        job = worker.start_job(counting_job, 5)
    assert sig.args == [job, "all done"] and progress == [1, 2, 3, 4, 5]


def test_job_cancel_and_error(worker, qtbot):
    gate = threading.Event()
    with qtbot.waitSignal(worker.job_failed, timeout=3000) as sig:
        job = worker.start_job(counting_job, 1000, gate)
        qtbot.wait(50)
        worker.cancel_job(job)
        gate.set()
    assert sig.args == [job, "cancelled"]
    with qtbot.waitSignal(worker.job_failed, timeout=3000) as sig:
        worker.start_job(counting_job, 5, None, 2)
    assert sig.args[1] == "that photo has no face"


def test_renders_interleave_with_a_long_job(worker, qtbot):
    gate = threading.Event()
    worker.start_job(counting_job, 10000, gate)
    with qtbot.waitSignal(worker.rendered, timeout=3000):
        gate.set()
        worker.request({"alpha": 3.0})       # served between job steps, not after the job
    worker.stop()


def test_sync_mode_runs_in_the_callers_thread(qtbot):
    render = slow_render(0)
    w = RenderWorker(render_fn=render, sync=True)
    results = []
    w.rendered.connect(lambda ch, stamp, r: results.append(r))
    w.request({"alpha": 1.0})
    assert len(results) == 1 and results[0]["metadata"]["alpha"] == 1.0
    done = []
    w.job_finished.connect(lambda j, v: done.append(v))
    w.start_job(counting_job, 3)
    assert done == ["all done"]


def test_signal_emits_do_not_drain_bool_references(qtbot):
    """PySide6 6.12 on Python 3.11 drops a reference to True on every emit/connect;
    stylepaint.gui.qtfix repairs it (without it the app aborts after a few hundred frames)."""
    import sys

    from PySide6.QtCore import QObject, Signal

    class Emitter(QObject):
        sig = Signal(int, object)

    e = Emitter()
    before = sys.getrefcount(True), sys.getrefcount(False)
    slot = lambda *a: None  # noqa: E731
    for i in range(3000):
        e.sig.emit(i, None)
    for i in range(300):
        e.sig.connect(slot)
        e.sig.disconnect(slot)
    assert (sys.getrefcount(True), sys.getrefcount(False)) == before
