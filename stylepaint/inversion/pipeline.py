"""Photo in, photo out: the steps of photo editing put together for the CLI and the GUI.

    job = invert_photo("me.jpg", model=None)          # progress generator (GUI: run in the worker)
    for msg in job: ...                                # {"done", "total", "stage", "message", "preview"?}
    inv = msg["result"]                                # PhotoInversion: ws, crop, alignment, photo
    out = edit_photo("me.jpg", None, [EditStep("curly hair", alpha=4)])   # EditedPhoto, full size
    save_image(out.image, "edited.png")

``invert_photo`` finds and aligns the face (the largest, or ``face_index``), then inverts the
crop; ``paste_edit`` renders the edits on the found latent through the one render entry point
and pastes the crop back into the full-resolution photo.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from stylepaint.errors import DataFileError, InputError, StylepaintError
from stylepaint.inversion import faces as faces_mod
from stylepaint.inversion.alignment import AlignedFace, Alignment, AlignSpec, align_face, spec_by_name, spec_for_model
from stylepaint.inversion.imageio import Photo, load_photo
from stylepaint.inversion.invert import Inversion, invert, run
from stylepaint.inversion.pasteback import paste_back
from stylepaint.safe_read import parse_json, read_arrays
from stylepaint.safe_write import describe_oserror, write_bytes_atomic

#: Detection runs on a copy no larger than this (the full photo is kept for paste-back).
DETECTION_SIDE = 1024
#: Steps of W and W+ optimisation by default (about 20 s for 256 px on two CPU cores).
DEFAULT_STEPS = (100, 100)
#: A stage ends once its loss improved by less than this fraction over 25 steps.
DEFAULT_PLATEAU = 0.002


def default_schedule(resolution: int) -> tuple[tuple[int, int], float]:
    """((W steps, W+ steps), plateau) that fit about 20 s on a 2-core CPU for a model of this
    resolution. Models of 128 px and less afford three times the W+ steps, every one run: on the
    embedded default that is +0.7 dB of PSNR for 15 s instead of 7 (benchmarks/bench_inversion.py)."""
    if resolution <= 128:
        return (100, 300), 0.0
    return DEFAULT_STEPS, DEFAULT_PLATEAU


@dataclass
class FoundFace:
    """The result of finding and aligning: every face, the chosen one, and its aligned crop."""

    photo: Photo
    faces: list
    index: int
    aligned: AlignedFace


@dataclass
class PhotoInversion:
    """A photo's face inverted into a generator: everything needed to edit and paste back."""

    photo: Photo
    found: FoundFace
    inversion: Inversion
    model: str | None
    model_id: str
    extra: dict = field(default_factory=dict)

    @property
    def ws(self) -> np.ndarray:
        return self.inversion.ws

    @property
    def alignment(self) -> Alignment:
        return self.found.aligned.alignment

    @property
    def crop(self) -> np.ndarray:
        return self.found.aligned.crop

    def save(self, path) -> Path:
        """Write the latent and how to put it back into the photo (``.npz``)."""
        import json

        path = Path(path)
        meta = {
            "photo": self.photo.name,
            "photo_size": list(self.photo.size),
            "model": self.model,
            "model_id": self.model_id,
            "face": self.found.aligned.face.to_dict(),
            "face_index": self.found.index,
            "faces_found": len(self.found.faces),
            "alignment": self.alignment.to_dict(),
            "psnr": self.inversion.psnr,
            "loss": self.inversion.loss,
            "seconds": self.inversion.seconds,
        }
        buf = io.BytesIO()
        np.savez_compressed(buf, ws=self.ws, crop=self.crop, reconstruction=self.inversion.image,
                            matrix=self.alignment.matrix, meta=np.array(json.dumps(meta)))
        try:
            write_bytes_atomic(path, buf.getvalue())
        except OSError as exc:
            raise InputError(f"{path}: cannot write the latent file ({describe_oserror(exc)}).") from None
        return path


def load_latent(path) -> dict:
    """Read a file written by ``PhotoInversion.save``: ``ws``, ``alignment`` (Alignment) and ``meta``."""
    arrays = read_arrays(path, path, "latent")
    missing = [k for k in ("ws", "crop", "reconstruction", "meta") if k not in arrays]
    if missing:
        raise DataFileError(path, f"is not a stylepaint latent file (no {', '.join(missing)})")
    ws = arrays["ws"]
    if ws.dtype.kind != "f" or not np.isfinite(ws).all():
        raise DataFileError(path, "holds a latent that is not finite floating-point numbers")
    meta = parse_json(str(arrays["meta"]).encode("utf-8"), path) if arrays["meta"].dtype.kind == "U" else None
    try:
        face = meta["face"]
        for key in ("box", "left_eye", "right_eye"):
            tuple(float(v) for v in face[key])
        float(face["score"])
        alignment = Alignment.from_dict(meta["alignment"])
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise DataFileError(path, f"is not a stylepaint latent file (its metadata lacks {exc!s:.60})") from None
    return {"ws": ws, "crop": arrays["crop"], "reconstruction": arrays["reconstruction"],
            "alignment": alignment, "meta": meta}


