"""Captions for portrait records: varied wording, order, synonyms and partial descriptions.

``caption(attributes, rng)`` mentions a random subset of the groups (``full=True``: all of
them) in one of several forms: a sentence ("a smiling woman with long red hair and glasses"),
a tag list ("portrait, green eyes, curly blond hair") or a "portrait of ..." phrase. Absent
accessories are sometimes stated ("no glasses") so prompts about absence mean something.
"""

from __future__ import annotations

import numpy as np

from stylepaint.portraits.vocabulary import load_spec

_SPEC = None

#: probability that a group is mentioned in a partial caption
MENTION = {
    "hair_color": 0.8, "hair_style": 0.75, "bangs": 0.45, "eye_color": 0.6, "expression": 0.6,
    "eyewear": 0.6, "headwear": 0.6, "facial_hair": 0.55, "skin_tone": 0.5, "background": 0.55,
    "earrings": 0.5, "blush": 0.5, "lipstick": 0.5,
}
#: probability that an absent accessory ("none"/"no") is stated when its group is mentioned
STATE_ABSENCE = 0.45

_EXPRESSION_ADJ = {
    "neutral": ["calm", "expressionless", "neutral-looking"],
    "smiling": ["smiling", "happy", "cheerful"],
    "surprised": ["surprised", "astonished", "open-mouthed"],
    "sad": ["sad", "unhappy", "gloomy"],
    "angry": ["angry", "furious", "frowning"],
}
_EXPRESSION_WITH = {
    "neutral": ["a neutral expression", "a calm face", "a blank expression"],
    "smiling": ["a smile", "a big smile", "a happy face"],
    "surprised": ["an open mouth", "a surprised look", "a shocked face"],
    "sad": ["a sad face", "a sad expression", "a frown of sorrow"],
    "angry": ["an angry face", "an angry scowl", "furrowed brows"],
}
_HAIR_STYLE_NOUN = {
    "short": ["short {c} hair", "cropped {c} hair", "short {c} hair"],
    "long": ["long {c} hair", "long flowing {c} hair", "long {c} hair"],
    "bob": ["a {c} bob", "{c} bobbed hair", "a {c} bob cut"],
    "ponytail": ["a {c} ponytail", "{c} hair in a ponytail", "a {c} ponytail"],
    "curly": ["curly {c} hair", "wavy {c} hair", "curly {c} locks"],
}
_STYLE_ONLY = {
    "short": ["short hair"], "long": ["long hair"], "bob": ["a bob haircut", "a bob"],
    "ponytail": ["a ponytail"], "curly": ["curly hair"], "bald": ["a bald head", "no hair on top"],
}
_WEAR = {
    ("eyewear", "glasses"): ["glasses", "round glasses", "spectacles", "eyeglasses"],
    ("eyewear", "sunglasses"): ["sunglasses", "dark sunglasses", "shades", "tinted glasses"],
    ("eyewear", "none"): ["no glasses", "no eyewear"],
    ("headwear", "hat"): ["a hat", "a brimmed hat", "a sun hat"],
    ("headwear", "bow"): ["a bow", "a ribbon bow", "a hair bow", "a ribbon"],
    ("headwear", "none"): ["no hat", "no headwear"],
    ("earrings", "yes"): ["earrings", "dangling earrings", "shiny earrings"],
    ("earrings", "no"): ["no earrings"],
    ("lipstick", "yes"): ["lipstick", "painted lips", "bright lipstick"],
    ("lipstick", "no"): ["no lipstick", "natural lips", "no makeup on the lips"],
}
_WITH = {
    ("facial_hair", "beard"): ["a beard", "a full beard", "a bushy beard"],
    ("facial_hair", "moustache"): ["a moustache", "a mustache", "a thin moustache"],
    ("facial_hair", "none"): ["a clean-shaven face", "no beard", "no facial hair"],
    ("blush", "yes"): ["blushing cheeks", "rosy cheeks", "a blush", "pink cheeks"],
    ("blush", "no"): ["no blush", "plain cheeks"],
    ("bangs", "yes"): ["bangs", "a fringe", "bangs over the forehead"],
    ("bangs", "no"): ["no bangs", "a bare forehead", "no fringe"],
}


def _spec() -> dict:
    global _SPEC
    if _SPEC is None:
        _SPEC = load_spec()
    return _SPEC


def _pick(rng: np.random.Generator, options):
    return options[int(rng.integers(len(options)))]


def _words(group: str, value: str) -> list[str]:
    return _spec()["groups"][group]["values"][value]["words"]


