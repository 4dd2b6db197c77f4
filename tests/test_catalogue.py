"""The model catalogue data file, its validation, and the local model store (no network)."""

from __future__ import annotations

import copy
import json
import re
import time
from pathlib import Path

import pytest

from stylepaint.catalogue import ModelStore, load_catalogue, resolve_model
from stylepaint.catalogue.registry import DEFAULT_PATH, parse_catalogue
from stylepaint.errors import DownloadError, StylepaintError


@pytest.fixture(autouse=True)
def _home(tmp_path, monkeypatch):
    monkeypatch.setenv("STYLEPAINT_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("STYLEPAINT_CATALOGUE", raising=False)


def _raw():
    return json.loads(DEFAULT_PATH.read_text(encoding="utf-8"))


def test_packaged_catalogue_lists_the_published_models():
    cat = load_catalogue()
    names = {e.name for e in cat.generators}
    assert {"ffhq-1024", "ffhq-512", "ffhq-256", "afhq-cat", "afhq-dog", "afhq-wild", "metfaces"} <= names
    by_name = {e.name: e for e in cat.generators}
    assert [by_name[f"ffhq-{r}"].resolution for r in (1024, 512, 256)] == [1024, 512, 256]
    clip_names = {e.name for e in cat.clips}
    for e in cat.generators:
        assert e.url.startswith("https://")
        assert e.neutral_prompt and e.domain
        assert e.clip in clip_names, f"{e.name}: default CLIP pairing {e.clip} is not in the catalogue"
        assert e.licence.commercial_use is False and "non-commercial" in e.licence.notice
        assert e.sha256 is None or re.fullmatch(r"[0-9a-f]{64}", e.sha256)


def test_openai_clip_checksums_match_the_hash_in_their_urls():
    # OpenAI publishes each file's sha256 as a path component; the catalogue must agree.
    for e in load_catalogue().clips:
        if "openaipublic" in e.url:
            assert e.url.split("/")[-2] == e.sha256
            assert e.url.endswith("/" + e.filename)


@pytest.mark.parametrize("edit, problem", [
    (lambda d: d["generators"].append(copy.deepcopy(d["generators"][0])), "duplicate name"),
    (lambda d: d["generators"][0].update(sha256="abc"), "64 hex digits"),
    (lambda d: d["generators"][0].update(licence="nope"), "licence 'nope'"),
    (lambda d: d["generators"][0].update(resolution=300), "power of two"),
    (lambda d: d["generators"][0].update(urls=["ftp://x/y.pkl"]), "http(s) URLs"),
    (lambda d: d["generators"][0].update(filename="../evil.pkl"), "plain file name"),
    (lambda d: d["generators"][0].update(size=-5), "positive number of bytes"),
    (lambda d: d.update(version=2), "version"),
])
def test_bad_entries_are_rejected_with_a_clear_message(edit, problem, tmp_path):
    data = _raw()
    edit(data)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    with pytest.raises(StylepaintError) as info:
        load_catalogue(path)
    assert problem in str(info.value) and str(path) in str(info.value)


def test_unreadable_or_missing_catalogue_is_a_clear_error(tmp_path):
    with pytest.raises(StylepaintError, match="does not exist"):
        load_catalogue(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{ not json")
    with pytest.raises(StylepaintError, match="could not be read"):
        load_catalogue(bad)


def _tiny_catalogue(tmp_path, url="http://127.0.0.1:9/g.pkl", sha256=None) -> Path:
    data = _raw()
    gen = dict(data["generators"][0], name="tiny", filename="tiny.pkl", urls=[url], sha256=sha256,
               approx_size_mb=None)
    data["generators"] = [gen]
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(data))
    return path


def test_environment_variable_selects_the_catalogue(tmp_path, monkeypatch):
    monkeypatch.setenv("STYLEPAINT_CATALOGUE", str(_tiny_catalogue(tmp_path)))
    cat = load_catalogue()
    assert [e.name for e in cat.generators] == ["tiny"]
    with pytest.raises(StylepaintError, match="not in the model catalogue"):
        cat.get("ffhq-1024")


def test_store_status_path_and_remove(tmp_path):
    store = ModelStore(load_catalogue(_tiny_catalogue(tmp_path)))
    path = store.path("tiny")
    assert path.parent == Path(tmp_path / "home" / "cache" / "models")
    assert store.status("tiny") == "available"
    path.with_name("tiny.pkl.part").write_bytes(b"12")
    assert store.status("tiny") == "partial"
    path.write_bytes(b"model")
    path.with_name("tiny.pkl.json").write_text("{}")
    assert store.status("tiny") == "installed"
    row = next(r for r in store.rows() if r["name"] == "tiny")
    assert row["status"] == "installed" and row["size_bytes"] == 5 and row["path"] == str(path)
    removed = store.remove("tiny")
    assert {p.name for p in removed} == {"tiny.pkl", "tiny.pkl.json", "tiny.pkl.part"}
    assert store.status("tiny") == "available"
    assert store.remove("tiny") == []


def test_resolving_a_model_that_is_not_downloaded_names_url_and_path(tmp_path):
    cat = load_catalogue(_tiny_catalogue(tmp_path))
    start = time.perf_counter()
    with pytest.raises(DownloadError) as info:
        resolve_model("tiny", cat)
    assert time.perf_counter() - start < 2
    message = str(info.value)
    assert "http://127.0.0.1:9/g.pkl" in message
    assert str(ModelStore(cat).path("tiny")) in message
    existing = tmp_path / "mine.pkl"
    existing.write_bytes(b"x")
    assert resolve_model(str(existing), cat) == existing
    with pytest.raises(StylepaintError, match="no such file"):
        resolve_model(str(tmp_path / "nothing.pkl"), cat)
