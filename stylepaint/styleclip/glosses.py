"""What a word means, from WordNet: a third way for the reader to read a text.

The portrait CLIP knows the procedural captions' words and the sentence encoder knows the
words of its training sentences; a word neither has seen ("make her hair navy", "an irate
face") is read as a guess. WordNet 3.0 says what such words mean: "navy" is also "dark blue,
navy blue (a dark shade of blue)", "irate" is "angry (feeling or showing extreme anger)",
"frizzy" is "curly ((of hair) in small tight curls)". The reader reads those meanings twice:
the CLIP reads the text with each such word's more general names beside it (``expand``: "make
her hair navy dark blue blue navy blue"), and the sentence encoder reads the words' glosses
(``gloss``, ``embed``) beside the text itself. It learns from the training words' meanings how
meanings map onto the vocabulary, and reads a new word by its meaning.

    expand("make her hair navy")    # "make her hair navy dark blue blue navy blue"
    gloss("make her hair navy")     # "dark blue: blue, navy, navy blue (a dark shade of blue) ; hair: ..."
    embed(["make her hair navy"])   # [1, 384]; zeros for a text none of whose words has a gloss

Only the senses that can say how a portrait looks are kept (``LEXNAMES``: adjectives, colours
and other attributes, things people wear, parts of the body, feelings, what a face does), at
most ``SENSES`` per word in WordNet's order (most frequent first). The table is built once from
WordNet with NLTK (``python -m stylepaint.styleclip.glosses build``) and shipped as
``resources/text/wordnet-glosses.json.gz`` with WordNet's licence; reading it needs no NLTK.

No Qt here; torch only through ``sentences``.
"""

from __future__ import annotations

import functools
import gzip
import json
import re
from pathlib import Path

from stylepaint.paths import RESOURCES
from stylepaint.styleclip.phrasings import whole_words

GLOSS_FILE = RESOURCES / "text" / "wordnet-glosses.json.gz"
FORMAT = "stylepaint-wordnet-glosses-1"
LEXNAMES = ("adj.all", "adj.ppl", "noun.attribute", "noun.artifact", "noun.body", "noun.feeling", "verb.body")
SENSES = 3             # senses kept per word
SYNONYMS = 4           # other names of a sense written in its gloss
MAX_SENSES = 6         # senses in one text's gloss, the rarest words' first
MIN_LENGTH = 3         # shorter words ("a", "no", "up") are never glossed
COMMON = 100           # a word tagged this often in WordNet's sense-tagged texts ("make", "face",
                       # "remove", "more") is known to every encoder: not glossed


@functools.lru_cache(maxsize=1)
def load_table(path: Path | None = None) -> dict:
    """{"senses": [gloss of each sense], "words": {word: [tag count, [sense indices]]}} from the shipped file."""
    path = Path(path or GLOSS_FILE)
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        table = json.load(fh)
    if table.get("format") != FORMAT:
        raise ValueError(f"{path} is not a gloss table ({FORMAT})")
    return table


def available() -> bool:
    return GLOSS_FILE.is_file()


def _forms(word: str) -> list[str]:
    """``word`` and the base forms an English ending may hide ("beaming" -> "beam", "curls" -> "curl")."""
    forms = [word]
    for ending, repl in (("ies", "y"), ("ing", ""), ("ing", "e"), ("ed", ""), ("ed", "e"), ("es", ""), ("s", "")):
        if word.endswith(ending) and len(word) - len(ending) >= MIN_LENGTH:
            forms.append(word[: -len(ending)] + repl)
    return forms


def _entries(text: str, table: dict) -> list[tuple[int, int, str, str, list[int]]]:
    """(tag count, position, word, its form in WordNet, senses) of each glossed word of ``text``, the rarest first."""
    words = table["words"]
    tokens = re.findall(r"[a-z][a-z'-]*", text.lower())
    entries = []
    i = 0
    while i < len(tokens):
        if i + 1 < len(tokens) and f"{tokens[i]}_{tokens[i + 1]}" in words:
            keys, i = [f"{tokens[i]}_{tokens[i + 1]}"], i + 2
        else:
            token, i = tokens[i].strip("'-"), i + 1
            keys = [token] if token in words or "-" not in token else token.split("-")
        for key in keys:
            form = next((f for f in _forms(key) if f in words), None) if len(key) >= MIN_LENGTH else None
            if form is not None and words[form][0] < COMMON:
                entries.append((words[form][0], len(entries), key, form, words[form][1]))
    return sorted(entries)


