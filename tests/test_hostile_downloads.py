"""Hostile servers (issue 15, item 5): error pages, lying sizes, endless and trickling bodies,
spliced resumes -- against a real HTTP server on 127.0.0.1 (`loopback_http`)."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import pytest
from conftest import CHECKPOINTS
from loopback_http import LoopbackServer

from stylepaint.catalogue import ModelStore, Timeouts, download_file, load_catalogue
from stylepaint.catalogue import download as dl
from stylepaint.errors import DownloadError

DATA = (CHECKPOINTS / "sg2ada-32px-fp16-clamp.pkl").read_bytes()
OTHER = (CHECKPOINTS / "rosinality-32px.pt").read_bytes()
SHA = hashlib.sha256(DATA).hexdigest()
FAST = Timeouts(resolve=1.5, connect=1.5, read=3.0)
ERROR_PAGE = b"<!DOCTYPE html><html><body><h1>Sign in to download this model</h1></body></html>" * 20


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch):
    for var in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def server():
    with LoopbackServer({"/g.pkl": DATA, "/login.html": ERROR_PAGE, "/other.pt": OTHER}) as srv:
        yield srv


def _store(tmp_path, url, **entry) -> ModelStore:
    """A catalogue with one generator at ``url``, no published size or checksum."""
    data = json.loads(Path(load_catalogue().path).read_text())
    data["generators"] = [dict(data["generators"][0], name="tiny", filename="tiny.pkl", urls=[url], sha256=None,
                               size=None, **{"approx_size_mb": 2.5, **entry})]
    data["clip"] = []
    (tmp_path / "catalogue.json").write_text(json.dumps(data))
    return ModelStore(load_catalogue(tmp_path / "catalogue.json"), folder=tmp_path / "models")


def test_an_html_error_page_is_never_installed_as_the_model(server, tmp_path):
    store = _store(tmp_path, server.url("/login.html"))
    with pytest.raises(DownloadError, match="an HTML page, not the expected file"):
        list(store.download("tiny", timeouts=FAST))
    path = store.path("tiny")
    assert not path.exists() and not dl.record_path(path).exists() and not dl.part_path(path).exists()
    assert store.status("tiny") == "available"


def test_an_error_page_saved_by_an_older_version_is_not_reused(server, tmp_path):
    store = _store(tmp_path, server.url("/g.pkl"))
    path = store.path("tiny")
    path.parent.mkdir(parents=True)
    path.write_bytes(ERROR_PAGE)                                   # what the old downloader kept
    st = path.stat()
    dl.record_path(path).write_text(json.dumps({"sha256": hashlib.sha256(ERROR_PAGE).hexdigest(), "size": st.st_size,
                                                "mtime_ns": st.st_mtime_ns, "checked_against": "first download"}))
    with pytest.raises(DownloadError, match="not a usable file.*delete it and download again"):
        list(store.download("tiny", timeouts=FAST))


def test_a_good_download_is_verified_before_it_is_moved_into_place(server, tmp_path):
    store = _store(tmp_path, server.url("/g.pkl"))
    progress = list(store.download("tiny", timeouts=FAST))
    assert store.path("tiny").read_bytes() == DATA
    assert json.loads(dl.record_path(store.path("tiny")).read_text())["verified"] is True
    assert any(p["stage"] == "verifying" for p in progress)


def test_a_well_formed_but_wrong_file_is_removed_not_installed(server, tmp_path):
    """A short Content-Length cuts the body: the truncated pickle fails verification."""
    server.faults["/g.pkl"] = {"content_length": str(len(DATA) // 2)}
    store = _store(tmp_path, server.url("/g.pkl"))
    with pytest.raises(DownloadError, match="not usable.*truncated or corrupt.*it was removed"):
        list(store.download("tiny", timeouts=FAST))
    assert not store.path("tiny").exists() and not dl.part_path(store.path("tiny")).exists()


@pytest.mark.parametrize("value", ["-5", "12abc", "1e9"])
def test_an_invalid_content_length_is_refused(server, tmp_path, value):
    server.faults["/g.pkl"] = {"content_length": value}
    with pytest.raises(DownloadError, match="invalid Content-Length"):
        list(download_file(server.url("/g.pkl"), tmp_path / "g.pkl", timeouts=FAST))


def test_an_endless_body_is_cut_at_the_expected_size(server, tmp_path):
    server.faults["/g.pkl"] = {"endless": True}
    store = _store(tmp_path, server.url("/g.pkl"), approx_size_mb=2.5)
    started = time.monotonic()
    with pytest.raises(DownloadError, match=f"at most {int(2.5e6 * 1.5)} bytes"):       # the estimate x 1.5
        list(store.download("tiny", timeouts=FAST))
    assert time.monotonic() - started < 20
    assert not dl.part_path(store.path("tiny")).exists() and not store.path("tiny").exists()


def test_a_body_announced_larger_than_the_cap_is_refused_before_reading(server, tmp_path):
    with pytest.raises(DownloadError, match=f"sent {len(DATA)} bytes, but this file is at most 1000 bytes"):
        list(download_file(server.url("/g.pkl"), tmp_path / "g.pkl", timeouts=FAST, max_bytes=1000))


def test_a_trickling_server_is_given_up_on(server, tmp_path):
    server.faults["/g.pkl"] = {"trickle_s": 0.3}
    slow = Timeouts(resolve=1.5, connect=1.5, read=3.0, min_rate=10_000, grace=1.5)
    started = time.monotonic()
    with pytest.raises(DownloadError, match="too slow"):
        list(download_file(server.url("/g.pkl"), tmp_path / "g.pkl", timeouts=slow))
    assert time.monotonic() - started < 10


def _cancel_at(server, dest, done: int) -> int:
    """Start a slow download of /g.pkl and cancel it once ``done`` bytes are in; the part's size."""
    job = download_file(server.url("/g.pkl"), dest, timeouts=FAST)
    for p in job:
        if p["stage"] == "downloading" and p["done"] >= done:
            break
    job.close()
    return dl.part_path(dest).stat().st_size