def caption(attributes: dict, rng: np.random.Generator, full: bool = False, only: str | None = None) -> str:
    """One caption of a portrait with these attributes (``full``: every group is described;
    ``only``: just this group is, absence included -- "a portrait of a person with no glasses")."""
    a = attributes
    if only is not None and only not in MENTION:
        raise ValueError(f"unknown attribute group {only!r}")
    mention = {g: (g == only) if only else (full or rng.random() < p) for g, p in MENTION.items()}
    full = full or only is not None
    bald = a["hair_style"] == "bald"
    phrases_with: list[str] = []  # things the person has ("green eyes")
    phrases_wear: list[str] = []  # things the person wears ("glasses")

    # hair: colour and style merge into one phrase when both are mentioned
    colour = _pick(rng, _words("hair_color", a["hair_color"])) if mention["hair_color"] else None
    if mention["hair_style"] and not bald:
        if colour:
            phrases_with.append(_pick(rng, _HAIR_STYLE_NOUN[a["hair_style"]]).format(c=colour))
        else:
            phrases_with.append(_pick(rng, _STYLE_ONLY[a["hair_style"]]))
    else:
        if mention["hair_style"]:  # bald
            phrases_with.append(_pick(rng, _STYLE_ONLY["bald"]))
        if colour:
            phrases_with.append(f"{colour} hair" if not bald else _pick(rng, [f"{colour} hair on the sides", f"a {colour} fringe of hair"]))
    for group in ("bangs", "facial_hair", "blush"):
        v = a[group]
        absent = v in ("no", "none")
        if mention[group] and not (bald and group == "bangs") and (not absent or full or rng.random() < STATE_ABSENCE):
            phrases_with.append(_pick(rng, _WITH[(group, v)]))
    if mention["eye_color"]:
        phrases_with.append(f"{_pick(rng, _words('eye_color', a['eye_color']))} eyes")
    if mention["skin_tone"]:
        phrases_with.append(f"{_pick(rng, _words('skin_tone', a['skin_tone']))} skin")
    for group in ("eyewear", "headwear", "earrings", "lipstick"):
        v = a[group]
        absent = v in ("no", "none")
        if mention[group] and (not absent or full or rng.random() < STATE_ABSENCE):
            (phrases_with if absent else phrases_wear).append(_pick(rng, _WEAR[(group, v)]))
    expression = a["expression"] if mention["expression"] else None
    background = _pick(rng, _words("background", a["background"])) if mention["background"] else None

    form = rng.random()
    if form < 0.3:  # tag list, shuffled
        tags = phrases_with + phrases_wear
        if expression:
            tags.append(_pick(rng, _EXPRESSION_ADJ[expression] + _EXPRESSION_WITH[expression]))
        if background:
            tags.append(f"{background} background")
        order = rng.permutation(len(tags))
        head = _pick(rng, ["portrait", "anime portrait", "character portrait", "headshot", "illustration"])
        return ", ".join([head] + [tags[i] for i in order])

    # a sentence
    noun = _noun(a, rng)
    if expression and rng.random() < 0.6:
        adj = _pick(rng, _EXPRESSION_ADJ[expression])
        subject = f"{'an' if adj[0] in 'aeiou' else 'a'} {adj} {noun}"
        expression = None
    else:
        subject = f"{'an' if noun[0] in 'aeiou' else 'a'} {noun}"
    if expression:
        phrases_with.append(_pick(rng, _EXPRESSION_WITH[expression]))
    with_part = [phrases_with[i] for i in rng.permutation(len(phrases_with))]
    wear_part = [phrases_wear[i] for i in rng.permutation(len(phrases_wear))]
    parts = [subject]
    if with_part:
        parts.append("with " + _join(with_part))
    if wear_part:
        parts.append(_pick(rng, ["wearing ", "who wears ", "wearing "]) + _join(wear_part))
    if rng.random() < 0.5 and len(parts) == 3:
        parts[1], parts[2] = parts[2], parts[1]
    text = " ".join(parts[:1]) + (" " + ", ".join(parts[1:]) if len(parts) > 1 else "")
    if background:
        art = "an" if background[0] in "aeiou" else "a"
        text += _pick(rng, [f" on {art} {background} background", f", {background} background", f" against {art} {background} backdrop"])
    if form < 0.55:
        text = _pick(rng, ["a portrait of ", "portrait of ", "a drawing of ", "an illustration of "]) + text
    return text


def _noun(a: dict, rng: np.random.Generator) -> str:
    options = ["person", "character", "anime character", "face"]
    if a["facial_hair"] != "none":
        options += ["man", "guy", "man"]
    elif a["lipstick"] == "yes" or a["headwear"] == "bow":
        options += ["woman", "girl"]
    return _pick(rng, options)


def _join(items: list[str]) -> str:
    if len(items) == 1:
        return items[0]
    return ", ".join(items[:-1]) + " and " + items[-1]


def captions_for(record: dict, count: int = 1, full: bool = False, salt: int = 0) -> list[str]:
    """``count`` captions of one record, deterministic in its seed (and ``salt``)."""
    rng = np.random.default_rng([int(record["seed"]), 0xCA9, int(salt)])
    return [caption(record["attributes"], rng, full=full) for _ in range(count)]


#: the attributes a one-group caption is written about: nothing in them is mentioned except the
#: group that is substituted in, but they decide the noun and the bald-head wording
_PLAIN = {"hair_color": "brown", "hair_style": "short", "bangs": "no", "eye_color": "brown", "expression": "neutral",
          "eyewear": "none", "headwear": "none", "facial_hair": "none", "skin_tone": "fair", "background": "white",
          "earrings": "no", "blush": "no", "lipstick": "no"}


def value_captions(group: str, values: list[str], seed) -> list[str]:
    """One caption per value of ``group`` that mentions only that group, all drawn with the same
    random choices (so they differ in the value, not the wording form): the text side of a
    per-group prompt contrast."""
    return [caption(dict(_PLAIN, **{group: v}), np.random.default_rng(seed), only=group) for v in values]
