"""The WordNet glosses the reader of instructions reads beside a text (``styleclip.glosses``)."""

from __future__ import annotations

import gzip
import json

import pytest
import torch

from stylepaint.styleclip import glosses


def test_the_shipped_table_says_what_colour_and_mood_words_mean():
    assert glosses.available()
    table = glosses.load_table()
    assert table["format"] == glosses.FORMAT and len(table["words"]) > 30000
    assert "blue" in glosses.gloss("make her hair navy").split(";")[0]     # the rare word's meaning comes first
    assert "angry" in glosses.gloss("an irate face")
    assert "curl" in glosses.gloss("frizzy hair")
    assert "smile" in glosses.gloss("she is beaming")                    # "beaming" read through "beam" too
    assert (glosses.GLOSS_FILE.parent / "WORDNET-LICENSE").is_file()


def test_common_short_and_unknown_words_have_no_gloss():
    assert glosses.gloss("turn the music down") == ""      # every word common, short or a kind of thing not kept
    assert glosses.gloss("zukafo vabeti") == ""
    assert glosses.gloss("") == ""
    assert "make" not in glosses.gloss("make her hair navy")
    assert len(glosses.senses_of("navy lemon ruby lilac frizzy irate flaxen beanie")) == glosses.MAX_SENSES


def test_a_hyphenated_word_is_read_whole_or_by_its_parts():
    assert "chin" in glosses.gloss("chin-length hair")                    # not in WordNet whole: its parts
    table = glosses.load_table()
    assert "pitch-black" in table["words"]                                # in WordNet whole: read whole
    assert glosses.senses_of("a pitch-black background")[0] in table["words"]["pitch-black"][1]


def test_two_words_wordnet_has_as_one_are_read_as_one():
    table = glosses.load_table()
    assert "navy_blue" in table["words"]
    assert glosses.senses_of("navy blue")[0] == table["words"]["navy_blue"][1][0]


def test_a_table_in_another_format_is_refused(tmp_path):
    path = tmp_path / "g.json.gz"
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        json.dump({"format": "something else", "senses": [], "words": {}}, fh)
    with pytest.raises(ValueError, match="not a gloss table"):
        glosses.load_table.__wrapped__(path)


def test_embeddings_of_glosses_are_zero_where_there_is_none():
    from stylepaint.styleclip import sentences

    assert sentences.available(), sentences.missing_message()
    e = glosses.embed(["make her hair navy", "turn the music down", "make her hair sapphire"])
    assert e.shape == (3, sentences.DIM)
    assert torch.count_nonzero(e[1]) == 0
    assert torch.allclose(e[[0, 2]].norm(dim=1), torch.ones(2), atol=1e-4)
    assert float(e[0] @ e[2]) > 0.5              # navy and sapphire: both shades of blue


def test_no_training_input_holds_held_out_wording():
    """The meanings added to training texts leave the held-out wording out, as the texts do:
    "glasses" is also "specs" and "eyeglasses" in WordNet, both held out."""
    import re

    from stylepaint.styleclip.phrasings import caption_phrasings, hidden_wording, phrasings

    hide = hidden_wording()
    assert {"specs", "crimson"} <= hide
    assert "specs" in glosses.gloss("no glasses") and "specs" not in glosses.gloss("no glasses", hide)
    pattern = re.compile(r"(?<![\w-])(" + "|".join(re.escape(w.lower()) for w in sorted(hide, key=len, reverse=True))
                         + r")(?![\w-])")
    texts = {p.text for p in phrasings("train")} | {p.text for p in caption_phrasings()}
    for text in texts:      # (a training text may hold "golden": eyes in training, hair held out)
        assert not pattern.search(glosses.gloss(text, hide).lower()), text
        assert pattern.findall(glosses.expand(text, hide).lower()) == pattern.findall(text.lower()), text
