"""`stylepaint invert PHOTO [--model M] -o latent.npz`: find the face, align it, invert it."""

from __future__ import annotations

import sys


def register(sub) -> None:
    p = sub.add_parser("invert", help="find the face in a photo and invert it into a model's latent space")
    p.add_argument("photo", help="photo file (PNG, JPEG, TIFF, WebP...)")
    p.add_argument("--model", default=None, help="checkpoint file (default: the embedded default model)")
    p.add_argument("-o", "--output", required=True, help="latent file to write (.npz: ws, alignment, crop)")
    p.add_argument("--face", type=int, default=None, metavar="N", help="which face, 0 = largest (default)")
    p.add_argument("--align", choices=["ffhq", "portrait"], default=None,
                   help="alignment of the model's training data (default: portrait for the embedded model, else ffhq)")
    p.add_argument("--steps", type=int, nargs=2, default=None, metavar=("W", "WPLUS"),
                   help="optimisation steps in W, then W+ (default: 100 300 for models of 128 px and less, "
                        "every step run; 100 100 above, each stage ending when it levels off)")
    p.add_argument("--loss", choices=["auto", "pixel", "clip", "oracle", "lpips"], default="auto", help="reconstruction loss")
    p.add_argument("--restarts", type=int, default=1, metavar="N",
                   help="run N inversions (different starting noise) and keep the one closest in identity "
                        "to the photo by dlib's face recognition (default 1)")
    p.add_argument("--pti", type=int, default=0, metavar="STEPS", help="pivotal tuning steps (default 0: off)")
    p.add_argument("--device", default="cpu", help="cpu, cuda, mps or auto (default cpu)")
    p.add_argument("--crop", default=None, help="also write the aligned face crop (PNG)")
    p.add_argument("--reconstruction", default=None, help="also write the generator's reconstruction (PNG)")
    p.add_argument("--pasted", default=None, help="also write the photo with the reconstruction pasted back (PNG)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args) -> int:
    from stylepaint.engine.checkpoints import load_generator
    from stylepaint.errors import InputError
    from stylepaint.inversion import identity
    from stylepaint.inversion.imageio import load_photo, save_image
    from stylepaint.inversion.pasteback import paste_back
    from stylepaint.inversion.pipeline import identity_check

    if args.restarts < 1:
        raise InputError("--restarts must be at least 1")
    photo = load_photo(args.photo)  # a bad photo fails before a model is loaded
    G = load_generator(args.model, args.device)
    best = None
    for seed in range(args.restarts):
        inv = _invert_once(args, photo, G, seed)
        check = identity_check(inv)
        if args.restarts > 1:
            print(f"run {seed + 1}/{args.restarts}: PSNR {inv.inversion.psnr:.1f} dB, "
                  f"{identity.describe(check) if check else 'identity not measured (dlib face models missing)'}")
        # closest identity first; without dlib's models (or no face in either), the best PSNR
        key = (check["distance"] if check and check["distance"] is not None else float("inf"), -inv.inversion.psnr)
        if best is None or key < best[0]:
            best = (key, inv, check)
    _, inv, check = best
    inv.save(args.output)
    if args.crop:
        save_image(inv.crop, args.crop)
    if args.reconstruction:
        save_image(inv.inversion.image, args.reconstruction)
    if args.pasted:
        save_image(paste_back(inv.photo.pixels, inv.inversion.image, inv.alignment), args.pasted)
    face = inv.found.aligned.face
    print(f"wrote {args.output}: face {inv.found.index} of {len(inv.found.faces)} ({face.detector}"
          f"{', 68 landmarks' if face.landmarks is not None else ''}), "
          f"PSNR {inv.inversion.psnr:.1f} dB, {inv.inversion.seconds:.1f} s")
    if check is not None:
        print(identity.describe(check))
    return 0


def _invert_once(args, photo, G, seed: int):
    from stylepaint.inversion.invert import run as drain
    from stylepaint.inversion.pipeline import invert_photo

    job = invert_photo(photo, G, model=args.model, device=args.device, face_index=args.face, align=args.align,
                       loss=args.loss, iterations=args.steps, pti_steps=args.pti,
                       preview_every=0, seed=seed)
    bar = None
    if not args.quiet:
        from tqdm import tqdm

        bar = tqdm(total=1, file=sys.stderr, unit="step", leave=False)

    def progress(msg):
        if bar is None:
            return
        bar.total = msg["total"]
        bar.n = msg["done"]
        bar.set_description(msg["message"][:60], refresh=False)
        bar.refresh()

    try:
        return drain(job, progress)
    finally:
        if bar is not None:
            bar.close()
