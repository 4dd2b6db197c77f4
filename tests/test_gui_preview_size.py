"""The preview size while dragging follows the frame budget: halves when a preview is slow,
grows back when it is fast, never above the setting, and starts over for another model."""

from __future__ import annotations

from stylepaint.gui.preview_size import BUDGET_MS, SMALLEST, AdaptivePreview


def drag(policy, cost_per_pixel_ms, largest=256, resolution=1024, frames=12):
    sizes = []
    for _ in range(frames):
        size = policy.next_size(largest, resolution)
        sizes.append(size)
        policy.observe(size, cost_per_pixel_ms * size * size, largest)
    return sizes


def test_a_slow_model_gets_smaller_previews_until_they_fit():
    policy = AdaptivePreview()
    per_pixel = 1000.0 / 256 ** 2                      # 1 s at 256 px: 250 ms at 128, 62 ms at 64
    sizes = drag(policy, per_pixel)
    assert sizes[:3] == [256, 128, 64]
    assert sizes[-1] == 64 and per_pixel * 64 ** 2 <= BUDGET_MS
    assert set(sizes[3:]) == {64}                      # settles: 128 would not fit


def test_a_fast_model_keeps_the_largest_preview_the_setting_allows():
    policy = AdaptivePreview()
    assert drag(policy, 1e-5, largest=256) == [256] * 12
    policy = AdaptivePreview()
    drag(policy, 1000.0 / 256 ** 2, frames=3)          # a slow spell (another process busy, say) ...
    assert policy.next_size(256, 1024) == 64
    assert drag(policy, 1e-5, largest=256, frames=4) == [64, 128, 256, 256]   # ... then fast frames


def test_never_below_the_smallest_nor_a_preview_as_big_as_the_picture():
    policy = AdaptivePreview()
    sizes = drag(policy, 1.0)                          # hopelessly slow
    assert min(sizes) == SMALLEST
    assert AdaptivePreview().next_size(256, 256) is None
    assert AdaptivePreview().next_size(0, 1024) is None  # previews switched off


def test_another_model_starts_from_the_setting_again():
    policy = AdaptivePreview()
    drag(policy, 1000.0 / 256 ** 2)
    assert policy.next_size(256, 1024) == 64
    assert policy.next_size(256, 512) == 256
