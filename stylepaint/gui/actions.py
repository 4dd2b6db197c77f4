"""What the menus and docks do with files: favorites (add, restore, rename, delete, export),
morph and blend targets, PNG/latent export, recipes, opening latents, models and photos.

Every failure is a ``StylepaintError`` shown as one sentence in the message bar; nothing here
lets an exception escape into Qt. Dialogs only ask for paths; ``*_to(path)`` / ``*_from(path)``
do the work (tests call those directly).
"""

from __future__ import annotations

import base64
import functools
import io
import json
from pathlib import Path

import numpy as np
from PIL import Image
from PySide6.QtGui import QGuiApplication

from stylepaint.document import PNG_KEY, document_text, mask_from_png, mask_png
from stylepaint.edits import Recipe
from stylepaint.errors import InputError, StylepaintError
from stylepaint.favorites import FavoritesStore
from stylepaint import imagefiles as export
from stylepaint.gui import file_dialogs as dialogs
from stylepaint.gui.blend_panel import SNAPSHOT
from stylepaint.gui.canvas import to_qimage
from stylepaint.gui.export_dialog import ExportDialog
from stylepaint.gui.jobs import export_photo_job
from stylepaint.editor_state import EditorState, _array_digest

CHECKPOINT_FILTER = "Checkpoints (*.pkl *.pt *.pth *.safetensors);;All files (*)"
CHECKPOINT_SUFFIXES = {".pkl", ".pt", ".pth", ".safetensors"}
IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.webp *.bmp *.tif *.tiff);;All files (*)"
NOT_FROM_PHOTO = ("Export edited photo works on a face opened from a photo (File > Open photo…); "
                  "this face is not from a photo.")


def reported(fn):
    """Run an action; show a StylepaintError (or OSError) as a message instead of raising."""
    @functools.wraps(fn)
    def wrapper(self, *args, **kwargs):
        try:
            return fn(self, *args, **kwargs)
        except StylepaintError as exc:
            self.w.show_message(str(exc))
        except OSError as exc:
            self.w.show_message(f"{getattr(exc, 'filename', '') or 'file'}: {exc.strerror or exc}")
        return None
    return wrapper


