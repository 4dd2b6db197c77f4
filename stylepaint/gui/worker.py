"""The render worker: the one thread that owns the engine.

The GUI sends plain request dicts (``request(args, channel)``) and receives result dicts
through the ``rendered`` signal. While a slider moves, the newest request of each channel
replaces any that has not started yet (no queue of stale frames) and a request equal to the
previous one is dropped. Every request gets a stamp that comes back with its result, so the
receiver can throw away a result older than one it already showed.

Long jobs (direction builds, photo inversion, exports) are generator functions, each run one
step at a time on a thread of its own, so renders and quick jobs (an export) never wait behind
a long one (a direction build). Each step's progress dict is sent with ``job_progress``;
``cancel_job`` closes the generator at its next step. Errors come back as values (a result's
``error`` text, ``job_failed``), never as a crash of the thread. Jobs reach the engine through
``renderer``, whose caches are locked, so they may run beside renders.

``sync=True`` runs everything at once in the caller's thread: tests use it where the thing
under test is not the scheduling. This is the only GUI module that imports the engine.
"""

from __future__ import annotations

import itertools
import threading
import time
import traceback

import numpy as np

from PySide6.QtCore import QObject, QThread, Signal

from stylepaint.errors import Cancelled, StylepaintError
from stylepaint.editor_state import _freeze


def _default_render_factory():
    from stylepaint.engine.render import Renderer  # the engine loads on the worker thread

    # directions are never built inside a render (minutes): the GUI runs build_directions_job
    return Renderer(build_directions=False).render


class _Thread(QThread):
    def __init__(self, owner: "RenderWorker"):
        super().__init__()
        self._owner = owner
        self.setObjectName("stylepaint-render")

    def run(self):
        self._owner._loop()


class _JobThread(QThread):
    def __init__(self, owner: "RenderWorker", job_id: int):
        super().__init__()
        self._owner, self._job_id = owner, job_id
        self.setObjectName(f"stylepaint-job-{job_id}")

    def run(self):
        self._owner._job_loop(self._job_id)


