"""The attribute vocabulary of the procedural portraits (a data file, read once).

``stylepaint/resources/portraits/vocabulary.json`` lists every attribute group with its values, their
sampling probabilities, a prompt phrase per value ("red hair") and caption words; plus the
constraints applied after independent sampling and the ranges of the continuous nuisances.
"""

from __future__ import annotations

import copy
import functools
import json
from pathlib import Path

from stylepaint.paths import RESOURCES

VOCABULARY_FILE = RESOURCES / "portraits" / "vocabulary.json"


@functools.lru_cache(maxsize=4)
def _read(path: str) -> dict:
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def load_spec(path: Path | str = VOCABULARY_FILE) -> dict:
    """The whole vocabulary file as a dict (a deep copy: callers may change it)."""
    return copy.deepcopy(_read(str(path)))


def load_vocabulary(path: Path | str = VOCABULARY_FILE) -> dict[str, list[str]]:
    """Group name -> list of its values, in file order (the order of the oracle's outputs)."""
    spec = _read(str(path))
    return {group: list(info["values"]) for group, info in spec["groups"].items()}


def phrases(path: Path | str = VOCABULARY_FILE) -> dict[str, dict[str, str]]:
    """Group -> value -> natural-language phrase for prompts (hair_color red -> "red hair")."""
    spec = _read(str(path))
    return {g: {v: d["phrase"] for v, d in info["values"].items()} for g, info in spec["groups"].items()}


def prompt(group: str, value: str, path: Path | str = VOCABULARY_FILE) -> str:
    """The zero-shot prompt for one value: "a portrait of a person with red hair"."""
    info = _read(str(path))["groups"][group]
    return info["prompt"].format(phrase=info["values"][value]["phrase"])


def neutral_prompt(group: str, path: Path | str = VOCABULARY_FILE) -> str:
    """The group's prompt without a value, "a portrait of a person": the neutral text of its edits."""
    stem = _read(str(path))["groups"][group]["prompt"].split("{phrase}")[0].strip()
    for word in (" with", " on"):
        stem = stem.removesuffix(word)
    return stem


def probabilities(path: Path | str = VOCABULARY_FILE) -> dict[str, dict[str, float]]:
    """Group -> value -> configured sampling probability (before constraints)."""
    spec = _read(str(path))
    return {g: {v: float(d["p"]) for v, d in info["values"].items()} for g, info in spec["groups"].items()}


def expected_marginals(path: Path | str = VOCABULARY_FILE) -> dict[str, dict[str, float]]:
    """Group -> value -> probability of the value in renders, constraints included.

    Constraints are conditioned on groups that no constraint forces, so each forced group's
    marginal is ``P(not when) * p + P(when) * [value == forced]``.
    """
    spec = _read(str(path))
    probs = probabilities(path)
    out = copy.deepcopy(probs)
    for rule in spec.get("constraints", []):
        p_when = 1.0
        for g, v in rule["when"].items():
            p_when *= probs[g][v]
        for g, forced in rule["force"].items():
            for v in out[g]:
                out[g][v] = (1 - p_when) * out[g][v] + p_when * (1.0 if v == forced else 0.0)
    return out
