"""How well the universal mapper's reader reads training wording it was not trained on (issue 18).

The held-out phrasings measure the reader once a choice is made; choosing between readers needs
another measure. Here some of the *training* wording is set aside: in fold k, the k-th training
word of every value with two or more (``vocabulary.json``'s, the items' and ``train_words``) and
the k-th training template of every operation with two or more. A reader is trained on the rest
(every text with a set-aside word or template left out, captions too) and reads the set-aside
texts. Neither held-out set is touched: every text read here is a training text.

The set-aside words are of two kinds, as the held-out words are: words of the portrait
vocabulary, which the portrait CLIP learned from its captions ("chestnut", "spectacles"), and
the training words added with version 2 of ``instructions.json``, which it never saw ("mocha",
"a fedora"). The figures are given for each. Every third thing outside the vocabulary
(``unknown.things``: "paint the boat red", "give her a kite") is set aside as well; "unknowns"
is the share of their texts the reader refuses (or, for a description, takes as free text).

    python benchmarks/bench_reader_folds.py --folds 3 --members 3 [--views 0.5] [--dropout 0.5]
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without installing


def fold_data(data: dict, spec: dict, k: int, things: bool = True) -> tuple[dict, set[str], set[str]]:
    """``data`` (instructions.json) with fold ``k``'s training words and templates moved to the
    held-out lists, and the k-th of every third thing outside the vocabulary too (``things``
    False: no such things at all); (new data, the words moved, the words of those that came
    with version 2)."""
    from stylepaint.styleclip.phrasings import _words, training_templates

    data = copy.deepcopy(data)
    for kind in data["unknown"].get("things", {}).get("nouns", {}), data["unknown"].get("things", {}).get("items", {}):
        train = kind.get("train", [])
        kind["train"] = [t for i, t in enumerate(train) if things and i % 3 != k % 3]
        kind["heldout"] = [t for i, t in enumerate(train) if i % 3 == k % 3]
    moved, added = set(), set()
    for group, info in data["groups"].items():
        for value in spec["groups"][group]["values"]:
            words = _words(group, value, info, spec, "train")
            if len(words) < 2:
                continue
            word = words[k % len(words)]
            moved.add(word)
            more = data.get("train_words", {}).get(group, {}).get(value, [])
            items = info.get("items", {}).get(value)
            if word in more:
                added.add(word)
                more.remove(word)
                data["extra_words"].setdefault(group, {}).setdefault(value, []).append(word)
            elif items is not None:
                items["train"].remove(word)
                items["heldout"].append(word)
            else:
                data["heldout_words"].setdefault(group, {}).setdefault(value, []).append(word)
    for family in data["families"].values():
        for op in family.values():
            templates = training_templates(op)
            if len(templates) < 2:
                continue
            template = templates[k % len(templates)]
            for key in ("train", "train_more"):
                if template in op.get(key, []):
                    op[key].remove(template)
            op["heldout"].append(template)
    return data, moved, added


@contextlib.contextmanager
def reading(data: dict):
    """Within the block, the phrasings module reads ``data`` as instructions.json."""
    from stylepaint.styleclip import phrasings as ph

    real = ph.load_instructions
    ph.load_instructions = lambda: data
    ph.group_words.cache_clear()
    ph._training_tokens.cache_clear()
    try:
        yield
    finally:
        ph.load_instructions = real
        ph.group_words.cache_clear()
        ph._training_tokens.cache_clear()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--mapper", default="runs/universal-128/universal-mapper.safetensors")
    p.add_argument("--folds", type=int, default=3)
    p.add_argument("--members", type=int, default=3)
    p.add_argument("--steps", type=int, default=3000)
    p.add_argument("--dropout", type=float, default=0.5)
    p.add_argument("--views", type=float, default=0.0,
                   help="train_reader's views: share of rows read by one encoder only")
    p.add_argument("--glosses", action=argparse.BooleanOptionalAction, default=False,
                   help="train_reader's glosses: the reader also reads what the words mean (WordNet)")
    p.add_argument("--no-things", action="store_true",
                   help="leave out the phrasings of things outside the vocabulary (unknown.things)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--json", default=None, metavar="FILE")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)

    import stylepaint
    from stylepaint.clip import load_clip
    from stylepaint.directions import default_clip_for
    from stylepaint.errors import InputError
    from stylepaint.portraits.vocabulary import load_spec
    from stylepaint.styleclip.instructions import understand
    from stylepaint.styleclip.phrasings import UNKNOWN, load_instructions, phrasings
    from stylepaint.styleclip.universal_mapper import load_universal
    from stylepaint.styleclip.universal_training import train_reader

    G = stylepaint.load_generator(None, "cpu")
    clip = load_clip(default_clip_for(G))
    model = load_universal(args.mapper, G, clip)
    groups = sorted({g for g, _ in model.targets})
    real_train = {q.text for q in phrasings("train", groups)}
    data, spec = load_instructions(), load_spec()
    print(f"reader folds: {args.folds} folds, {args.members} members x {args.steps} steps, dropout {args.dropout}, "
          f"views {args.views}, glosses {'on' if args.glosses else 'off'}")
    rows = []
    for k in range(args.folds):
        fold, moved, added = fold_data(data, spec, k, not args.no_things)
        with reading(fold):
            aside = [q for q in phrasings("heldout", groups) if q.text in real_train]
            t = time.perf_counter()
            reader = train_reader(model, clip, steps=args.steps, dropout=args.dropout, members=args.members,
                                  seed=k, views=args.views, glosses=args.glosses)
        for q in aside:
            confidence = None                   # the reader's probability of what it read (None: refused)
            try:
                u = understand(reader, clip, q.text)
                right = ((u.group, u.value) == (q.group, q.value) and q.strength == u.strength
                         or q.group == UNKNOWN and u.group is None)
                confidence = u.confidence if u.group is not None else None
            except InputError:
                right = q.group == UNKNOWN
            new = any(f" {w} " in f" {q.text} " for w in added)
            kind = "unknown" if q.group == UNKNOWN else q.kind
            rows.append({"fold": k, "kind": kind, "words": "version 2" if new else "vocabulary", "right": right,
                         "confidence": confidence})
        print(f"  fold {k}: {len(moved)} words and the templates set aside, {len(aside)} texts, "
              f"reader trained in {time.perf_counter() - t:.0f} s", flush=True)
    report = {}
    for kind in ("instruction", "description", "unknown"):
        for words in (("vocabulary", "version 2", None) if kind != "unknown" else (None,)):
            sel = [r["right"] for r in rows if r["kind"] == kind and (words is None or r["words"] == words)]
            name = f"{kind}s, {'all words' if words is None else words + ' words'}"
            report[name] = (float(np.mean(sel)) if sel else float("nan"), len(sel))
            print(f"  {name:36} {report[name][0]:7.2%} of {len(sel)}")
    every = [r["right"] for r in rows if r["kind"] != "unknown"]
    print(f"  {'all of the vocabulary':36} {np.mean(every):7.2%} of {len(every)}")
    read = [r for r in rows if r["confidence"] is not None]          # texts read as a target
    for t in (0.6, 0.7, 0.8, 0.9):
        wrong = [r["confidence"] < t for r in read if not r["right"]]
        right = [r["confidence"] < t for r in read if r["right"]]
        print(f"  confidence below {t}: {np.mean(wrong):6.1%} of {len(wrong)} wrong readings, "
              f"{np.mean(right):6.1%} of {len(right)} right ones")
    if args.json:
        Path(args.json).write_text(json.dumps({"args": vars(args), "figures": report}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