class RenderWorker(QObject):
    rendered = Signal(str, int, object)       # channel, stamp, result dict
    job_progress = Signal(int, object)        # job id, progress dict
    job_finished = Signal(int, object)        # job id, the generator's return value
    job_failed = Signal(int, str)             # job id, one-sentence message ("cancelled" when stopped)
    busy_changed = Signal(bool)

    def __init__(self, render_fn=None, sync: bool = False, parent=None):
        super().__init__(parent)
        self._render_factory = (lambda: render_fn) if render_fn is not None else _default_render_factory
        self._render = None
        self.sync = sync
        self._cond = threading.Condition()
        self._pending: dict[str, tuple[int, dict]] = {}   # channel -> newest (stamp, args) not yet started
        self._last_key: dict[str, tuple] = {}
        self._jobs: dict[int, dict] = {}
        self._stamps = itertools.count(1)
        self._job_ids = itertools.count(1)
        self._stopping = False
        self.frames = 0                                     # renders done (all channels)
        self.requests = 0                                   # requests accepted
        self._thread = None
        self._job_threads: list[QThread] = []
        if not sync:
            self._thread = _Thread(self)
            self._thread.start()

    # -- GUI side -------------------------------------------------------------------------
    def request(self, args: dict, channel: str = "main", force: bool = False) -> int | None:
        """Queue a render; returns its stamp, or None when it equals the previous request."""
        key = _freeze(args)
        with self._cond:
            if not force and self._last_key.get(channel) == key:
                return None
            self._last_key[channel] = key
            stamp = next(self._stamps)
            self.requests += 1
            if self.sync:
                pass
            else:
                self._pending[channel] = (stamp, dict(args))
                self._cond.notify_all()
                return stamp
        self._do_render(channel, stamp, dict(args))
        return stamp

    def forget(self, channel: str | None = None) -> None:
        """Forget the previous request(s) so that an equal one renders again."""
        with self._cond:
            if channel is None:
                self._last_key.clear()
            else:
                self._last_key.pop(channel, None)

    def start_job(self, fn, *args, **kwargs) -> int:
        """Run generator function ``fn(*args, **kwargs)`` on the worker; returns the job id.
        If ``fn`` is marked with ``engine_job`` it also receives this worker (``worker=``)."""
        job_id = self.new_job_id()
        self.run_job_as(job_id, fn, args, kwargs)
        return job_id

    def new_job_id(self) -> int:
        """Reserve a job id (to register callbacks before a synchronous job finishes)."""
        return next(self._job_ids)

    def run_job_as(self, job_id: int, fn, args=(), kwargs=None) -> None:
        job = {"fn": fn, "args": tuple(args), "kwargs": dict(kwargs or {}), "gen": None, "cancel": False}
        if self.sync:
            self._jobs[job_id] = job
            while job_id in self._jobs:
                self._step_job(job_id)
            return
        with self._cond:
            self._jobs[job_id] = job
            job["thread"] = _JobThread(self, job_id)
            self._job_threads = [t for t in self._job_threads if t.isRunning()] + [job["thread"]]
        job["thread"].start()

    def running_jobs(self) -> list[int]:
        with self._cond:
            return list(self._jobs)

    def cancel_job(self, job_id: int) -> None:
        with self._cond:
            if job_id in self._jobs:
                self._jobs[job_id]["cancel"] = True
                self._cond.notify_all()

    def busy(self) -> bool:
        with self._cond:
            return bool(self._pending or self._jobs)

    def stop(self, timeout_ms: int = 10000) -> None:
        with self._cond:
            self._stopping = True
            for job in self._jobs.values():
                job["cancel"] = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.wait(timeout_ms)
            self._thread = None
        for thread in self._job_threads:
            thread.wait(timeout_ms)
        self._job_threads = []

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Block until nothing is pending or running (tests, benchmarks)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            with self._cond:
                if not self._pending and not self._jobs and not self._running:
                    return True
            time.sleep(0.005)
        return False

    # -- worker side ----------------------------------------------------------------------
    _running = False

    @property
    def render_fn(self):
        with self._cond:                       # the render thread and job threads may both ask first
            if self._render is None:
                self._render = self._render_factory()
            return self._render

    @property
    def renderer(self):
        """The Renderer behind ``render_fn`` (worker thread only), for engine jobs."""
        return getattr(self.render_fn, "__self__", None)

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._stopping and not self._pending:
                    self._cond.wait()
                if self._stopping:
                    break
                channel = "main" if "main" in self._pending else next(iter(self._pending))
                stamp, args = self._pending.pop(channel)
                self._running = True
            try:
                self._do_render(channel, stamp, args)
            finally:
                with self._cond:
                    self._running = False

    def _job_loop(self, job_id: int) -> None:
        """One job's thread: step it until it ends, fails or is cancelled (stop cancels it)."""
        while True:
            with self._cond:
                job = self._jobs.get(job_id)
                if job is None:
                    return
                if self._stopping:
                    job["cancel"] = True
            self._step_job(job_id)

    def _do_render(self, channel: str, stamp: int, args: dict) -> None:
        start = time.perf_counter()
        try:
            result = self.render_fn(**args)
            if not isinstance(result, dict):
                result = {"image": None, "error": "the renderer returned no result"}
        except Exception as exc:  # the renderer should never raise; if it does, report it
            result = {"image": None, "error": _message(exc), "traceback": traceback.format_exc()}
        result.setdefault("timings", {}).setdefault("total_ms", (time.perf_counter() - start) * 1000)
        result.setdefault("metadata", {})
        result["args"] = args
        self.frames += 1
        self.rendered.emit(channel, stamp, result)

    def _step_job(self, job_id: int) -> None:
        job = self._jobs.get(job_id)
        if job is None:
            return
        if job["cancel"]:
            self._close_job(job_id, "cancelled")
            return
        try:
            if job["gen"] is None:
                fn = job["fn"]
                kwargs = dict(job["kwargs"])
                if getattr(fn, "wants_worker", False):
                    kwargs["worker"] = self
                job["gen"] = fn(*job["args"], **kwargs)
            progress = next(job["gen"])
        except StopIteration as stop:
            self._jobs.pop(job_id, None)
            self.job_finished.emit(job_id, stop.value)
            return
        except Cancelled:
            self._jobs.pop(job_id, None)
            self.job_failed.emit(job_id, "cancelled")
            return
        except Exception as exc:
            self._jobs.pop(job_id, None)
            self.job_failed.emit(job_id, _message(exc))
            return
        self.job_progress.emit(job_id, progress if isinstance(progress, dict) else {"message": str(progress)})

    def _close_job(self, job_id: int, why: str) -> None:
        job = self._jobs.pop(job_id, None)
        if job and job["gen"] is not None:
            try:
                job["gen"].close()
            except Exception:
                pass
        if job is not None:
            self.job_failed.emit(job_id, why)


