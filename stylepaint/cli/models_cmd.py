"""``stylepaint models list | download NAME | path NAME | remove NAME``: published models.

The catalogue is ``stylepaint/resources/catalogue.json`` unless ``--catalogue FILE`` or
``$STYLEPAINT_CATALOGUE`` names another. Files go to the user cache folder
(``stylepaint models path NAME`` prints where).
"""

from __future__ import annotations

import sys

from stylepaint.errors import ClipError, StylepaintError


def register(subparsers) -> None:
    parser = subparsers.add_parser("models", help="list, download and remove published models",
                                   description=__doc__.split("\n\n")[0])
    parser.add_argument("--catalogue", metavar="FILE",
                        help="catalogue JSON to use (default: $STYLEPAINT_CATALOGUE or the packaged one)")
    sub = parser.add_subparsers(dest="models_command", metavar="ACTION", required=True)

    p = sub.add_parser("list", help="what the catalogue offers and what is installed")
    p.add_argument("--check-clip", action="store_true",
                   help="also ask the CLIP preflight whether open_clip has the weights from elsewhere "
                        "(e.g. the Hugging Face cache); slower: it loads open_clip")
    p.set_defaults(func=_list)
    p = sub.add_parser("download", help="download a model (resumes an interrupted download)")
    p.add_argument("name")
    p.add_argument("--read-timeout", type=float, default=30.0, metavar="S",
                   help="give up when the server sends nothing for S seconds (default 30)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_download)
    p = sub.add_parser("path", help="print where a model's file is (exit 1 if not downloaded)")
    p.add_argument("name")
    p.set_defaults(func=_path)
    p = sub.add_parser("remove", help="delete a downloaded model (and any partial download)")
    p.add_argument("name")
    p.set_defaults(func=_remove)


def _store(args):
    from stylepaint.catalogue import ModelStore, load_catalogue

    return ModelStore(load_catalogue(args.catalogue))


def _clip_cache_status(spec: str) -> str | None:
    """'in open_clip cache' when the CLIP preflight finds the weights locally, else None."""
    try:
        from stylepaint.clip.preflight import preflight
    except ImportError:
        return None
    try:
        preflight(spec)
    except ClipError:
        return None
    return "in open_clip cache"


def _list(args) -> int:
    store = _store(args)
    rows = store.rows()
    gens = [r for r in rows if r["kind"] == "generator"]
    clips = [r for r in rows if r["kind"] == "clip"]
    print(f"Generators (catalogue: {store.catalogue.path}; folder: {store.folder})")
    table = [("NAME", "DOMAIN", "RES", "SIZE", "STATUS", "CLIP", "LICENCE")]
    for r in gens:
        licence = r["licence"] + ("" if r["commercial_use"] else " (non-commercial)")
        table.append((r["name"], r["domain"], str(r["resolution"]), r["size_text"], r["status"],
                      r["clip"] or "-", licence))
    _print_table(table)
    if clips:
        print(f"\nCLIP weights (folder: {store.clip_folder}, open_clip's cache)")
        table = [("NAME", "SIZE", "STATUS", "LICENCE")]
        for r in clips:
            status = r["status"]
            if status != "installed" and args.check_clip:
                status = _clip_cache_status(r["name"]) or status
            table.append((r["name"], r["size_text"], status, r["licence"]))
        _print_table(table)
    return 0


def _print_table(rows) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())


def _download(args) -> int:
    from tqdm import tqdm

    from stylepaint.catalogue import Timeouts

    store = _store(args)
    entry = store.catalogue.get(args.name)
    if store.status(args.name) != "installed":
        use = "non-commercial use only" if not entry.licence.commercial_use else "see the licence"
        print(f"{entry.title}: {entry.licence.name} ({use}).\n{entry.licence.notice}\n"
              f"Licence: {entry.licence.url}", file=sys.stderr)
    job = store.download(args.name, timeouts=Timeouts(read=args.read_timeout))
    bar = None
    final = None
    try:
        for progress in job:
            final = progress
            if args.quiet or progress["stage"] not in ("downloading", "verifying"):
                continue
            if bar is None or bar.desc != progress["stage"]:
                if bar is not None:
                    bar.close()
                bar = tqdm(total=progress["total"], initial=progress["done"], unit="B", unit_scale=True,
                           unit_divisor=1000, desc=progress["stage"], file=sys.stderr, leave=False)
            bar.update(progress["done"] - bar.n)
    finally:
        job.close()
        if bar is not None:
            bar.close()
    if final is None or final["stage"] != "done":
        raise StylepaintError(f"the download of {args.name} did not finish")
    note = "already downloaded" if final["reused"] else "downloaded"
    print(f"{args.name}: {note}, sha256 {final['sha256']}", file=sys.stderr)
    if entry.kind == "clip":
        print(f"use it with --clip {store.clip_spec(args.name)}", file=sys.stderr)
    print(final["path"])
    return 0


def _path(args) -> int:
    store = _store(args)
    path = store.path(args.name)
    print(path)
    if store.status(args.name) != "installed":
        print(f"{args.name} is not downloaded yet (stylepaint models download {args.name})", file=sys.stderr)
        return 1
    return 0


def _remove(args) -> int:
    store = _store(args)
    removed = store.remove(args.name)
    if not removed:
        print(f"{args.name} was not downloaded; nothing to remove", file=sys.stderr)
    for p in removed:
        print(f"removed {p}")
    return 0
