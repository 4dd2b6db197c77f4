"""Run stylepaint's public loaders on files, in a child process with a memory cap.

Used by the hostile-input and fuzz tests (``hostile.run_loaders``): reads a JSON job from
stdin -- ``{"cases": [...], "mem_bytes": n, "case_timeout": s, "workdir": dir}`` -- and prints
one line per case: ``START <i>`` before it runs, then ``RESULT <json>`` with

* ``outcome``: ``ok``, ``error`` (one ``StylepaintError``), ``exception`` (anything else,
  with its traceback), ``memory`` (the cap was hit, whatever the error type) or ``timeout``;
* ``type``, ``message``, ``seconds``, ``maxrss_mb``.

A case is ``{"loader": name, "path": file}`` or, for the fuzz test, ``{"loader": name,
"mutate": {...}}``: the file is made here (`fuzz_mutations.mutate`) so no mutated copies of
the checkpoints pile up on disk. A signal or a hang kills the child; the parent sees which
case was running from the last ``START``.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import sys
import tempfile
import time
import traceback
from pathlib import Path

_MEMORY_WORDS = ("can't allocate", "Unable to allocate", "MemoryError", "out of memory", "std::bad_alloc")


def _loader(name: str):
    import stylepaint
    from stylepaint import imagefiles
    from stylepaint.directions import cache
    from stylepaint.document import load_document
    from stylepaint.edits import Recipe
    from stylepaint.favorites import FavoritesStore
    from stylepaint.gui.settings import Settings
    from stylepaint.inversion import pipeline
    from stylepaint.inversion.imageio import load_photo

    def bundle(path):
        root = Path(tempfile.mkdtemp(prefix="fav-", dir=os.environ["DRIVER_WORKDIR"]))
        fav = FavoritesStore(root).import_bundle(path)
        return FavoritesStore(root).get(fav.id).name

    def settings(path):
        s = Settings(path)
        return s.problems

    def favorite_folder(path):
        store = FavoritesStore(Path(path))
        return [f.name for f in store.list()], store.problems

    return {
        "checkpoint": lambda p: stylepaint.load_generator(p).img_resolution,
        "latent": lambda p: imagefiles.load_latent(p)[0].shape,
        "inversion-latent": lambda p: pipeline.load_latent(p)["ws"].shape,
        "recipe": lambda p: len(Recipe.load(p).steps),
        "bundle": bundle,
        "favorites": favorite_folder,
        "settings": settings,
        "photo": lambda p: load_photo(p).size,
        "directions": lambda p: cache.load_checked(Path(p))[1],
        "document": lambda p: sorted(load_document(p)[1]),
    }[name]


def _peak_mb() -> int:
    """This process's peak resident memory. Linux keeps ``ru_maxrss`` across exec (so it would
    report the parent's peak); ``VmHWM`` starts afresh with the new program."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) // 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


TIMED_OUT = 3      # exit status: a case timed out, the cases after it were not run


class _Timeout(Exception):
    pass


def _alarm(signum, frame):
    raise _Timeout()


def main() -> int:
    job = json.load(sys.stdin)
    os.environ["DRIVER_WORKDIR"] = job["workdir"]
    os.environ["STYLEPAINT_HOME"] = str(Path(job["workdir"]) / "home")
    mem = int(job["mem_bytes"])
    resource.setrlimit(resource.RLIMIT_DATA, (mem, mem))
    import torch

    torch.set_num_threads(1)
    from stylepaint.errors import StylepaintError

    signal.signal(signal.SIGALRM, _alarm)
    for i, case in enumerate(job["cases"]):
        print(f"START {i}", flush=True)
        path = case.get("path")
        if "mutate" in case:
            from fuzz_mutations import mutate

            path = str(Path(job["workdir"]) / f"case{Path(case['mutate']['source']).suffix}")
            Path(path).write_bytes(mutate(**case["mutate"]))
        started = time.perf_counter()
        result = {"i": i, "loader": case["loader"], "path": path, "mutate": case.get("mutate")}
        signal.alarm(int(job.get("case_timeout", 20)))
        try:
            value = _loader(case["loader"])(path)
            result.update(outcome="ok", value=repr(value)[:200])
        except _Timeout:
            result.update(outcome="timeout", type="timeout", message="")
        except StylepaintError as exc:
            result.update(outcome="error", type=type(exc).__name__, message=str(exc))
        except BaseException as exc:  # noqa: BLE001 -- exactly what the tests look for
            result.update(outcome="exception", type=type(exc).__name__, message=str(exc)[:300],
                          traceback=traceback.format_exc()[-2000:])
        finally:
            signal.alarm(0)
        if any(w in result.get("message", "") for w in _MEMORY_WORDS) or result.get("type") == "MemoryError":
            result["outcome"] = "memory"
        result["seconds"] = round(time.perf_counter() - started, 3)
        result["maxrss_mb"] = _peak_mb()
        print("RESULT " + json.dumps(result), flush=True)
        if "mutate" in case:
            Path(path).unlink(missing_ok=True)
        if result["outcome"] == "timeout":
            # the alarm may have cut an import in half (a module left half-initialised breaks
            # every later case): the remaining cases run in a fresh child
            return TIMED_OUT
    return 0


if __name__ == "__main__":
    sys.exit(main())