def _message(exc: BaseException) -> str:
    if isinstance(exc, StylepaintError):
        return str(exc)
    return f"unexpected error: {type(exc).__name__}: {exc}"


def engine_job(fn):
    """Mark a generator function as wanting the worker (``worker=`` keyword) to reach the engine."""
    fn.wants_worker = True
    return fn


@engine_job
def invert_photo_job(path: str, model: str | None, device: str = "auto", worker: RenderWorker = None):
    """Open a photo: find, align and invert its face; returns {"ws", "crop", "model_id", "alignment"}.
    Progress dicts may carry a ``preview`` image of the inversion so far."""
    try:
        from stylepaint.inversion.pipeline import identity_check, invert_photo
    except ImportError:
        raise StylepaintError("opening photos is not available in this version") from None
    renderer = worker.renderer if worker is not None else None
    G = renderer.generator(model, device) if renderer is not None else None
    result = None
    job = invert_photo(path, G, model=model, device=device if G is None else G.device)
    try:
        for msg in job:
            if "result" in msg:
                result = msg["result"]
            yield {k: v for k, v in msg.items() if k != "result"}
    finally:
        job.close()
    if result is None:
        raise StylepaintError(f"{path}: the inversion stopped without a result")
    from stylepaint.inversion.identity import describe

    yield {"done": 1, "total": 1, "message": "measuring identity (photo vs inversion)"}
    check = identity_check(result)
    if check is not None:   # the window shows the line the CLI prints
        check = dict(check, text=f"Photo vs inversion: {describe(check)}.")
    return {"ws": np.asarray(result.ws, np.float32), "crop": result.found.aligned.crop, "model_id": result.model_id,
            "alignment": result.alignment.to_dict(), "identity": check}


NOT_BUILT = "not built yet"


@engine_job
def build_directions_job(model, clip, device: str = "auto", worker: RenderWorker = None):
    """Build the text directions for a model and CLIP in the background.

    After each finished layer the partial directions are handed to the renderer, so edits work
    (on the layers done so far) while the build runs; progress dicts carry ``partial: True``
    then. Cancelling keeps the finished layers on disk for a later resume.
    """
    from stylepaint.clip import load_clip
    from stylepaint.directions import Editor, build, default_clip_for, default_neutral_for

    renderer = worker.renderer
    if renderer is None:
        raise StylepaintError("this render function cannot build directions")
    G = renderer.generator(model, device)
    spec = clip or default_clip_for(G)
    yield {"done": 0, "total": 1, "message": f"Loading CLIP {spec}"}
    clip_model = load_clip(spec, device=G.device)
    params = getattr(renderer, "direction_params", None)
    layers_done = -1
    start = time.monotonic()
    try:
        for p in build(G, clip_model, params) if params is not None else build(G, clip_model):
            progress = {"done": p.get("done", 0), "total": p.get("total", 0),
                        "message": f"Building text directions ({p.get('layers_done', 0)}/{p.get('layers_total', '?')} layers)"}
            if progress["done"] and progress["total"]:
                progress["eta_s"] = (time.monotonic() - start) / progress["done"] * (progress["total"] - progress["done"])
            rel = p.get("relevance")
            if rel is not None and p.get("layers_done", 0) != layers_done:
                layers_done = p.get("layers_done", 0)
                if layers_done > 0:
                    renderer.set_editor(G, clip, Editor(rel, clip_model, G.img_resolution, default_neutral_for(G)))
                    progress["partial"] = True
            yield progress
    except GeneratorExit:
        renderer.forget_editor(G, clip)   # the next render reopens the (partial) cache
        raise
    renderer.forget_editor(G, clip)       # the complete directions are read back from the cache
    return {"directions": "built", "model": model, "clip": spec}