def expand(text: str, hide=()) -> str:
    """``text`` with each glossed word followed by up to three other names of its first sense,
    the more general first ("make her hair navy" -> "make her hair navy dark blue blue navy
    blue"): what the portrait CLIP reads, as it knows the general colour and mood words.
    ``hide``: names left out (as for ``gloss``)."""
    table = load_table()
    hidden = whole_words(frozenset(hide)) if hide else None
    out = text
    for _, _, key, form, senses in _entries(text, table):
        names = table["senses"][senses[0]].split(" (", 1)[0].replace(":", ",").split(", ")
        skip = {key.replace("_", " "), form.replace("_", " ")}
        extra = [n for n in names if n and n.lower() not in skip and not (hidden and hidden.search(n))][:3]
        if extra:
            out = re.sub(r"(?<![\w-])" + re.escape(key.replace("_", " ")) + r"(?![\w-])",
                         lambda m: m.group(0) + " " + " ".join(extra), out, count=1, flags=re.IGNORECASE)
    return out


def senses_of(text: str, table: dict | None = None) -> list[int]:
    """The senses glossed for ``text``: its words (two words as one where WordNet has them,
    "navy blue"; a hyphenated word whole, else its parts), the rarest first, common ones left
    out, each with its kept senses; at most ``MAX_SENSES``."""
    table = table or load_table()
    found: list[int] = []
    for *_, senses in _entries(text, table):
        found += [s for s in senses if s not in found]
    return found[:MAX_SENSES]


def gloss(text: str, hide=()) -> str:
    """The meanings of ``text``'s words ("" when none has a kept sense). ``hide``: words left out
    of the meanings (training leaves out the held-out wording, so no training input holds it)."""
    table = load_table()
    out = " ; ".join(table["senses"][s] for s in senses_of(text, table))
    if not hide or not out:
        return out
    out = whole_words(frozenset(hide)).sub("", out)
    return re.sub(r"(?:,\s*)+(?=[,(]|$)|(?<=:)\s*,", "", out).replace(" ,", ",")     # no empty list items left


def embed(texts: list[str], hide=()):
    """[N, 384] the sentence encoder's embedding of each text's gloss, zeros where it has none
    (``hide``: as for ``gloss``)."""
    import torch

    from stylepaint.styleclip import sentences

    hide = frozenset(hide)
    glosses = [gloss(t, hide) for t in texts]
    out = torch.zeros(len(texts), sentences.DIM)
    rows = [i for i, g in enumerate(glosses) if g]
    if rows:
        out[rows] = sentences.embed([glosses[i] for i in rows])
    return out


# ---- building the table (needs NLTK and its WordNet data) --------------------------------------

def build(out: Path = GLOSS_FILE) -> dict:
    """Write the gloss table from NLTK's WordNet (``nltk.download("wordnet")`` once)."""
    from nltk.corpus import wordnet as wn

    senses: list[str] = []
    index: dict[str, int] = {}
    words: dict[str, list[int]] = {}

    def sense_text(s) -> str:
        names = [n.replace("_", " ") for n in s.lemma_names()]
        related = [r.lemma_names()[0].replace("_", " ") for r in (s.similar_tos() + s.hypernyms())[:2]]
        others = list(dict.fromkeys(names[:1] + related + names[1:]))     # the more general names first
        return f"{names[0]}: {', '.join(others[1:1 + SYNONYMS])} ({s.definition()})".replace(":  (", ": (")

    for lemma in wn.all_lemma_names():
        kept = [s for s in wn.synsets(lemma) if s.lexname() in LEXNAMES][:SENSES]
        if not kept or len(lemma) < MIN_LENGTH:
            continue
        ids = []
        for s in kept:
            if s.name() not in index:
                index[s.name()] = len(senses)
                senses.append(sense_text(s))
            ids.append(index[s.name()])
        count = sum(x.count() for s in wn.synsets(lemma) for x in s.lemmas() if x.name().lower() == lemma.lower())
        words[lemma.lower()] = [count, ids]
    table = {"format": FORMAT, "source": "WordNet 3.0 (Princeton University), read with NLTK",
             "lexnames": list(LEXNAMES), "senses_per_word": SENSES, "senses": senses, "words": words}
    out.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(out, "wt", encoding="utf-8", compresslevel=9) as fh:
        json.dump(table, fh, separators=(",", ":"), sort_keys=True)
    return table


if __name__ == "__main__":
    import sys

    if sys.argv[1:] != ["build"]:
        sys.exit("usage: python -m stylepaint.styleclip.glosses build")
    t = build()
    print(f"{GLOSS_FILE}: {len(t['words'])} words, {len(t['senses'])} senses, {GLOSS_FILE.stat().st_size / 1e6:.1f} MB")