def inversion_from_latent(photo, latent) -> PhotoInversion:
    """Rebuild a ``PhotoInversion`` from a photo and the latent file ``invert`` wrote for it,
    so a photo is edited again without inverting again."""
    from stylepaint.inversion.faces import Face

    photo = load_photo(photo)
    data = load_latent(latent) if not isinstance(latent, dict) else latent
    meta, alignment = data["meta"], data["alignment"]
    if tuple(alignment.photo_size) != photo.size:
        raise InputError(f"{photo.name}: the latent was made for a {alignment.photo_size[0]}x{alignment.photo_size[1]} "
                         f"photo, this one is {photo.size[0]}x{photo.size[1]}.")
    f = meta["face"]
    face = Face(tuple(f["box"]), f["score"], tuple(f["left_eye"]), tuple(f["right_eye"]),
                None if f.get("mouth") is None else tuple(f["mouth"]), f.get("detector", ""))
    found = FoundFace(photo, [face], 0, AlignedFace(data["crop"], alignment, face))
    inv = Inversion(np.asarray(data["ws"], np.float32), data["reconstruction"], float(meta.get("loss", 0.0)),
                    float(meta.get("psnr", 0.0)), float(meta.get("seconds", 0.0)), [])
    return PhotoInversion(photo, found, inv, meta.get("model"), meta.get("model_id", ""))


def find_face(photo, *, spec: AlignSpec, size: int, face_index: int | None = None, domain: str | None = None) -> FoundFace:
    """Load (if needed), detect on a downscaled copy, pick a face and align it on the full photo."""
    photo = load_photo(photo)
    view, scale = photo.detection_view(DETECTION_SIDE)
    # Real-face models get the photo detectors only (the portrait finder would see eyes in coffee
    # cups); the embedded portrait model tries its own domain first, then photo detectors.
    domains = [domain] if domain else (["portrait", "photo"] if spec.domain == "portrait" else ["photo"])
    found: list = []
    for dom in domains:
        found = faces_mod.find_faces(view, dom)
        if found:
            break
    found = [f.scaled(1.0 / scale) for f in found]
    face = faces_mod.pick_face(found, face_index, photo.name)
    index = found.index(face)
    return FoundFace(photo, found, index, align_face(photo.pixels, face, spec, size))


def invert_photo(
    photo,
    generator=None,
    *,
    model=None,
    device="cpu",
    face_index: int | None = None,
    align: str | AlignSpec | None = None,
    loss="auto",
    iterations: tuple[int, int] | None = None,
    pti_steps: int = 0,
    preview_every: int = 10,
    init_ws: np.ndarray | None = None,
    plateau: float | None = None,
    seed: int = 0,
) -> Iterator[dict]:
    """Progress generator: find and align the face, then invert it. Last message holds ``"result"``.

    ``generator`` is a loaded generator (else ``model``, a checkpoint path or None for the embedded
    default, is loaded). ``align`` is "ffhq", "portrait" or an ``AlignSpec`` (default: by model).
    ``iterations`` is (W steps, W+ steps), each stage ending early when its loss levels off
    (``plateau``: e.g. 0.002, less than 0.2 % better over 25 steps; 0 runs every step); both
    default to ``default_schedule`` for the model's resolution; ``pti_steps`` > 0
    adds pivotal tuning; ``loss`` is "auto", "pixel", "clip", "oracle", "lpips" or a loss object.
    Messages are ``{"done", "total", "stage", "message"}`` plus ``"preview"`` (uint8 image) every
    ``preview_every`` steps and ``"crop"`` once the face is aligned. Close the generator to cancel.
    """
    yield {"done": 0, "total": 1, "stage": "load", "message": "loading"}
    photo = load_photo(photo)  # a bad photo fails before a model is loaded
    if generator is None:
        from stylepaint.engine.checkpoints import load_generator

        generator = load_generator(model, device)
    G = generator
    if model is None:
        model = getattr(G, "source_path", None)
    if isinstance(align, AlignSpec):
        spec = align
    elif align:
        spec = spec_by_name(align)
    else:
        spec = spec_for_model(model)
    found = find_face(photo, spec=spec, size=G.img_resolution, face_index=face_index)
    n = len(found.faces)
    yield {"done": 0, "total": 1, "stage": "align", "crop": found.aligned.crop,
           "message": f"found {n} face{'s' if n != 1 else ''}; using face {found.index} "
                      f"({found.aligned.face.eye_distance:.0f} px between the eyes)"}
    from stylepaint.inversion.losses import make_loss

    loss_fn = make_loss(loss, spec.domain, G.device) if isinstance(loss, str) else loss
    schedule, schedule_plateau = default_schedule(G.img_resolution)
    iterations = tuple(iterations) if iterations is not None else schedule
    plateau = schedule_plateau if plateau is None else plateau
    job = invert(G, found.aligned.crop, steps_w=iterations[0], steps_wplus=iterations[1], loss=loss_fn,
                 pti_steps=pti_steps, preview_every=preview_every, init_ws=init_ws, plateau=plateau, seed=seed)
    try:
        for msg in job:
            if "result" in msg:
                result = PhotoInversion(found.photo, found, msg["result"], None if model is None else str(model),
                                        getattr(G, "model_id", ""), {"loss": getattr(loss_fn, "name", "pixel")})
                yield dict(msg, result=result)
            else:
                yield msg
    finally:
        job.close()


