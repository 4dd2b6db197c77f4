"""Alignment from dlib's 68 landmarks and identity (dlib's face-recognition distance) on a real photo.

For each model (the 64 px fixture checkpoint and the embedded default), on
``../shared/fixtures/photos/astronaut.png``:

  align     which detector found the face and where the eyes came from (``landmarks68`` when
            dlib's 68-point predictor from ``face-recognition-models`` is installed), and where
            the eyes land in the aligned crop;
  inversion identity distance between the photo's aligned face and the inversion's
            reconstruction (``--restarts N`` runs N inversions and keeps the closest, as
            ``stylepaint invert --restarts`` does);
  edit      identity distance between the reconstruction and an edit of it, and between the
            photo and the edit. On the default the edit is a text edit with its shipped
            directions (``--prompt``, ``--alpha``); the fixture has no text directions, so its edit
            is a W+ shift along a seeded random direction of the same size as a typical edit.

dlib's same-person threshold is a distance of 0.6 (99.38 % on LFW): below it, the same person.

    python benchmarks/bench_identity.py [--models fixture default] [--restarts 1]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
PHOTO = ROOT.parent / "shared" / "fixtures" / "photos" / "astronaut.png"
FIXTURE = ROOT / "tests" / "data" / "checkpoints" / "sg2ada-64px.pkl"


def run_model(name: str, model, args) -> None:
    from stylepaint.edits import EditStep
    from stylepaint.engine.render import Renderer
    from stylepaint.inversion import identity
    from stylepaint.inversion.invert import run
    from stylepaint.inversion.pipeline import identity_check, invert_photo

    renderer = Renderer()
    G = renderer.generator(model, "cpu")
    best, t0 = None, time.perf_counter()
    for seed in range(args.restarts):
        inv = run(invert_photo(PHOTO, G, model=model, seed=seed, preview_every=0))
        check = identity_check(inv)
        d = check["distance"] if check and check["distance"] is not None else float("inf")
        if best is None or d < best[0]:
            best = (d, inv, check)
    seconds = time.perf_counter() - t0
    d, inv, check = best
    face = inv.found.aligned.face
    eyes = inv.alignment.to_crop([face.left_eye, face.right_eye]) / inv.alignment.size
    print(f"[{name}] {G.img_resolution} px, model {Path(str(G.source_path)).name}")
    print(f"  align: detector {face.detector}, eyes from {face.extra.get('eyes_refined')}, alignment "
          f"{inv.alignment.spec}; eyes in the crop at ({eyes[0, 0]:.3f}, {eyes[0, 1]:.3f}) and "
          f"({eyes[1, 0]:.3f}, {eyes[1, 1]:.3f}) of the side")
    print(f"  inversion: PSNR {inv.inversion.psnr:.2f} dB, {seconds:.1f} s for {args.restarts} run(s); "
          f"photo vs reconstruction: {identity.describe(check)}")

    if name == "default":
        step = EditStep(args.prompt, alpha=args.alpha, beta=args.beta)
        res = renderer.render(model=model, ws=inv.ws, edits=[step.to_dict()])
        if res["error"]:
            raise SystemExit(res["error"])
        edited, what = res["image"], f"text edit {args.prompt!r} at alpha {args.alpha}, beta {args.beta}"
    else:
        ws = torch.from_numpy(np.asarray(inv.ws, np.float32))
        g = torch.Generator().manual_seed(0)
        direction = torch.randn(ws.shape[-1], generator=g)
        scale = float(ws.reshape(-1, ws.shape[-1]).std()) * args.shift
        shifted = (ws + direction / direction.norm() * scale * ws.shape[-1] ** 0.5).numpy()
        res = renderer.render(model=model, ws=shifted)
        if res["error"]:
            raise SystemExit(res["error"])
        edited, what = res["image"], f"W+ shift along a random direction ({args.shift} W std per dimension)"
    before = identity_check(inv, edited, reference=inv.inversion.image)
    photo = identity_check(inv, edited)
    print(f"  edit ({what}): reconstruction vs edit: {identity.describe(before)}; photo vs edit: "
          f"{identity.describe(photo)}")
    if args.save:
        from stylepaint.inversion.imageio import save_image

        out = Path(args.save)
        out.mkdir(parents=True, exist_ok=True)
        save_image(inv.crop, out / f"{name}-crop.png")
        save_image(inv.inversion.image, out / f"{name}-inversion.png")
        save_image(edited, out / f"{name}-edit.png")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", nargs="+", default=["fixture", "default"], choices=["fixture", "default"])
    p.add_argument("--restarts", type=int, default=1, help="inversions per model; the closest identity is kept")
    p.add_argument("--prompt", default="smiling")
    p.add_argument("--alpha", type=float, default=4.0)
    p.add_argument("--beta", type=float, default=0.1)
    p.add_argument("--shift", type=float, default=1.0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--save", default=None, metavar="FOLDER", help="write the crops, inversions and edits here")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    from stylepaint.inversion import identity, landmarks

    if not identity.available():
        raise SystemExit("dlib's face models are not installed: pip install dlib-bin face-recognition-models")
    print(f"68-point landmarks: {landmarks.model_file(landmarks.SHAPE_68)}")
    for name in args.models:
        run_model(name, str(FIXTURE) if name == "fixture" else None, args)


if __name__ == "__main__":
    main()
