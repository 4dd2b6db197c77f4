"""The universal mapper's figures (issue 18): wording it never saw, oracle success, pairs, speed.

For the held-out instructions and descriptions (templates and synonyms never used in training;
listed with ``--list``) and held-out unknown instructions:

  reader    share understood as their true target (unknown ones: refused);
  success   over ``--faces`` faces per phrasing group, share whose edited face the oracle reads
            with the target value; kept: share of (face, other group) labels left unchanged;
  code      on a generator with the portrait code, the same read exactly off the edited W
            (``CodeLayout.decode``), no oracle involved;
  pairs     held-out before/after pairs (a face, the same face with one attribute changed):
            share of edited faces whose target attribute reads the "after" value (oracle; code);
  speed     time of one edit (reader + mapper + StyleSpace shift; text embeddings cached, as in
            the editor once a text was read) beside one render, batch 1; and the first reading of
            a text never seen before (the CLIP and sentence encoders' passes), once per typed text.

With ``--directions`` the same edits by global directions (α ``--dir-alpha``, β ``--dir-beta``)
are measured beside them (building directions takes a while on a CPU the first time).

    python benchmarks/bench_universal_mapper.py --mapper runs/universal/universal-mapper.safetensors
    python benchmarks/bench_universal_mapper.py --fixture          # smoke run: code-tiny, tiny CLIP, quick training

On ``--fixture`` the synthesis and CLIP are random, so the oracle figures are chance-level by
construction; the reader and ``code`` figures are meaningful.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without installing

SUCCESS, KEPT, PAIRS, MIN_PHRASINGS = 0.80, 0.90, 0.90, 30
TINY_CLIP = {"embed_dim": 24,
             "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "patch_size": 16, "head_width": 16},
             "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1}}


def fixture(steps: int, folder: Path):
    """A code-tiny generator (random synthesis), a tiny random CLIP and a quickly trained model."""
    from stylepaint.clip import load_clip
    from stylepaint.engine.networks import Generator
    from stylepaint.portraits.latent_code import write_mapping
    from stylepaint.styleclip.universal_training import UniversalParams, train_universal
    from stylepaint.training.presets import get_preset

    torch.manual_seed(0)
    G = Generator(**get_preset("code-tiny")["generator"])
    write_mapping(G)
    G.model_id = "bench-code-tiny"
    G = G.eval().requires_grad_(False)
    (folder / "clip.json").write_text(json.dumps(TINY_CLIP))
    clip = load_clip(f"{folder / 'clip.json'}:random")
    params = UniversalParams(steps=steps, batch=8, hidden=64, clip_every=0, lr=3e-3, snap_steps=10 ** 9)
    t = time.perf_counter()
    last = list(train_universal(G, clip, folder / "run", params))[-1]
    print(f"fixture: trained {last['done']} steps (reader + pairs, no CLIP loss) in {time.perf_counter() - t:.0f} s")
    return G, clip, last["mapper"]


def sample(items, n, seed=0):
    """``n`` of ``items`` drawn at random (all of them, in their order, when ``n`` is None)."""
    items = list(items)
    if n is None:
        return items
    random.Random(seed).shuffle(items)
    return items[:n]


def reader_figures(model, clip, held):
    from stylepaint.errors import InputError
    from stylepaint.styleclip.instructions import understand
    from stylepaint.styleclip.phrasings import UNKNOWN

    right = {"instruction": [], "description": [], "unknown": []}
    for p in held:
        try:
            u = understand(model, clip, p.text)
            got = (u.group, u.value)
        except InputError:
            got = (UNKNOWN, "")
        key = "unknown" if p.group == UNKNOWN else p.kind
        right[key].append(got == (p.group, p.value) or (p.group == UNKNOWN and got[0] in (UNKNOWN, None)))
    return {k: (float(np.mean(v)) if v else float("nan"), len(v)) for k, v in right.items()}


def oracle_tags(img: torch.Tensor, oracle) -> list[dict]:
    """What the oracle reads on generator pictures [N, 3, H, W] in about [-1, 1]."""
    from stylepaint.tag_faces import read_tags

    return read_tags(((img.clamp(-1, 1) + 1) * 127.5).round().byte().permute(0, 2, 3, 1).cpu().numpy(), oracle)


def target_text(group: str, value: str, strength: float) -> str:
    """ "expression=sad", or "expression=sad x0.5" for a half-strength edit."""
    return f"{group}={value}" + (f" x{strength:g}" if strength != 1 else "")


@torch.no_grad()
def edit_figures(G, clip, model, phrasings, faces, oracle, code, directions=None, misses=None, each=None):
    """success/kept (oracle) and code success of the universal edits (and of directions).
    ``misses``: a list that receives (phrasing, what the reader understood, row) for each
    universal edit with oracle success below the goal; ``each``: a list that receives
    (phrasing text, row) for every universal edit."""
    from stylepaint.engine import stylespace
    from stylepaint.errors import InputError
    from stylepaint.styleclip.instructions import understand
    from stylepaint.styleclip.phrasings import canonical
    from stylepaint.styleclip.universal_mapper import condition

    z = torch.randn(faces, G.z_dim, generator=torch.Generator().manual_seed(12345)).to(G.device)
    ws = G.mapping(z, truncation_psi=0.7)
    base = stylespace.flatten(G.styles(ws))

    def labels(flat):
        out = []
        for i in range(0, len(flat), 50):
            img = G.synthesis_from_styles(stylespace.unflatten(flat[i:i + 50], G.style_layers), "const")
            out += oracle_tags(img, oracle)
        return out

    before = labels(base) if oracle is not None else None
    read = {}          # an edit's key -> (what the oracle reads on its faces, what the code reads)
    rows = {"universal": [], "directions": []}
    for p in phrasings:
        try:
            u = understand(model, clip, p.text)
        except InputError:
            u = None
        if u is None or u.group is None:
            rows["universal"].append({"success": 0.0, "kept": 1.0, "code": 0.0})
            if misses is not None:
                misses.append((p, "refused", rows["universal"][-1]))
            if each is not None:
                each.append((p.text, rows["universal"][-1]))
            continue
        made = {"universal": (("universal", u.target, u.neutral, u.alpha),
                              lambda: ws + model(ws, condition(clip, u.target, u.neutral), alpha=u.alpha))}
        if directions is not None:
            editor, alpha, beta = directions
            made["directions"] = (("directions", p.group, p.value),
                                  lambda: editor.apply(G.styles(ws), editor.direction(*canonical(p.group, p.value)),
                                                       alpha, beta)[0])
        for name, (key, edit) in made.items():
            if key not in read:         # phrasings understood alike make the same edit: read its faces once
                out = edit()
                if name == "universal":            # a W+ latent; directions give styles
                    flat, new_ws = stylespace.flatten(G.styles(out)), out
                else:
                    flat, new_ws = stylespace.flatten(out), None
                read[key] = (labels(flat) if oracle is not None else None,
                             code.decode(new_ws[:, 0].double().cpu().numpy()) if code is not None and new_ws is not None
                             else None)
            after, decoded = read[key]
            row = {}
            if after is not None:
                row["success"] = float(np.mean([a[p.group] == p.value for a in after]))
                row["kept"] = float(np.mean([b[g] == a[g] for b, a in zip(before, after) for g in b if g != p.group]))
            if decoded is not None:
                row["code"] = float(np.mean([r["attributes"][p.group] == p.value for r in decoded]))
            rows[name].append(row)
        if each is not None:
            each.append((p.text, rows["universal"][-1]))
        if misses is not None and rows["universal"][-1].get("success", 1.0) < SUCCESS:
            misses.append((p, target_text(u.group, u.value, u.strength), rows["universal"][-1]))
    return {name: {k: float(np.mean([r[k] for r in rs if k in r])) for k in ("success", "kept", "code")
                   if any(k in r for r in rs)} for name, rs in rows.items() if rs}


@torch.no_grad()
def pair_figures(G, clip, model, oracle, code, n):
    """Held-out before/after pairs: faces and targets never drawn in training (another seed)."""
    from stylepaint.styleclip.phrasings import canonical
    from stylepaint.styleclip.universal_mapper import condition
    from stylepaint.styleclip.universal_training import pair_batch

    gen = torch.Generator().manual_seed(987654)
    z = torch.randn(n, G.z_dim, generator=gen)
    wanted = [model.targets[int(i)] for i in torch.randint(0, len(model.targets), (n,), generator=gen)]
    ws, _ = pair_batch(G, code, z, wanted, 0.7)
    conds = torch.stack([condition(clip, *canonical(g, v)) for g, v in wanted])
    gains = torch.tensor([model.gain_of(g, v) for g, v in wanted])
    edited = ws + model(ws, conds) * gains[:, None, None].to(ws)
    out = {"code": float(np.mean([r["attributes"][g] == v for r, (g, v) in
                                  zip(code.decode(edited[:, 0].double().cpu().numpy()), wanted)]))}
    if oracle is not None:
        tags = oracle_tags(G.synthesis(edited, noise_mode="const"), oracle)
        out["oracle"] = float(np.mean([t[g] == v for t, (g, v) in zip(tags, wanted)]))
    return out


@torch.no_grad()
def speed(G, clip, model, repeats=20):
    from stylepaint.engine import stylespace
    from stylepaint.styleclip.instructions import Understanding, universal_delta
    from stylepaint.styleclip.phrasings import canonical
    from stylepaint.styleclip.universal_mapper import reader_input

    ws = stylespace.seed_to_ws(G, 1)
    group, value = model.targets[0]
    u = Understanding("make it so", "instruction", group, value, 1.0, 1.0, *canonical(group, value))

    def one_edit():         # the reader's pass and the edit of one face (what a typed instruction costs)
        model.read(reader_input(model, clip, [u.text]))
        universal_delta(G, clip, model, ws, u)

    def one_render():
        G.synthesis(ws, noise_mode="const")

    fresh = iter(f"make the hair shade number {i} please" for i in range(10 ** 6))

    def first_read():       # a text neither encoder has seen: what typing a new instruction costs once
        model.read(reader_input(model, clip, [next(fresh)]))

    times = {}
    for name, fn in (("edit", one_edit), ("render", one_render), ("first_read", first_read)):
        fn()
        t = time.perf_counter()
        for _ in range(repeats):
            fn()
        times[name] = (time.perf_counter() - t) / repeats * 1000
    return times


def model_arguments(p: argparse.ArgumentParser) -> None:
    """The options that say which generator, mapper and CLIP a benchmark measures, and on how many faces."""
    p.add_argument("--model", default=None, help="generator (default: the embedded default)")
    p.add_argument("--mapper", default=None, help="universal mapper file (default: the trained or shipped one)")
    p.add_argument("--clip", default=None)
    p.add_argument("--faces", type=int, default=200)


def load_models(args):
    """(generator, CLIP, universal mapper) named by ``model_arguments``' options."""
    import stylepaint
    from stylepaint.clip import load_clip
    from stylepaint.directions import default_clip_for
    from stylepaint.styleclip.universal_mapper import load_universal, require_universal

    G = stylepaint.load_generator(args.model, "cpu")
    clip = load_clip(args.clip or default_clip_for(G))
    return G, clip, load_universal(args.mapper, G, clip) if args.mapper else require_universal(G, clip)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    model_arguments(p)
    p.add_argument("--phrasings", type=int, default=None,
                   help="held-out instructions and descriptions each, drawn at random (default: every one; "
                        f"the goal asks for at least {MIN_PHRASINGS}, where one phrasing is 3.3 points)")
    p.add_argument("--directions", action="store_true", help="measure global directions on the same edits")
    p.add_argument("--dir-alpha", type=float, default=6.0)
    p.add_argument("--dir-beta", type=float, default=0.1)
    p.add_argument("--fixture", action="store_true", help="smoke run on code-tiny with a tiny random CLIP")
    p.add_argument("--train-steps", type=int, default=1500, help="--fixture: training steps")
    p.add_argument("--wording", choices=("all", "first", "late"), default="all",
                   help="which held-out set: the first (version 1 of instructions.json), the late one (written "
                        "with version 2, never used to choose anything), or both (default)")
    p.add_argument("--list", action="store_true", help="print the held-out phrasings measured")
    p.add_argument("--misses", action="store_true",
                   help="list the universal edits below the success goal, with what the reader understood")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--json", default=None, metavar="FILE",
                   help="also write the figures here (stylepaint mapper ship-universal --metrics reads it)")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)

    from stylepaint.portraits.oracle import load_oracle
    from stylepaint.styleclip.phrasings import UNKNOWN, phrasings
    from stylepaint.tag_faces import portrait_code

    if args.fixture:
        G, clip, model = fixture(args.train_steps, Path(tempfile.mkdtemp()))
    else:
        G, clip, model = load_models(args)
    groups = {g for g, _ in model.targets}
    held = [q for q in phrasings("heldout") if (q.group in groups or q.group == UNKNOWN)
            and (args.wording == "all" or q.late == (args.wording == "late"))]
    instr = sample([q for q in held if q.kind == "instruction" and q.group != UNKNOWN], args.phrasings)
    descr = sample([q for q in held if q.kind == "description"], args.phrasings)
    unknown = [q for q in held if q.group == UNKNOWN]
    if args.list:
        for q in instr + descr + unknown:
            print(f"  {q.kind:11} {q.text!r:40} -> {q.group}={q.value}")
    code = portrait_code(G)
    oracle = load_oracle() if G.img_resolution >= 32 else None
    print(f"model {getattr(G, 'source_path', G.model_id)} ({G.img_resolution} px), CLIP {clip.spec}, "
          f"{len(model.targets)} targets; trained {model.info.get('steps')} steps in {model.info.get('seconds')} s")

    print(f"held-out wording: {args.wording}")
    report = {"faces": args.faces, "wording": args.wording, "instructions": len(instr), "descriptions": len(descr),
              "unknown": len(unknown), "edits": {}}
    r = reader_figures(model, clip, instr + descr + unknown)
    report["reader"] = {k: v[0] for k, v in r.items()}
    for key, (acc, n) in r.items():
        print(f"reader  {key:12} {acc:7.2%} of {n} held-out phrasings")
    directions = None
    if args.directions:
        from stylepaint.directions import open_editor

        directions = (open_editor(G, clip.spec, build_missing=True), args.dir_alpha, args.dir_beta)
    for name, items in (("instructions", instr), ("descriptions", descr)):
        t = time.perf_counter()
        misses = [] if args.misses else None
        each = []
        figs = edit_figures(G, clip, model, items, args.faces, oracle, code, directions, misses, each)
        report["edits"][name] = figs
        report.setdefault("phrasings", {})[name] = dict(each)
        for q, read, row in misses or []:
            print(f"  below {SUCCESS:.0%}: {q.text!r:38} wants {target_text(q.group, q.value, q.strength):24} "
                  f"read {read:24} " +
                  "  ".join(f"{k} {v:6.1%}" for k, v in row.items()))
        for method, f in figs.items():
            parts = "  ".join(f"{k} {v:7.2%}" for k, v in f.items())
            print(f"edits   {name:12} {method:10} {parts}   ({len(items)} phrasings x {args.faces} faces, "
                  f"{time.perf_counter() - t:.0f} s)")
    if code is not None:
        pf = pair_figures(G, clip, model, oracle, code, args.faces)
        report["pairs"] = pf
        print("pairs   " + "  ".join(f"{k} {v:7.2%}" for k, v in pf.items()) + f"   ({args.faces} held-out pairs)")
    times = speed(G, clip, model)
    print(f"speed   edit {times['edit']:.1f} ms on top of a render of {times['render']:.1f} ms (batch 1, CPU, "
          f"{torch.get_num_threads()} thread); goal: edited render <= render + 10 ms -> "
          f"{'MET' if times['edit'] <= 10 else 'NOT MET'}")
    print(f"        reading a new text the first time: {times['first_read']:.1f} ms (once per typed text)")
    report["speed_ms"] = times
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
