"""Instructions and descriptions of the portrait vocabulary, written from data files.

Every phrasing says what it means: a target (attribute group and value), whether it is an
instruction ("make the hair red", "remove her glasses", "a bit less smiling") or a
description ("red hair"), and a strength (0.5 for "a bit more/less"). The templates and the
words come from ``resources/portraits/instructions.json`` and ``vocabulary.json``; the wording
marked held out there (templates, synonyms, extra words) is never in the ``train`` split, so an
evaluation on ``heldout`` measures whether the reader generalises to new wording.

    for p in phrasings("train", groups=("hair_color", "eyewear")):
        p.text, p.group, p.value, p.kind, p.strength       # "make the hair red", "hair_color", "red", ...

No torch here.
"""

from __future__ import annotations

import functools
import json
import random
import re
from dataclasses import dataclass

from stylepaint.paths import RESOURCES
from stylepaint.portraits.vocabulary import load_spec

INSTRUCTIONS_FILE = RESOURCES / "portraits" / "instructions.json"
SPLITS = ("train", "heldout")
UNKNOWN = "unknown"          # the reader's class for phrasings that name nothing of the vocabulary


@dataclass(frozen=True)
class Phrasing:
    text: str
    group: str               # attribute group, or UNKNOWN
    value: str               # target value ("" for UNKNOWN)
    kind: str                # "instruction" or "description"
    strength: float          # how far: 1, or 0.5 for "a bit more/less"
    split: str               # "train" or "heldout"
    late: bool = False       # held out with the second set of wording ("late_words", "late" templates)


@functools.lru_cache(maxsize=1)
def load_instructions() -> dict:
    with open(INSTRUCTIONS_FILE, encoding="utf-8") as fh:
        return json.load(fh)


def targets(groups=None) -> list[tuple[str, str]]:
    """Every (group, value) of the vocabulary (in file order), optionally only ``groups``."""
    spec = load_spec()
    return [(g, v) for g, info in spec["groups"].items() if groups is None or g in groups for v in info["values"]]


def _bare(item: str) -> str:
    for article in ("a ", "an "):
        if item.startswith(article):
            return item[len(article):]
    return item


def _words(group: str, value: str, info: dict, spec: dict, split: str) -> list[str]:
    """The words of a value in ``split``: held-out, extra and late words only in "heldout",
    the value's ``train_words`` only in "train"."""
    data = load_instructions()
    items = info.get("items", {}).get(value)
    late = list(data.get("late_words", {}).get(group, {}).get(value, []))
    more = list(data.get("train_words", {}).get(group, {}).get(value, []))
    if items is not None:
        return list(items[split]) + (late if split == "heldout" else more)
    held = data["heldout_words"].get(group, {}).get(value, [])
    if split == "heldout":
        return list(held) + list(data["extra_words"].get(group, {}).get(value, [])) + late
    return [w for w in spec["groups"][group]["values"][value]["words"] if w not in held] + more


def training_templates(op: dict) -> list[str]:
    """An operation's training templates: its own and those added with version 2 (``train_more``)."""
    return op["train"] + op.get("train_more", [])


def _fill(template: str, slots: dict, pronouns: dict) -> list[str]:
    texts = [template]
    for key, options in (("obj", pronouns["obj"]), ("pos", pronouns["pos"])):
        if "{" + key + "}" in template:
            texts = [t.replace("{" + key + "}", o) for t in texts for o in options]
    return [t.format(**slots) for t in texts]


def _group_phrasings(group: str, info: dict, spec: dict, split: str, pronouns: dict):
    data = load_instructions()
    family = data["families"][info["family"]]
    values = spec["groups"][group]["values"]
    rest = info.get("rest")
    for op, templates in family.items():
        meaning = data["operations"][op]
        for value, vinfo in values.items():
            present = value != rest
            if meaning.get("to_rest") and not present:
                continue                 # "remove X" / "less X" names a present value, means the rest
            if op in ("add", "set", "more", "bit_more") and rest is not None and not present:
                continue
            if op == "describe" and info["family"] == "item" and not present:
                train_words = [vinfo["phrase"]] + list(vinfo["words"])      # "no glasses", "clean-shaven"
                held_words = []
            else:
                train_words = _words(group, value, info, spec, "train")
                held_words = _words(group, value, info, spec, "heldout")
            # train: training templates x training words; heldout: every phrasing with a
            # held-out template or a held-out word (late: one of the second set's)
            train_templates = training_templates(templates)
            if split == "train":
                pairs = [(t, w) for t in train_templates for w in train_words]
            else:
                held_templates = templates["heldout"] + templates.get("late", [])
                pairs = ([(t, w) for t in held_templates for w in train_words + held_words]
                         + [(t, w) for t in train_templates for w in held_words])
            # late: a phrasing of the second held-out set, or one that pairs held-out wording with
            # the training wording added beside it (so the first set stays what it was)
            late_templates = set(templates.get("late", []) + templates.get("train_more", []))
            late_words = {w for key in ("late_words", "train_words")
                          for w in data.get(key, {}).get(group, {}).get(value, [])}
            target = rest if meaning.get("to_rest") else value
            for template, word in pairs:
                slots = {"word": word, "bare": _bare(word), "phrase": vinfo["phrase"], "noun": info.get("noun", "")}
                late = split == "heldout" and (template in late_templates or word in late_words)
                for text in _fill(template, slots, pronouns):
                    yield Phrasing(" ".join(text.split()), group, target, meaning["kind"], float(meaning["strength"]),
                                   split, late)


