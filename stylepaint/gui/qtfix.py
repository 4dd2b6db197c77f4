"""Work around a PySide6 reference-count bug seen with 6.12 on Python 3.11.

``SignalInstance.emit``, ``connect`` and ``disconnect`` return ``True``/``False`` without
taking a reference to it, so every call from Python takes one reference away from the bool
singletons. On Python < 3.12 (where ``True`` is not immortal) a few hundred emits then abort
the interpreter ("Fatal Python error: bool_dealloc"). ``apply()`` measures each method once
and, only where it is actually leaking, wraps it to give the reference back.
"""

from __future__ import annotations

import ctypes
import functools
import sys

_applied = False


def _leak_of(call, n: int = 20) -> int:
    """References the bool singletons lose per call (0 when the method is sound)."""
    t0, f0 = sys.getrefcount(True), sys.getrefcount(False)
    for i in range(n):
        call(i)
    t1, f1 = sys.getrefcount(True), sys.getrefcount(False)
    return round(((t0 - t1) + (f0 - f1)) / n)


def _repairing(method):
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        result = method(self, *args, **kwargs)
        if result is True or result is False:
            ctypes.pythonapi.Py_IncRef(ctypes.py_object(result))
        return result
    return wrapper


def apply() -> list[str]:
    """Patch the leaking SignalInstance methods; returns their names (empty when none leak)."""
    global _applied
    if _applied or sys.version_info >= (3, 12):
        return []
    _applied = True
    from PySide6.QtCore import QObject, Signal, SignalInstance

    class _Probe(QObject):
        ping = Signal(int)

    probe = _Probe()
    slots = [(lambda v: None) for _ in range(20)]
    checks = {
        "emit": lambda i: probe.ping.emit(i),
        "connect": lambda i: probe.ping.connect(slots[i]),
        "disconnect": lambda i: probe.ping.disconnect(slots[i]),
    }
    patched = []
    for name, call in checks.items():
        if _leak_of(call) > 0:
            setattr(SignalInstance, name, _repairing(getattr(SignalInstance, name)))
            patched.append(name)
    return patched
