"""`stylepaint models …` on a loopback catalogue, then `stylepaint render` on the downloaded file."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import CHECKPOINTS
from loopback_http import LoopbackServer, closed_port

from stylepaint.catalogue.registry import DEFAULT_PATH
from stylepaint.cli import main

FIXTURE = CHECKPOINTS / "sg2ada-32px-fp16-clamp.pkl"
DATA = FIXTURE.read_bytes()


def _write_catalogue(path: Path, url: str, sha256: str | None) -> Path:
    data = json.loads(DEFAULT_PATH.read_text(encoding="utf-8"))
    data["generators"] = [dict(data["generators"][0], name="tiny-faces", title="Tiny test faces",
                               filename="tiny-faces.pkl", urls=[url], sha256=sha256, size=len(DATA),
                               approx_size_mb=None)]
    data["clip"] = []
    path.write_text(json.dumps(data))
    return path


@pytest.fixture
def env(tmp_path, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setenv("STYLEPAINT_HOME", str(home))
    for var in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "no_proxy", "NO_PROXY"):
        monkeypatch.delenv(var, raising=False)
    return {**os.environ, "STYLEPAINT_HOME": str(home)}


def _cli(args, env, timeout=120):
    return subprocess.run([sys.executable, "-m", "stylepaint", *args], env=env, capture_output=True,
                          text=True, timeout=timeout)


def test_download_path_list_remove_then_render(env, tmp_path, monkeypatch, capsys):
    with LoopbackServer({"/tiny.pkl": DATA}) as server:
        cat = _write_catalogue(tmp_path / "cat.json", server.url("/tiny.pkl"), hashlib.sha256(DATA).hexdigest())
        done = _cli(["models", "--catalogue", str(cat), "download", "tiny-faces"], env)
        assert done.returncode == 0, done.stderr
        assert "non-commercial" in done.stderr  # the licence is shown before the download
        path = Path(done.stdout.strip().splitlines()[-1])
        assert path.read_bytes() == DATA
        assert path.parent == tmp_path / "home" / "cache" / "models"

        monkeypatch.setenv("STYLEPAINT_CATALOGUE", str(cat))  # the in-process calls below use it
        assert main(["models", "list"]) == 0
        line = next(ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("tiny-faces"))
        assert "installed" in line and "2.5 MB" in line
        assert main(["models", "path", "tiny-faces"]) == 0
        assert capsys.readouterr().out.strip() == str(path)
        requests = len(server.requests)
        assert main(["models", "download", "tiny-faces"]) == 0
        assert "already downloaded" in capsys.readouterr().err
        assert len(server.requests) == requests

    out = tmp_path / "out.png"  # the downloaded file renders through the one render entry point
    assert main(["render", str(path), "--seed", "3", "-o", str(out)]) == 0, capsys.readouterr().err
    from PIL import Image

    assert Image.open(out).size == (32, 32)

    assert main(["models", "remove", "tiny-faces"]) == 0 and not path.exists()
    assert main(["models", "path", "tiny-faces"]) == 1


@pytest.mark.parametrize("url", [
    "https://stylepaint-no-such-host.invalid/tiny.pkl",        # no DNS: what "offline" looks like
    "http://127.0.0.1:{port}/tiny.pkl",                         # nothing listening
])
def test_offline_download_fails_fast_naming_url_and_where_to_put_the_file(env, tmp_path, capsys, url):
    url = url.format(port=closed_port())
    cat = _write_catalogue(tmp_path / "cat.json", url, None)
    start = time.perf_counter()
    code = main(["models", "--catalogue", str(cat), "download", "tiny-faces", "--quiet"])
    elapsed = time.perf_counter() - start
    err = capsys.readouterr().err
    assert code == 2 and elapsed < 2, (code, elapsed)
    expected_path = tmp_path / "home" / "cache" / "models" / "tiny-faces.pkl"
    assert url in err and f"save it as {expected_path}" in err


def test_unknown_name_is_a_clear_error(env, capsys):
    assert main(["models", "download", "no-such-model"]) == 2
    assert "not in the model catalogue" in capsys.readouterr().err
