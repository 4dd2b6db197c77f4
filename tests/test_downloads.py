"""The download manager against a real HTTP server on 127.0.0.1 serving a fixture checkpoint."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from conftest import CHECKPOINTS
from loopback_http import LoopbackServer, closed_port

from stylepaint.catalogue import ModelStore, Timeouts, download_file, load_catalogue
from stylepaint.catalogue import download as dl
from stylepaint.errors import DownloadError

FIXTURE = CHECKPOINTS / "sg2ada-32px-fp16-clamp.pkl"
DATA = FIXTURE.read_bytes()
SHA = hashlib.sha256(DATA).hexdigest()
FAST = Timeouts(resolve=1.5, connect=1.5, read=2.0)


@pytest.fixture(autouse=True)
def _env(tmp_path, monkeypatch):
    monkeypatch.setenv("STYLEPAINT_HOME", str(tmp_path / "home"))
    for var in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY",
                "no_proxy", "NO_PROXY"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def server():
    with LoopbackServer({"/g.pkl": DATA}) as srv:
        yield srv


def run(job):
    """Drive a job to the end; return all progress dicts."""
    return list(job)


def test_full_download_is_byte_identical_and_records_the_first_hash(server, tmp_path):
    dest = tmp_path / "models" / "g.pkl"
    progress = run(download_file(server.url("/g.pkl"), dest, timeouts=FAST))
    assert dest.read_bytes() == DATA
    final = progress[-1]
    assert final["stage"] == "done" and final["reused"] is False and final["sha256"] == SHA
    done = [p["done"] for p in progress if p["stage"] == "downloading"]
    assert done == sorted(done) and done[-1] == len(DATA)
    assert all(p["total"] == len(DATA) for p in progress if p["stage"] == "downloading")
    record = json.loads(dl.record_path(dest).read_text())
    assert record["sha256"] == SHA and record["checked_against"] == "first download"
    assert not dl.part_path(dest).exists()


def test_dropped_connection_resumes_with_a_range_request(server, tmp_path):
    server.faults["/g.pkl"] = {"cut_after": 1_000_000, "times": 1}
    dest = tmp_path / "g.pkl"
    progress = run(download_file(server.url("/g.pkl"), dest, sha256=SHA, timeouts=FAST))
    assert dest.read_bytes() == DATA
    ranges = [r["headers"].get("Range") for r in server.requests_for("/g.pkl")]
    assert ranges == [None, "bytes=1000000-"]
    assert any("resuming" in p["message"] for p in progress)


def test_cancelled_download_keeps_its_part_and_a_later_run_resumes(server, tmp_path):
    server.faults["/g.pkl"] = {"chunk_delay_s": 0.002}
    dest = tmp_path / "g.pkl"
    job = download_file(server.url("/g.pkl"), dest, sha256=SHA, timeouts=FAST)
    for p in job:
        if p["stage"] == "downloading" and p["done"] >= 600_000:
            break
    job.close()  # cancel
    kept = dl.part_path(dest).stat().st_size
    assert 600_000 <= kept < len(DATA) and not dest.exists()
    server.faults.clear()
    run(download_file(server.url("/g.pkl"), dest, sha256=SHA, timeouts=FAST))
    assert dest.read_bytes() == DATA
    assert server.requests_for("/g.pkl")[-1]["headers"].get("Range") == f"bytes={kept}-"
    assert len(server.requests_for("/g.pkl")) == 2


def test_server_ignoring_range_restarts_cleanly(server, tmp_path):
    server.faults["/g.pkl"] = {"cut_after": 700_000, "times": 1, "ignore_range": True}
    dest = tmp_path / "g.pkl"
    run(download_file(server.url("/g.pkl"), dest, sha256=SHA, timeouts=FAST))
    assert dest.read_bytes() == DATA


def test_wrong_checksum_removes_the_file_and_says_so(server, tmp_path):
    dest = tmp_path / "g.pkl"
    with pytest.raises(DownloadError) as info:
        run(download_file(server.url("/g.pkl"), dest, sha256="0" * 64, timeouts=FAST))
    assert "checksum mismatch" in str(info.value) and SHA in str(info.value)
    assert not dest.exists() and not dl.part_path(dest).exists()


@pytest.mark.parametrize("case", ["404", "refused"])
def test_not_found_and_refused_fail_fast_naming_url_and_manual_path(server, tmp_path, case):
    url = server.url("/missing.pkl") if case == "404" else f"http://127.0.0.1:{closed_port()}/g.pkl"
    store = ModelStore(_catalogue(tmp_path, url))
    start = time.perf_counter()
    with pytest.raises(DownloadError) as info:
        run(store.download("tiny", timeouts=FAST))
    elapsed = time.perf_counter() - start
    message = str(info.value)
    assert elapsed < 2, elapsed
    assert url in message and str(store.path("tiny")) in message
    assert ("404" in message) if case == "404" else ("refused" in message)


def test_offline_catalogue_model_fails_fast_with_the_manual_alternative(tmp_path):
    url = "https://stylepaint-no-such-host.invalid/models/g.pkl"  # .invalid never resolves
    store = ModelStore(_catalogue(tmp_path, url))
    start = time.perf_counter()
    with pytest.raises(DownloadError) as info:
        run(store.download("tiny"))  # default timeouts, as a user gets them
    assert time.perf_counter() - start < 2
    assert url in str(info.value) and f"save it as {store.path('tiny')}" in str(info.value)


@pytest.mark.parametrize("where", ["before headers", "mid-body"])
def test_a_stalling_server_times_out(server, tmp_path, where):
    server.faults["/g.pkl"] = ({"stall_headers_s": 4} if where == "before headers"
                               else {"stall_after": 100_000, "stall_s": 4})
    start = time.perf_counter()
    with pytest.raises(DownloadError, match="timed out"):
        run(download_file(server.url("/g.pkl"), tmp_path / "g.pkl", retries=0,
                          timeouts=Timeouts(connect=1, read=0.5)))
    assert time.perf_counter() - start < 2.5


def test_two_concurrent_downloads_of_one_file_do_not_corrupt_it(server, tmp_path):
    server.faults["/g.pkl"] = {"chunk_delay_s": 0.004}  # ~0.6 s per download: they overlap
    dest = tmp_path / "shared" / "g.pkl"
    other = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        from stylepaint.catalogue import download_file
        final = list(download_file({server.url('/g.pkl')!r}, {str(dest)!r}, sha256={SHA!r}))[-1]
        print("REUSED" if final["reused"] else "FETCHED")
        """)], stdout=subprocess.PIPE, text=True)
    results = []

    def in_thread():
        results.append(run(download_file(server.url("/g.pkl"), dest, sha256=SHA))[-1])

    threads = [threading.Thread(target=in_thread) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    out, _ = other.communicate(timeout=30)
    assert other.returncode == 0
    assert dest.read_bytes() == DATA
    outcomes = [r["reused"] for r in results] + [out.strip() == "REUSED"]
    assert outcomes.count(False) == 1, outcomes  # exactly one fetched; the others waited and reused
    full_bodies = [r for r in server.requests_for("/g.pkl") if "Range" not in r["headers"]]
    assert len(full_bodies) == 1
    assert not dl.part_path(dest).exists()


def test_a_cached_file_is_reused_without_a_request(server, tmp_path):
    dest = tmp_path / "g.pkl"
    run(download_file(server.url("/g.pkl"), dest, sha256=SHA, timeouts=FAST))
    count = len(server.requests)
    final = run(download_file(server.url("/g.pkl"), dest, sha256=SHA, timeouts=FAST))[-1]
    assert final["reused"] is True and final["path"] == str(dest)
    assert len(server.requests) == count


def test_a_file_placed_by_hand_is_verified_once_then_reused(server, tmp_path):
    dest = tmp_path / "g.pkl"
    dest.write_bytes(DATA)
    stages = [p["stage"] for p in run(download_file(server.url("/g.pkl"), dest, sha256=SHA))]
    assert "verifying" in stages and stages[-1] == "done"
    stages = [p["stage"] for p in run(download_file(server.url("/g.pkl"), dest, sha256=SHA))]
    assert stages == ["done"]
    assert server.requests == []
    dest.write_bytes(DATA[:-1] + b"\0")  # damaged later
    with pytest.raises(DownloadError, match="does not match"):
        run(download_file(server.url("/g.pkl"), dest, sha256=SHA))


def test_not_enough_free_space_fails_before_any_request(server, tmp_path, monkeypatch):
    class Usage:
        free = 1_000_000

    monkeypatch.setattr(dl.shutil, "disk_usage", lambda path: Usage)
    with pytest.raises(DownloadError, match="not enough free space"):
        run(download_file(server.url("/g.pkl"), tmp_path / "g.pkl", size=len(DATA)))
    assert server.requests == []


def test_proxies_come_from_the_environment(server, tmp_path, monkeypatch):
    proxy = f"http://127.0.0.1:{closed_port()}"
    monkeypatch.setenv("http_proxy", proxy)
    with pytest.raises(DownloadError, match=f"refused.*through the proxy {proxy}"):
        run(download_file(server.url("/g.pkl"), tmp_path / "g.pkl", timeouts=FAST))
    assert server.requests == []  # it went to the (dead) proxy, not to the server
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    run(download_file(server.url("/g.pkl"), tmp_path / "g.pkl", timeouts=FAST))
    assert (tmp_path / "g.pkl").read_bytes() == DATA


def test_precomputed_directions_come_along_and_go_with_the_model(server, tmp_path):
    directions = b"precomputed directions" * 1000
    server.files["/tiny.dirs.npz"] = directions
    store = ModelStore(_catalogue(tmp_path, server.url("/g.pkl"), directions_url=server.url("/tiny.dirs.npz"),
                                  directions_sha256=hashlib.sha256(directions).hexdigest()))
    final = run(store.download("tiny", timeouts=FAST))[-1]
    assert final["stage"] == "done" and store.path("tiny").read_bytes() == DATA
    assert Path(final["directions_path"]) == store.directions_path("tiny")
    assert store.directions_path("tiny").read_bytes() == directions
    assert store.directions_path("tiny").name == "tiny.pkl.directions.npz"
    removed = {p.name for p in store.remove("tiny")}
    assert {"tiny.pkl", "tiny.pkl.directions.npz"} <= removed


def test_clip_weights_go_to_open_clips_cache_with_their_published_checksum(server, tmp_path):
    data = json.loads(Path(load_catalogue().path).read_text())
    data["generators"] = []
    data["clip"] = [dict(data["clip"][0], urls=[server.url("/g.pkl")], sha256=SHA, approx_size_mb=None)]
    (tmp_path / "cat.json").write_text(json.dumps(data))
    store = ModelStore(load_catalogue(tmp_path / "cat.json"))
    name = data["clip"][0]["name"]
    assert store.path(name).parent == tmp_path / "home" / "cache" / "clip"  # open_clip's cache, redirected
    with pytest.raises(DownloadError, match="not downloaded"):
        store.clip_spec(name)
    run(store.download(name, timeouts=FAST))
    assert store.path(name).read_bytes() == DATA and store.status(name) == "installed"
    assert store.clip_spec(name) == name


def _catalogue(tmp_path, url, sha256=None, **extra):
    data = json.loads(Path(load_catalogue().path).read_text())
    data["generators"] = [dict(data["generators"][0], name="tiny", filename="tiny.pkl", urls=[url],
                               sha256=sha256, approx_size_mb=None, size=None, **extra)]
    data["clip"] = []
    path = tmp_path / "catalogue.json"
    path.write_text(json.dumps(data))
    return load_catalogue(path)
