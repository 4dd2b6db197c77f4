"""The directions cache is never used when its contents were changed (issue 15, item 7):
tampered, NaN or truncated files are refused, and the rebuild says so and why."""

from __future__ import annotations

import torch

from stylepaint.directions import build, cache, cache_key, cached, run
from stylepaint.directions.cache import cache_paths, save_atomic
from test_directions import BATCH, PARAMS, clip, full, home, tiny_g  # noqa: F401 -- shared fixtures


def _tamper(full, path, change) -> None:
    """Write ``full`` as the cache does, then alter its numbers in place: a well-formed file
    (whatever else it holds is kept) whose contents changed after it was written."""
    save_atomic(full, path)
    state = torch.load(path, weights_only=True)
    state["R"] = change(state["R"].clone())
    torch.save(state, path)


def test_tampered_caches_are_refused_with_a_reason(home, tiny_g, clip, full):
    key = cache_key(tiny_g, clip, PARAMS)
    final = cache_paths(key)[0]
    final.parent.mkdir(parents=True, exist_ok=True)
    rng = torch.Generator().manual_seed(0)
    changes = {
        "flipped rows": lambda R: torch.cat([-R[:5], R[5:]]),
        "random rows": lambda R: torch.randn(R.shape, generator=rng),
        "rows x 1e30": lambda R: R * 1e30,
    }
    for what, change in changes.items():
        _tamper(full, final, change)
        assert cached(tiny_g, clip, PARAMS) is None, what
        assert "checksum" in cache.load_checked(final, key)[1], what
    save_atomic(full, final)
    assert torch.equal(cached(tiny_g, clip, PARAMS).R, full.R)


def test_nan_and_truncated_caches_are_refused(home, tiny_g, clip, full):
    key = cache_key(tiny_g, clip, PARAMS)
    final = cache_paths(key)[0]
    final.parent.mkdir(parents=True, exist_ok=True)
    broken = cache.Relevance.from_state({**full.to_state(), "R": torch.full_like(full.R, float("nan"))})
    save_atomic(broken, final)                         # written that way by a broken build
    assert cached(tiny_g, clip, PARAMS) is None
    assert cache.load_checked(final, key) == (None, "it holds NaN or infinite values")
    save_atomic(full, final)
    data = final.read_bytes()
    final.write_bytes(data[: len(data) // 2])
    assert cached(tiny_g, clip, PARAMS) is None
    rel, reason = cache.load_checked(final, key)
    assert rel is None and "cannot be read" in reason


def test_a_rebuild_says_that_it_rebuilds_and_why(home, tiny_g, clip, full):
    key = cache_key(tiny_g, clip, PARAMS)
    final = cache_paths(key)[0]
    final.parent.mkdir(parents=True, exist_ok=True)
    _tamper(full, final, lambda R: R * 1e30)
    infos = list(build(tiny_g, clip, PARAMS, batch_size=BATCH))
    assert "rebuilding the directions because the cached" in infos[0]["message"]
    assert "checksum" in infos[0]["rebuild_reason"] and not infos[-1]["cached"]
    assert torch.allclose(infos[-1]["relevance"].R, full.R, atol=1e-5)
    again = list(build(tiny_g, clip, PARAMS, batch_size=BATCH))          # the rebuilt file is good
    assert again[-1]["cached"] and again[-1].get("rebuild_reason") is None
    assert run(build(tiny_g, clip, PARAMS, batch_size=BATCH)) is not None