def test_a_part_changed_on_disk_is_not_resumed(server, tmp_path):
    dest = tmp_path / "g.pkl"
    server.faults["/g.pkl"] = {"chunk_delay_s": 0.002}
    kept = _cancel_at(server, dest, 600_000)
    dl.part_path(dest).write_bytes(OTHER[:kept])                                  # another file's bytes, same length
    server.faults.clear()
    list(download_file(server.url("/g.pkl"), dest, timeouts=FAST))
    assert dest.read_bytes() == DATA
    assert "Range" not in server.requests_for("/g.pkl")[-1]["headers"]


def test_without_a_validator_a_part_is_fetched_again_not_spliced(server, tmp_path):
    dest = tmp_path / "g.pkl"
    server.faults["/g.pkl"] = {"chunk_delay_s": 0.002, "no_validators": True}
    _cancel_at(server, dest, 300_000)
    server.files["/g.pkl"] = OTHER                                  # the server now has another file
    server.faults["/g.pkl"] = {"no_validators": True}
    list(download_file(server.url("/g.pkl"), dest, timeouts=FAST))
    assert dest.read_bytes() == OTHER


def test_a_cancelled_download_without_a_checksum_still_resumes(server, tmp_path):
    dest = tmp_path / "g.pkl"
    server.faults["/g.pkl"] = {"chunk_delay_s": 0.002}
    kept = _cancel_at(server, dest, 600_000)
    server.faults.clear()
    list(download_file(server.url("/g.pkl"), dest, timeouts=FAST))
    assert dest.read_bytes() == DATA
    assert server.requests_for("/g.pkl")[-1]["headers"].get("Range") == f"bytes={kept}-"
