"""The Models dialog, alone, driving the real download manager against a loopback server."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import CHECKPOINTS
from loopback_http import LoopbackServer

pytest.importorskip("pytestqt")
from stylepaint.catalogue import ModelStore, load_catalogue  # noqa: E402
from stylepaint.catalogue.registry import DEFAULT_PATH  # noqa: E402
from stylepaint.gui.models_dialog import ModelsDialog  # noqa: E402

pytestmark = pytest.mark.gui
FIXTURE = CHECKPOINTS / "sg2ada-32px-fp16-clamp.pkl"
DATA = FIXTURE.read_bytes()


@pytest.fixture
def setup(tmp_path, monkeypatch, qtbot):
    monkeypatch.setenv("STYLEPAINT_HOME", str(tmp_path / "home"))
    for var in ("http_proxy", "HTTP_PROXY", "no_proxy", "NO_PROXY"):
        monkeypatch.delenv(var, raising=False)
    with LoopbackServer({"/tiny.pkl": DATA}) as server:
        data = json.loads(DEFAULT_PATH.read_text())
        data["generators"] = [dict(data["generators"][0], name="tiny", filename="tiny.pkl",
                                   urls=[server.url("/tiny.pkl")], approx_size_mb=None)]
        data["clip"] = data["clip"][:1]
        (tmp_path / "cat.json").write_text(json.dumps(data))
        store = ModelStore(load_catalogue(tmp_path / "cat.json"))
        dialog = ModelsDialog(store.rows(), store.download, store.remove, refresh=store.rows,
                              confirm=lambda text: True)
        qtbot.addWidget(dialog)
        dialog.select("tiny")
        yield dialog, store, server


def _status(dialog, name):
    row = [r["name"] for r in dialog._rows].index(name)
    return dialog.table.item(row, 3).text()


def test_licence_must_be_accepted_then_download_installs(setup, qtbot):
    dialog, store, server = setup
    assert "non-commercial" in dialog.details.text()
    assert not dialog.download_button.isEnabled()
    dialog.accept_licence.setChecked(True)
    assert dialog.download_button.isEnabled()
    with qtbot.waitSignal(dialog.downloaded, timeout=20000) as blocker:
        dialog.download_button.click()
    assert blocker.args[0] == "tiny" and Path(blocker.args[1]).read_bytes() == DATA
    assert _status(dialog, "tiny") == "installed"
    with qtbot.waitSignal(dialog.model_chosen) as chosen:
        dialog.use_button.click()
    assert chosen.args == [str(store.path("tiny"))]
    with qtbot.waitSignal(dialog.removed):
        dialog.remove_button.click()
    assert not store.path("tiny").exists() and _status(dialog, "tiny") == "available"


def test_cancel_keeps_a_partial_download(setup, qtbot):
    dialog, store, server = setup
    server.faults["/tiny.pkl"] = {"chunk_delay_s": 0.01}  # ~1.5 s in all
    dialog.accept_licence.setChecked(True)
    dialog.download_button.click()
    assert dialog.cancel_button.isEnabled()
    qtbot.waitUntil(lambda: dialog.progress.maximum() == 1000 and dialog.progress.value() > 50, timeout=10000)
    dialog.cancel_button.click()
    qtbot.waitUntil(lambda: dialog._thread is None, timeout=10000)
    assert "cancelled" in dialog.status.text()
    assert _status(dialog, "tiny") == "partial" and dialog.download_button.text() == "Resume download"
    assert not store.path("tiny").exists()


def test_offline_download_shows_the_url_and_where_to_put_the_file(setup, qtbot):
    dialog, store, server = setup
    server.httpd.shutdown()
    server.httpd.server_close()  # the server is gone: connections are refused
    dialog.accept_licence.setChecked(True)
    start = time.perf_counter()
    dialog.download_button.click()
    qtbot.waitUntil(lambda: dialog._thread is None, timeout=5000)
    assert time.perf_counter() - start < 2
    text = dialog.status.text()
    assert server.url("/tiny.pkl") in text and str(store.path("tiny")) in text
    assert _status(dialog, "tiny") == "available" and dialog.download_button.isEnabled()


def test_dialog_module_does_not_import_torch():
    code = ("import sys; import stylepaint.gui.models_dialog, stylepaint.catalogue; "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "False", out.stderr


def test_a_long_status_wraps_and_the_dialog_stays_on_the_screen(setup, qtbot):
    """Issue 14, item 11: a message with a long URL and path grew the dialog past the screen."""
    dialog, store, server = setup
    dialog.show()
    qtbot.waitExposed(dialog)
    screen = dialog.screen().availableGeometry().width()
    long_word = server.url("/" + "very-long-name-" * 40 + ".pkl")
    dialog._on_progress({"message": f"could not reach {long_word}; save the file as {store.path('tiny')}" * 3})
    qtbot.wait(50)
    assert dialog.minimumSizeHint().width() < min(screen, 900)
    assert dialog.width() <= screen and dialog.status.wordWrap()


def test_a_failed_download_leaves_no_lock_file(setup, qtbot):
    dialog, store, server = setup
    server.httpd.shutdown()
    server.httpd.server_close()
    dialog.accept_licence.setChecked(True)
    dialog.download_button.click()
    qtbot.waitUntil(lambda: dialog._thread is None, timeout=5000)
    folder = store.path("tiny").parent
    assert folder.is_dir() and sorted(p.name for p in folder.glob("*.lock")) == []


def test_a_stale_lock_file_is_swept_but_a_held_one_is_kept(setup, tmp_path):
    from stylepaint.catalogue.lockfile import CacheLock

    dialog, store, server = setup
    folder = store.path("tiny").parent
    folder.mkdir(parents=True, exist_ok=True)
    stale = folder / "old.pkl.lock"
    stale.write_bytes(b"")
    held = CacheLock(folder / "busy.pkl.lock")
    held.acquire(timeout=0)
    store.rows()
    assert not stale.exists() and (folder / "busy.pkl.lock").exists()
    held.release()
    assert not (folder / "busy.pkl.lock").exists()