def identity_check(inv: PhotoInversion, image: np.ndarray | None = None, reference: np.ndarray | None = None) -> dict | None:
    """dlib's identity distance between ``reference`` (default: the photo's aligned face) and
    ``image`` (default: the inversion's reconstruction), both aligned crops of this face; None
    when dlib's face models are not installed. See ``stylepaint.inversion.identity``."""
    from stylepaint.inversion import identity
    from stylepaint.inversion.alignment import spec_by_name

    if not identity.available():
        return None
    reference = inv.crop if reference is None else reference
    image = inv.inversion.image if image is None else image
    spec = spec_by_name(inv.alignment.spec) if inv.alignment.spec in ("ffhq", "portrait") else None
    box = None
    if spec is not None:
        box = identity.crop_box(reference.shape[1], spec.left_eye, spec.right_eye)
    return identity.compare(reference, image, box)


@dataclass
class EditedPhoto:
    """An edited photo: the full-size result, the edited crop, and the inversion it came from."""

    image: np.ndarray  # uint8 [H, W, 3], the photo's own size
    crop: np.ndarray  # uint8 [R, R, 3], the edited aligned face
    inversion: PhotoInversion


def _model_for_render(inv: PhotoInversion):
    """The model path to render with: the PTI-tuned copy (saved to the cache) when there is one."""
    if inv.inversion.generator is None:
        return inv.model
    from stylepaint.engine.checkpoints import save_generator
    from stylepaint.paths import user_cache_dir

    folder = user_cache_dir() / "pti"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{inv.model_id}-{abs(hash(inv.ws.tobytes())) % 10**12}.safetensors"
    if not path.exists():
        save_generator(inv.inversion.generator, path)
    return str(path)


def paste_edit(inv: PhotoInversion, steps: Sequence = (), *, renderer=None, device="cpu", clip=None,
               mode: str = "replace") -> EditedPhoto:
    """Render ``steps`` on the inverted latent and paste the crop back into the full photo.

    ``mode`` "replace" pastes the edited face itself; "difference" adds only what the edit changed
    (edited minus unedited render) to the photo's own face, which keeps the photo's detail where a
    generator reconstructs it poorly.
    """
    from stylepaint.engine.render import Renderer

    if mode not in ("replace", "difference"):
        raise InputError(f"unknown paste mode {mode!r}; use replace or difference.")
    renderer = renderer or Renderer()
    model = _model_for_render(inv)
    edits = [s.to_dict() if hasattr(s, "to_dict") else dict(s) for s in steps]
    res = renderer.render(model=model, device=device, ws=inv.ws, edits=edits, clip=clip)
    if res["error"]:
        raise StylepaintError(res["error"])
    edited = res["image"]
    if mode == "difference":
        plain = renderer.render(model=model, device=device, ws=inv.ws)
        if plain["error"]:
            raise StylepaintError(plain["error"])
        import cv2

        size = inv.alignment.size
        own = inv.crop.astype(np.float32)
        delta = edited.astype(np.float32) - plain["image"].astype(np.float32)
        if delta.shape[0] != size:
            delta = cv2.resize(delta, (size, size), interpolation=cv2.INTER_LINEAR)
        edited = np.clip(np.rint(own + delta), 0, 255).astype(np.uint8)
    image = paste_back(inv.photo.pixels, edited, inv.alignment)
    return EditedPhoto(image, edited, inv)


def edit_photo(
    photo,
    model,
    steps: Sequence = (),
    *,
    renderer=None,
    device="cpu",
    clip=None,
    mode: str = "replace",
    inversion: PhotoInversion | None = None,
    on_progress=None,
    **invert_options,
) -> EditedPhoto:
    """Edit a photo end to end: invert its face into ``model`` (unless ``inversion`` is given),
    apply ``steps`` (``EditStep``s or their dicts) and return the full-size edited photo.

    ``model`` is a checkpoint path, None for the embedded default, or a loaded generator.
    ``invert_options`` go to ``invert_photo`` (face_index, align, loss, iterations, pti_steps, ...);
    ``on_progress(msg)`` sees its progress messages.
    """
    from stylepaint.engine.render import Renderer

    renderer = renderer or Renderer()
    if inversion is None:
        if hasattr(model, "synthesis"):
            G, path = model, getattr(model, "source_path", None)
        else:
            G, path = renderer.generator(model, device), model
        inversion = run(invert_photo(photo, G, model=path, device=device, **invert_options), on_progress)
    return paste_edit(inversion, steps, renderer=renderer, device=device, clip=clip, mode=mode)
