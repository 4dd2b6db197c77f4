"""Captions: deterministic, varied, faithful to the attributes."""

from __future__ import annotations

import numpy as np
import pytest

from stylepaint.portraits.captions import caption, captions_for, value_captions
from stylepaint.portraits.renderer import sample_portrait
from stylepaint.portraits.vocabulary import load_spec, load_vocabulary


def test_captions_are_deterministic_and_varied():
    rec = sample_portrait(5)
    assert captions_for(rec, 4) == captions_for(rec, 4)
    many = captions_for(rec, 30)
    assert len(set(many)) >= 20
    assert any(c.startswith(("portrait,", "anime portrait,", "character portrait,", "headshot,", "illustration,")) for c in many)
    assert any(" with " in c for c in many)


def test_full_captions_name_every_present_attribute():
    spec = load_spec()
    for seed in range(60):
        rec = sample_portrait(seed)
        a = rec["attributes"]
        text = captions_for(rec, 1, full=True)[0]
        for group in ("hair_color", "eye_color", "skin_tone", "background"):
            words = spec["groups"][group]["values"][a[group]]["words"]
            assert any(w in text for w in words), (group, a[group], text)
        if a["eyewear"] == "sunglasses":
            assert any(w in text for w in ("sunglasses", "shades", "tinted glasses")), text
        if a["headwear"] == "hat":
            assert "hat" in text and "no hat" not in text, text
        if a["facial_hair"] == "beard":
            assert "beard" in text and "no beard" not in text, text


def test_hair_and_eye_colours_are_not_swapped():
    """With distinct hair and eye colours, 'X eyes' names the eye colour, never the hair's."""
    spec = load_spec()
    rng = np.random.default_rng(0)
    for seed in range(200):
        a = sample_portrait(seed)["attributes"]
        text = caption(a, rng)
        for eye_value, info in spec["groups"]["eye_color"]["values"].items():
            for w in info["words"]:
                if f" {w} eyes" in f" {text}" and eye_value != a["eye_color"]:
                    other = spec["groups"]["eye_color"]["values"][a["eye_color"]]["words"]
                    assert w in other, (text, a["eye_color"])


def test_partial_captions_leave_groups_out():
    rec = sample_portrait(9)
    lengths = [len(c.split()) for c in captions_for(rec, 40)]
    full = len(captions_for(rec, 1, full=True)[0].split())
    assert min(lengths) < full / 2


def test_value_captions_name_one_group_each_value():
    """The prompt contrast's captions: one per value, naming that value and no other group."""
    spec = load_spec()
    for group, values in load_vocabulary().items():
        for k in range(5):
            texts = value_captions(group, values, [k, 3])
            assert len(texts) == len(values) and len(set(texts)) == len(values), texts
            assert texts == value_captions(group, values, [k, 3])
            for v, text in zip(values, texts):
                if group in ("hair_color", "eye_color", "skin_tone", "background"):
                    assert any(w in text for w in spec["groups"][group]["values"][v]["words"]), (v, text)
                if group != "eye_color":
                    assert " eyes" not in text, text
                if group != "background":
                    assert "background" not in text and "backdrop" not in text, text


def test_only_rejects_unknown_groups():
    with pytest.raises(ValueError):
        caption(sample_portrait(1)["attributes"], np.random.default_rng(0), only="hair_colour")