_PORTRAIT_WORDS = ("person", "face", "portrait")      # describe templates that name a person stay with the vocabulary


def _unknown_things(split: str, pronouns: dict):
    """Phrasings of things outside the vocabulary ("paint the boat red", "give her a kite", "no
    kite"): the colour family's instruction and plain describe templates filled with
    ``unknown.things.nouns``, the item family's with ``unknown.things.items``, each with the kind
    of its operation (a description outside the vocabulary is free text, not an error). Training
    templates in both splits: only the things differ."""
    data = load_instructions()
    things = data["unknown"].get("things", {})
    for family, key in (("colour", "nouns"), ("item", "items")):
        for op, templates in data["families"][family].items():
            meaning = data["operations"][op]
            for template in training_templates(templates):
                if any(w in template for w in _PORTRAIT_WORDS):
                    continue
                for thing in things.get(key, {}).get(split, []):
                    for colour in things.get("colours", []) if family == "colour" else [""]:
                        slots = {"word": colour or thing, "bare": _bare(thing), "noun": thing, "phrase": thing}
                        for text in _fill(template, slots, pronouns):
                            yield Phrasing(" ".join(text.split()), UNKNOWN, "", meaning["kind"], 1.0, split)


def phrasings(split: str = "train", groups=None, unknown: bool = True) -> list[Phrasing]:
    """Every phrasing of ``split`` ("train": training templates and words only; "heldout": each
    phrasing uses a held-out template or a held-out word), optionally only for ``groups``.

    A text that appears with two meanings is dropped, and a held-out text that also appears in
    training is not held out: the splits never share a text."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    data, spec = load_instructions(), load_spec()
    out: dict[str, Phrasing] = {}
    clash: set[str] = set()
    for group, info in data["groups"].items():
        if groups is not None and group not in groups:
            continue
        for p in _group_phrasings(group, info, spec, split, data["pronouns"]):
            old = out.get(p.text)
            if old is not None and (old.group, old.value, old.kind, old.strength) != (p.group, p.value, p.kind, p.strength):
                clash.add(p.text)
            out.setdefault(p.text, p)
    if unknown:
        for text in data["unknown"][split]:
            out.setdefault(text, Phrasing(text, UNKNOWN, "", "instruction", 1.0, split))
        for text in data["unknown"].get("late", []) if split == "heldout" else []:
            out.setdefault(text, Phrasing(text, UNKNOWN, "", "instruction", 1.0, split, True))
        for p in _unknown_things(split, data["pronouns"]):
            out.setdefault(p.text, p)
    if split == "heldout":
        seen = {p.text for p in phrasings("train", groups, unknown)}
        clash |= seen
    return [p for t, p in out.items() if t not in clash]


def hidden_wording() -> frozenset[str]:
    """Every held-out word and every word only held-out templates use: what the reader's training
    inputs leave out of the meanings they add to a text (``glosses``), as no training text has them."""
    words, template_words = heldout_wording()
    return frozenset(words | template_words)


@functools.lru_cache(maxsize=8)
def whole_words(words: frozenset[str]) -> re.Pattern:
    """A pattern that finds any of ``words`` as a whole word or phrase, in any case, the longest
    first ("a cap" is not found in "a cape", "dark glasses" before "glasses")."""
    alternatives = sorted((w.lower() for w in words), key=len, reverse=True)
    return re.compile(r"(?<![\w-])(" + "|".join(re.escape(w) for w in alternatives) + r")(?![\w-])", re.IGNORECASE)


CAPTION_SEEDS = 20     # random wordings per group of the caption generator's one-group captions


def heldout_wording() -> tuple[set[str], set[str]]:
    """(held-out words and items, words that only held-out templates use): what no training text may contain."""
    data = load_instructions()
    words = {w for info in data["groups"].values() for item in info.get("items", {}).values() for w in item["heldout"]}
    for source in (data["heldout_words"], data["extra_words"], data.get("late_words", {})):
        words |= {w for values in source.values() for ws in values.values() for w in ws}

    def template_words(*splits):
        return {w for family in data["families"].values() for op in family.values() for split in splits
                for t in op.get(split, []) for w in re.sub(r"\{\w+\}", " ", t).lower().split()}

    return words, template_words("heldout", "late") - template_words("train", "train_more")


def caption_phrasings(groups=None, seeds: int = CAPTION_SEEDS) -> list[Phrasing]:
    """Descriptions from the captions the portrait CLIP was trained on: for each group, ``seeds``
    random wordings of one-group captions ("a character who wears spectacles", "headshot, blue
    eyes"), labelled with the value they name. More forms of description for the reader than the
    templates give; a caption with any held-out word, or a word only held-out templates use, is
    left out, so the held-out wording stays out of training. No text with two meanings."""
    from stylepaint.portraits.captions import value_captions

    spec = load_spec()
    words, template_words = heldout_wording()
    pattern = whole_words(frozenset(words))
    seen: dict[str, tuple[str, str] | None] = {}
    for g, info in spec["groups"].items():
        if groups is not None and g not in groups:
            continue
        values = list(info["values"])
        for seed in range(seeds):
            for v, text in zip(values, value_captions(g, values, [seed, 7])):
                low = text.lower()
                if pattern.search(low) or template_words & set(low.replace("-", " ").replace(",", " ").split()):
                    continue
                seen[text] = (g, v) if seen.get(text, (g, v)) == (g, v) else None
    return [Phrasing(t, g_v[0], g_v[1], "description", 1.0, "train") for t, g_v in seen.items() if g_v]


@functools.lru_cache(maxsize=None)
def group_words(group: str) -> tuple[str, ...]:
    """The words training texts use for any value of ``group`` ("red", "a hat" and "hat", "no
    glasses"), longest first; no held-out word."""
    data, spec = load_instructions(), load_spec()
    info = data["groups"][group]
    words, held = set(), set()
    for value, vinfo in spec["groups"][group]["values"].items():
        found = _words(group, value, info, spec, "train") + [vinfo["phrase"]]
        if info["family"] == "item" and value == info.get("rest"):
            found += list(vinfo["words"])              # "no glasses", as the templates use them
        words |= {w for word in found for w in (word, _bare(word))}
        held |= set(_words(group, value, info, spec, "heldout"))
    return tuple(sorted(words - held, key=lambda w: (-len(w), w)))     # the same order in every process


_SYLLABLES = ("b", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z"), ("a", "e", "i", "o", "u")


@functools.lru_cache(maxsize=1)
def _training_tokens() -> frozenset[str]:
    """Every word of every group's training words ("sage", "pitch-black", "glasses")."""
    return frozenset(t for g in load_instructions()["groups"] for w in group_words(g) for t in w.lower().split())


def made_up_word(rng: random.Random) -> str:
    """A pronounceable word no vocabulary uses ("zukafo"): what a word the portrait CLIP never
    saw looks like to it."""
    while True:
        word = "".join(rng.choice(_SYLLABLES[0]) + rng.choice(_SYLLABLES[1]) for _ in range(rng.randint(2, 3)))
        if word not in _training_tokens():        # "sage" and "mocha" are words of the vocabulary
            return word


def masked_text(p: Phrasing, rng: random.Random) -> str | None:
    """``p``'s text with the word that names its attribute replaced by a made-up word ("make the
    hair red" -> "make the hair zukafo"), or None where it has none (unknown texts). The reader
    trains on such texts through the CLIP beside the real text through the sentence encoder, so
    it learns to read a word the CLIP does not know (held-out "specs", "a cap") from the sentence
    encoder alone."""
    if p.group == UNKNOWN:
        return None
    for word in group_words(p.group):
        pattern = r"(?<![\w-])" + re.escape(word) + r"(?![\w-])"
        if re.search(pattern, p.text, flags=re.IGNORECASE):
            return re.sub(pattern, lambda _: made_up_word(rng), p.text, count=1, flags=re.IGNORECASE)
    return None


def absences() -> set[tuple[str, str]]:
    """The targets that say something is not there ("no bangs", "no glasses"): the rest value of
    each item group. CLIP reads such a text much as the thing itself, so its loss pulls the
    wrong way there."""
    data = load_instructions()
    return {(g, info["rest"]) for g, info in data["groups"].items() if info["family"] == "item" and "rest" in info}


def canonical(group: str, value: str) -> tuple[str, str]:
    """(target text, neutral text) of a vocabulary target: the prompts the edit benchmarks use,
    "a portrait of a person with red hair" from "a portrait of a person"."""
    from stylepaint.portraits.vocabulary import neutral_prompt, prompt

    return prompt(group, value), neutral_prompt(group)


def label(group: str, value: str, strength: float = 1.0) -> str:
    """How the editor shows an understood target: "hair colour → red" ("… (a bit)" at 0.5)."""
    spec = load_spec()
    text = f"{spec['groups'][group].get('label', group)} → {value}"
    return text if strength >= 1.0 else f"{text} (a bit)"