class Actions:
    def __init__(self, window, controller, store: FavoritesStore):
        self.w = window
        self.c = controller
        self.store = store
        self.snapshot = None
        self.photo_jobs: dict[int, str] = {}

    # -- favorites -----------------------------------------------------------------------------
    def reload_favorites(self) -> None:
        favorites = self.store.list()
        for problem in getattr(self.store, "problems", []):
            self.w.show_message(problem, "warning")
        self.w.favorites_dock.set_favorites(favorites)
        self.w.morph_panel.set_targets(favorites)
        self.w.blend_panel.set_faces(favorites, has_snapshot=self.snapshot is not None)

    @reported
    def add_favorite(self, name: str | None = None):
        result = self.c.full_result or self.c.result
        if result is None or result.get("image") is None:
            raise InputError("nothing to keep yet: there is no picture on the canvas")
        meta = result.get("metadata") or {}
        state, arrays = self.c.state.to_favorite(ws=meta.get("ws"), model_id=meta.get("model_id"),
                                                 shifts=meta.get("shifts"))
        steps = self.c.state.applied_edits()
        name = name or (", ".join(s.label for s in steps if s.alpha) or f"Seed {self.c.state.seed}")
        return self.keep_favorite(name, state, arrays, result["image"])

    @reported
    def keep_favorite(self, name: str, state: dict, arrays: dict, image):
        """Store a favorite (``EditorState.to_favorite``'s form) with a thumbnail of ``image``."""
        thumb = Image.fromarray(np.asarray(image)).resize((128, 128), Image.Resampling.LANCZOS)
        buf = io.BytesIO()
        thumb.save(buf, "PNG")
        fav = self.store.add(name, state, arrays, buf.getvalue())
        self.reload_favorites()
        self.w.show_message(f"Added “{fav.name}” to favorites.", "info")
        return fav

    @reported
    def restore_favorite(self, fav_id: str) -> None:
        fav = self.store.get(fav_id)
        state = EditorState.from_favorite(fav.state, fav.arrays)
        if state.model is not None and not Path(state.model).exists():
            raise InputError(f"this favorite was made with {state.model}, which is no longer there")
        self.c.change(state)

    @reported
    def rename_favorite(self, fav_id: str, name: str) -> None:
        self.store.rename(fav_id, name)
        self.reload_favorites()

    @reported
    def delete_favorite(self, fav_id: str) -> None:
        self.store.delete(fav_id)
        self.reload_favorites()

    def export_favorite(self, fav_id: str) -> None:
        path = dialogs.save_path(self.w, "Export favorite", f"{fav_id}.zip", "Favorite bundles (*.zip)")
        if path:
            self.export_favorite_to(fav_id, path)

    @reported
    def export_favorite_to(self, fav_id: str, path) -> None:
        self.store.export(fav_id, path)
        self.w.show_message(f"Exported the favorite to {path}.", "info")

    def import_favorite(self) -> None:
        path = dialogs.open_path(self.w, "Import favorite", "", "Favorite bundles (*.zip)")
        if path:
            self.import_favorite_from(path)

    @reported
    def import_favorite_from(self, path) -> None:
        fav = self.store.import_bundle(path)
        self.reload_favorites()
        self.w.show_message(f"Imported “{fav.name}”.", "info")

    # -- morph and blend -------------------------------------------------------------------------
    @reported
    def set_morph(self, settings: dict | None, final: bool = True) -> None:
        s = self.c.state
        if settings is None:
            self.c.change(s.with_(morph=None))
            return
        fav = self.store.get(settings["favorite"])
        if fav.arrays.get("ws") is None:
            raise InputError(f"favorite “{fav.name}” has no saved latent to morph towards")
        morph = {**self._favorite_picture(fav), "t": settings["t"], "space": settings["space"],
                 "label": fav.name, "favorite": fav.id}
        self.c.change(s.with_(morph=morph), drag_key="morph", final=final)

    def _favorite_picture(self, fav) -> dict:
        """A favorite as face B: its latent with the edits, masks and shifts it was saved with."""
        return EditorState.from_favorite(fav.state, fav.arrays).picture(ws=fav.arrays.get("ws"))

    def morph_towards(self, fav_id: str) -> None:
        self.w.show_panel("morph")
        self.w.morph_panel.choose(fav_id)

    def blend_with(self, fav_id: str) -> None:
        self.w.show_panel("blend")
        self.w.blend_panel.choose(fav_id)

    def snapshot_for_blend(self) -> None:
        meta = (self.c.result or {}).get("metadata") or {}
        if meta.get("ws") is None:
            self.w.show_message("Render a face first; then snapshot it as face B.", "warning")
            return
        self.snapshot = self.c.state.picture(ws=np.array(meta["ws"], np.float32), shifts=meta.get("shifts"))
        self.reload_favorites()
        self.w.blend_panel.choose(SNAPSHOT)
        self.w.show_message("Face B is the snapshot. Now pick another face for A (seed, Random or a favorite).", "info")

    @reported
    def set_blend(self, settings: dict | None, final: bool = True) -> None:
        s = self.c.state
        if settings is None:
            self.c.change(s.with_(blend=None))
            return
        if settings["face_b"] == SNAPSHOT:
            face_b = self.snapshot
        else:
            fav = self.store.get(settings["face_b"])
            face_b = None if fav.arrays.get("ws") is None else self._favorite_picture(fav)
        if face_b is None:
            raise InputError("face B has no saved latent")
        blend = {k: settings[k] for k in ("mode", "feather", "from_layer", "label")}
        blend.update(ws_b=face_b["ws_b"], edits_b=[e for e in face_b["edits_b"] if not e.get("mask")],
                     pinned_b=face_b["pinned_b"])
        if blend["mode"] == "painted" and "blend" not in s.masks:
            self.w.show_message("Paint where face B should show (brush tool, B).", "info")
        self.c.change(s.with_(blend=blend), drag_key="blend", final=final)

    # -- export ------------------------------------------------------------------------------------
    def export(self) -> None:
        """File > Export…: the dialog collects where, format, scale and face or photo."""
        if self._image() is None:
            self.w.show_message("Nothing to export yet: there is no picture on the canvas.", "warning")
            return
        settings, photo = self.c.settings, self.c.state.photo
        fmt = settings["export_format"]
        start = settings["export_dir"] or (str(Path(photo["path"]).parent) if photo else str(Path.home()))
        stem = f"{Path(photo['path']).stem}-edited" if photo else "stylepaint"
        dialog = ExportDialog(str(Path(start) / (stem + export.FORMATS[fmt][1])), fmt, settings["export_scale"],
                              photo["name"] if photo else None, settings["export_quality"], self.w)
        try:
            if not dialog.exec():
                return
            path, fmt, scale, quality, source = dialog.path, dialog.fmt, dialog.scale, dialog.quality, dialog.source
        finally:
            dialog.deleteLater()
        why = dialogs.refusal(path, saving=True)             # a typed path is checked like a chosen one
        if why is not None:
            self.w.show_message(f"Cannot use that file: {why}.", "warning")
            return
        settings["export_format"], settings["export_quality"] = fmt, quality
        if source == "photo":
            self.export_photo_to(path, fmt, quality)
        else:
            settings["export_scale"] = scale
            self.export_png_to(path, scale, fmt, quality)

    def export_png(self) -> None:
        if self._image() is None:
            self.w.show_message("Nothing to export yet: there is no picture on the canvas.", "warning")
            return
        start = self.c.settings["export_dir"] or str(Path.home())
        path = dialogs.save_path(self.w, "Export PNG", str(Path(start) / "stylepaint.png"), "PNG images (*.png)")
        if path:
            self.export_png_to(path, self.c.settings["export_scale"])

    def export_png_to(self, path, scale: int = 1, fmt: str = "png", quality: int = 92) -> int | None:
        """Export the face as rendered (``fmt``: one of ``imagefiles.FORMATS``, PNG by default)."""
        image = self._image()
        if image is None:
            self.w.show_message("Nothing to export yet: there is no picture on the canvas.", "warning")
            return None
        return self.w.run_job(export.export_png_job, f"Exporting {Path(path).name}", path, image,
                              self._export_metadata(), scale, fmt, quality, on_done=self._exported)

    def _export_metadata(self) -> dict:
        """Readable keys, and the whole document (``stylepaint render --document x.png`` re-creates it)."""
        s = self.c.state
        meta = s.metadata()
        meta["model_id"] = self.c.model_meta.get("model_id") or ""
        meta["clip"] = s.clip or "the model's default"
        if s.blend is not None:
            meta["blend"] = {k: s.blend.get(k) for k in ("label", "mode", "feather", "from_layer")}
        if s.morph is not None:
            meta["morph"] = {k: s.morph.get(k) for k in ("label", "t", "space")}
        meta[PNG_KEY] = document_text(*self.w.documents.form())
        ws = ((self.c.full_result or {}).get("metadata") or {}).get("ws")
        if ws is not None and not meta["latent_sha1"]:
            meta["latent_sha1"] = _array_digest(np.asarray(ws)) or ""
        return meta

    def export_photo(self) -> None:
        photo = self.c.state.photo
        if photo is None:
            self.w.show_message(NOT_FROM_PHOTO, "warning")
            return
        start = self.c.settings["export_dir"] or str(Path(photo["path"]).parent)
        path = dialogs.save_path(self.w, "Export edited photo (full size)",
                                 str(Path(start) / f"{Path(photo['path']).stem}-edited.png"), "PNG images (*.png)")
        if path:
            self.export_photo_to(path)

    def export_photo_to(self, path, fmt: str = "png", quality: int = 92) -> int | None:
        """Paste the current (edited) render back into the opened photo and save it full size."""
        s = self.c.state
        if s.photo is None:
            self.w.show_message(NOT_FROM_PHOTO, "warning")
            return None
        image = self._image()
        shown = ((self.c.full_result or {}).get("args") or {}).get("ws")
        if image is None or _array_digest(None if shown is None else np.asarray(shown)) != _array_digest(s.ws):
            self.w.show_message("The photo's face is not on the canvas yet; export again once it is shown.", "warning")
            return None
        meta = self._export_metadata()
        meta["photo"] = s.photo["name"]
        return self.w.run_job(export_photo_job, f"Exporting {Path(path).name}", str(path), s.photo["path"],
                              s.photo["alignment"], image, meta, fmt, quality, on_done=self._exported)

    def _exported(self, path) -> None:
        self.c.settings["export_dir"] = str(Path(path).parent)
        self.w.show_message(f"Saved {path}.", "info")

    def _image(self):
        result = self.c.full_result or self.c.result
        return None if result is None else result.get("image")

    def copy_image(self) -> None:
        image = self._image()
        if image is None:
            self.w.show_message("Nothing to copy yet.", "warning")
            return
        QGuiApplication.clipboard().setImage(to_qimage(image))
        self.w.show_message("Copied the picture to the clipboard.", "info")

    # -- latents -----------------------------------------------------------------------------------
    def save_latent(self) -> None:
        path = dialogs.save_path(self.w, "Save latent", "face.npz", "Latents (*.npz)")
        if path:
            self.save_latent_to(path)

    @reported
    def save_latent_to(self, path) -> None:
        ws = ((self.c.full_result or {}).get("metadata") or {}).get("ws")
        export.save_latent(path, ws, {"model": self.c.state.model, "model_id": self.c.model_meta.get("model_id"),
                                      "seed": self.c.state.seed, "truncation": self.c.state.truncation})
        self.w.show_message(f"Saved the latent to {path}.", "info")

    def open_latent(self) -> None:
        path = dialogs.open_path(self.w, "Open latent", "", "Latents (*.npz);;All files (*)")
        if path:
            self.open_latent_from(path)

    @reported
    def open_latent_from(self, path) -> None:
        ws, meta = export.load_latent(path)
        num_ws, w_dim = self.c.model_meta.get("num_ws"), self.c.model_meta.get("w_dim")
        if ws.ndim == 1 and num_ws and ws.shape[0] == w_dim:
            ws = np.repeat(ws[None], num_ws, axis=0)            # a W latent: the same w for every layer
        if num_ws and w_dim and tuple(ws.shape) != (num_ws, w_dim):
            raise InputError(f"{Path(path).name} holds a latent of shape {list(ws.shape)}, "
                             f"but this model needs [{num_ws}, {w_dim}]: it was made for another model")
        self.c.change(self.c.state.with_(ws=ws))

    # -- recipes -----------------------------------------------------------------------------------
    def save_recipe(self) -> None:
        path = dialogs.save_path(self.w, "Save recipe", "recipe.json", "Recipes (*.json)")
        if path:
            self.save_recipe_to(path)

    @reported
    def save_recipe_to(self, path) -> None:
        """The edit stack as a recipe; a region edit keeps its painted mask (as PNG, in "masks")."""
        s = self.c.state
        steps = list(s.edits)
        if not steps:
            raise InputError("the edit stack is empty: add an edit first")
        data = Recipe(steps=steps, model=self.c.model_meta.get("model_id")).to_dict()
        data["masks"] = {k: base64.b64encode(mask_png(s.masks[k])).decode("ascii")
                         for k in sorted({st.mask for st in steps if st.mask and st.mask in s.masks})}
        export.write_file(path, json.dumps(data, indent=2).encode("utf-8"))
        self.w.show_message(f"Saved the recipe to {path}.", "info")

    def apply_recipe(self) -> None:
        path = dialogs.open_path(self.w, "Apply recipe", "", "Recipes (*.json);;All files (*)")
        if path:
            self.apply_recipe_from(path)

    @reported
    def apply_recipe_from(self, path) -> None:
        recipe = Recipe.load(path)
        masks = _recipe_masks(path)
        steps = tuple(s if s.mask in masks else s.with_(mask=None) for s in recipe.steps)
        self.c.change(self.c.state.with_(edits=steps, active=None, draft=None, masks={**self.c.state.masks, **masks}))

    # -- models and photos -------------------------------------------------------------------------
    def open_checkpoint(self) -> None:
        path = dialogs.open_path(self.w, "Open checkpoint", "", CHECKPOINT_FILTER)
        if path:
            self.open_checkpoint_from(path)

    @reported
    def open_checkpoint_from(self, path) -> None:
        if not Path(path).is_file():
            raise InputError(f"{path}: no such file")
        self.c.on_model(str(path))

    def open_path(self, path: str) -> None:
        """A dropped file: a checkpoint, a latent, a recipe, or else a photo."""
        suffix = Path(path).suffix.lower()
        if suffix in CHECKPOINT_SUFFIXES:
            self.open_checkpoint_from(path)
        elif suffix == ".npz":
            self.open_latent_from(path)
        elif suffix == ".json":
            self.apply_recipe_from(path)
        else:
            self.open_photo_from(path)

    def open_photo(self) -> None:
        path = dialogs.open_path(self.w, "Open photo", "", IMAGE_FILTER)
        if path:
            self.open_photo_from(path)

    @reported
    def open_photo_from(self, path) -> int | None:
        """Check the file is an image, then run the inversion job (when that pipeline exists)."""
        try:
            with Image.open(path) as im:
                im.verify()
        except (OSError, ValueError, SyntaxError) as exc:
            raise InputError(f"{Path(path).name} is not an image that can be opened") from exc
        from stylepaint.gui.worker import invert_photo_job

        job_id = self.w.run_job(invert_photo_job, f"Opening {Path(path).name}", str(path), self.c.state.model,
                                self.c.settings["device"], on_done=lambda value: self._photo_opened(str(path), value))
        self.photo_jobs[job_id] = str(path)
        return job_id

    def _photo_opened(self, path: str, value) -> None:
        ws = value.get("ws") if isinstance(value, dict) else value
        made_for = value.get("model_id") if isinstance(value, dict) else None
        if ws is not None and made_for and self.c.model_meta.get("model_id") not in (None, made_for):
            self.w.show_message(f"The model changed while {Path(path).name} was being opened; open the photo again.",
                                "warning")
            return
        if ws is not None:
            alignment = value.get("alignment") if isinstance(value, dict) else None
            photo = None if alignment is None else {"path": path, "name": Path(path).name, "alignment": alignment}
            self.c.change(self.c.state.with_(ws=np.asarray(ws, np.float32), photo=photo))
            check = value.get("identity") if isinstance(value, dict) else None
            said = f" {check['text']}" if check and check.get("text") else ""
            self.w.show_message(f"Opened the face from {Path(path).name}.{said}", "info")


def _recipe_masks(path) -> dict:
    """The region masks a recipe carries (``"masks"``: key -> base64 PNG); none in older recipes."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        return {str(k): mask_from_png(base64.b64decode(v, validate=True)) for k, v in (data.get("masks") or {}).items()}
    except (OSError, ValueError, TypeError, AttributeError) as exc:
        raise InputError(f"{Path(path).name}: its region masks cannot be read ({exc})") from None
