"""The one render entry point: plain arguments in, a result dict out.

The GUI worker, the CLI and the tests all call `Renderer.render(**args)`. It never raises:
an error comes back as one sentence in ``result["error"]`` (and the traceback of an
unexpected one in ``result["metadata"]["traceback"]`` for the log). Networks, CLIP models and
directions are cached by their arguments, failures included, so moving a slider never
reloads anything.
"""

from __future__ import annotations

import threading
import time
import traceback
from collections import OrderedDict
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from stylepaint.edits import EditStep
from stylepaint.engine import stylespace
from stylepaint.engine.blending import blend_streams, default_from_layer
from stylepaint.engine.checkpoints import load_generator, resolve_device
from stylepaint.engine.networks import Generator
from stylepaint.engine.prefix_cache import PrefixCache, fast_precision
from stylepaint.errors import InputError, StylepaintError


def to_uint8(img: torch.Tensor) -> np.ndarray:
    """[1, 3, H, W] in about [-1, 1] -> [H, W, 3] uint8."""
    img = (img[0].detach().float().clamp(-1, 1) + 1) * 127.5
    return img.round().to(torch.uint8).permute(1, 2, 0).cpu().numpy()


def _mask_tensor(mask, G: Generator, what: str) -> torch.Tensor:
    m = np.asarray(mask, dtype=np.float32)
    if m.ndim == 3 and m.shape[-1] == 1:
        m = m[..., 0]
    if m.ndim != 2:
        raise InputError(f"{what} must be a 2-D array (height x width), got shape {m.shape}")
    return torch.from_numpy(np.clip(m, 0, 1)).to(G.device)[None, None]


def _lerp_styles(a: dict, b: dict, t: float) -> "OrderedDict[str, torch.Tensor]":
    return OrderedDict((k, torch.lerp(a[k], b[k], t)) for k in a)


def _steps(edits) -> list[EditStep]:
    return [s if isinstance(s, EditStep) else EditStep.from_dict(s) for s in edits]


def composite_regions(plain: torch.Tensor, edited: torch.Tensor, masks: list[torch.Tensor]) -> torch.Tensor:
    """Keep a region edit inside its painted region: beyond a short feather around the union of
    the masks the pixels are the unedited render's, inside they are the feature-blended edit's.

    Feature blending makes the edit coherent with its surroundings; at the coarse layers it also
    leaks a little outside the mask, which a designer who painted a region does not expect.
    """
    res = edited.shape[-1]
    union = torch.zeros_like(edited[:, :1])
    for m in masks:
        union = torch.maximum(union, F.interpolate(m.to(edited), size=edited.shape[-2:], mode="bilinear",
                                                   align_corners=False).clamp(0, 1))
    radius = max(1, res // 64)                         # feather: 1 px at 64 px, 16 px at 1024 px
    grow = F.max_pool2d(union, 2 * radius + 1, stride=1, padding=radius)
    weight = F.avg_pool2d(grow, 2 * radius + 1, stride=1, padding=radius, count_include_pad=False)
    return plain + (edited - plain) * weight


class Renderer:
    """Owns the models; `render()` is the only way in."""

    def __init__(self, max_generators: int = 3, build_directions: bool = True, direction_params=None):
        self._generators: "OrderedDict[tuple, Generator | StylepaintError]" = OrderedDict()
        self._editors: dict = {}
        self.max_generators = max_generators
        self.build_directions = build_directions
        self.direction_params = direction_params   # a directions.BuildParams; None = the recipe's defaults
        self._lock = threading.RLock()             # renders and long jobs (own thread) share the caches
        self._prefix = PrefixCache()               # blocks of the last renders, reused while a slider moves

    # ------------------------------------------------------------------ caches
    def generator(self, model=None, device="cpu") -> Generator:
        key = (str(model) if model is not None else None, str(device))
        with self._lock:
            return self._generator(key, model, device)

    def _generator(self, key, model, device) -> Generator:
        if key not in self._generators:
            try:
                if model is not None and not Path(model).expanduser().is_file():
                    from stylepaint.catalogue.store import resolve_model   # a catalogue name

                    model = resolve_model(str(model))
                self._generators[key] = load_generator(model, resolve_device(device))
            except StylepaintError as exc:
                self._generators[key] = exc
            while len(self._generators) > self.max_generators:
                self._generators.popitem(last=False)
        self._generators.move_to_end(key)
        value = self._generators[key]
        if isinstance(value, StylepaintError):
            raise value
        return value

    def forget(self, model=None) -> None:
        """Drop cached generators (and their editors) for `model`, e.g. after the file changed."""
        with self._lock:
            for key in [k for k in self._generators if k[0] == (str(model) if model is not None else None)]:
                del self._generators[key]
            self._prefix.clear()

    def editor(self, G: Generator, clip: str | None):
        """The text editor (CLIP + global directions) for this generator, cached.

        Directions that are not on disk yet are built here (minutes on a CPU) unless
        `build_directions` is False; the GUI builds them as a background job instead and hands
        the (partial) result over with `set_editor`.
        """
        from stylepaint.directions import open_editor  # imported on first edit: CLIP is heavy

        key = (G.model_id, str(G.device), clip)
        with self._lock:
            if key not in self._editors:
                try:
                    self._editors[key] = open_editor(G, clip, self.direction_params, build_missing=self.build_directions)
                except StylepaintError as exc:
                    self._editors[key] = exc
            value = self._editors[key]
        if isinstance(value, StylepaintError):
            raise value
        return value

    def set_editor(self, G: Generator, clip: str | None, editor) -> None:
        """Install an editor built elsewhere (e.g. by a background direction build)."""
        with self._lock:
            self._editors[(G.model_id, str(G.device), clip)] = editor

    def forget_editor(self, G: Generator, clip: str | None) -> None:
        """Drop a cached editor (or cached failure), e.g. once its directions have been built."""
        with self._lock:
            self._editors.pop((G.model_id, str(G.device), clip), None)

    # ------------------------------------------------------------------ pieces
    def face_ws(self, G: Generator, seed, ws, truncation: float) -> torch.Tensor:
        """The face's W+ ``[1, num_ws, w_dim]``: ``ws`` (W+ or W) when given, else the seed's."""
        if ws is None:
            return stylespace.seed_to_ws(G, int(seed), truncation)
        arr = np.asarray(ws, dtype=np.float32)
        if arr.ndim == 2:
            arr = arr[None]
        if arr.shape[1:] == (G.w_dim,):
            arr = np.repeat(arr[:, None], G.num_ws, axis=1)
        if arr.shape != (1, G.num_ws, G.w_dim):
            raise InputError(f"this latent has shape {list(np.asarray(ws).shape)}, but the model needs "
                             f"[{G.num_ws}, {G.w_dim}] (W+) or [{G.w_dim}] (W)")
        return torch.from_numpy(arr).to(G.device)

    def _edited(self, G: Generator, styles: dict, steps: list, clip, pinned=None,
                resolved=None, ws=None, checks=None) -> tuple[dict, list[int]]:
        """``ws``: the face's W+, which a mapper step (issue 17) maps to its own shift; ``checks``,
        when given, receives each text prompt's distance from its neutral text (``prompt_check``)."""
        steps = [s if isinstance(s, EditStep) else EditStep.from_dict(s) for s in steps]
        if not steps:
            return styles, []
        from stylepaint.directions import apply_steps

        pinned = pinned or {}
        every_pinned = all(s.direction_key() in pinned for s in steps if s.enabled and s.method == "directions")
        editor = None if every_pinned else self.editor(G, clip)
        mapper_shift = None
        if ws is not None and any(s.enabled and s.method == "mapper" for s in steps):
            from stylepaint.styleclip.apply import mapper_shifter

            mapper_shift = mapper_shifter(G, clip, ws)
        out = apply_steps(editor, styles, steps, pinned, resolved, mapper_shift)
        if checks is not None and editor is not None:
            for s in steps:
                if s.enabled and s.method == "directions" and (s.prompt, s.neutral) not in checks:
                    checks[(s.prompt, s.neutral)] = {"prompt": s.prompt, "neutral": s.neutral,
                                                     **editor.prompt_check(s.prompt, s.neutral)}
        return out

    def _picture_styles(self, G: Generator, ws_t: torch.Tensor, steps: list, clip, pinned=None) -> dict:
        """The styles of another picture (blend or morph face B) with its global edits."""
        return self._edited(G, G.styles(ws_t), [s for s in _steps(steps) if not s.mask], clip, pinned, ws=ws_t)[0]

    # ------------------------------------------------------------------ entry point
    def render(self, model=None, device="cpu", seed=0, ws=None, truncation=1.0, noise_mode="const",
               edits=(), clip=None, masks=None, blend=None, morph=None, preview_size=None,
               heatmap=False, pinned=None, precision="auto") -> dict:
        """``pinned``: resolved edit shifts by ``EditStep.direction_key()`` (from a favorite or a
        document); ``metadata["shifts"]`` returns the shifts this render used, in that form.
        ``morph`` = {ws_b, edits_b, masks_b, pinned_b, t, space}: at t = 1 the render *is* face B's
        picture, at t = 0 the current one, in either space. ``blend`` = {ws_b, edits_b, pinned_b,
        mask, from_layer}. ``precision``: "auto" renders previews in bfloat16 where the CPU runs it
        natively (full-size pictures are always float32), "fp32" never does."""
        t0 = time.perf_counter()
        timings, metadata = {}, {}
        result = {"image": None, "error": None, "timings": timings, "metadata": metadata}
        try:
            # loaded outside inference mode: the cached generator is shared with autograd jobs
            # (photo inversion), and weights made under inference mode cannot be saved for backward
            G = self.generator(model, device)
            timings["load_ms"] = (time.perf_counter() - t0) * 1e3
            with torch.inference_mode():
                metadata.update(model=G.source_path, model_id=G.model_id, device=str(G.device),
                                resolution=G.img_resolution, num_ws=G.num_ws, format=G.source_format,
                                layers=[l.name for l in G.style_layers], seed=seed, truncation=truncation)
                t = float(morph["t"]) if morph else 0.0
                if morph and t >= 1.0:       # the target exactly as saved
                    seed, ws, truncation = 0, morph["ws_b"], 1.0
                    edits, masks, pinned = morph.get("edits_b") or (), morph.get("masks_b"), morph.get("pinned_b")
                if morph and (t <= 0.0 or t >= 1.0):
                    morph = None
                image, extra = self._render(G, seed, ws, truncation, noise_mode, edits, clip, masks or {},
                                            blend, morph, preview_size, heatmap, timings, pinned or {}, precision)
                metadata.update(extra)
                result["image"] = to_uint8(image)
        except StylepaintError as exc:
            result["error"] = str(exc)
        except Exception as exc:  # a bug: report it as a value, keep the thread alive
            result["error"] = f"internal error: {type(exc).__name__}: {exc}"
            metadata["traceback"] = traceback.format_exc()
        timings["total_ms"] = (time.perf_counter() - t0) * 1e3
        return result

    def _render(self, G, seed, ws, truncation, noise_mode, edits, clip, masks, blend, morph,
                preview_size, want_heatmap, timings, pinned, precision="auto"):
        t = time.perf_counter()
        ws_t = self.face_ws(G, seed, ws, truncation)
        steps = [s for s in _steps(edits) if s.enabled]
        global_steps = [s for s in steps if not s.mask]
        region_steps = [s for s in steps if s.mask]
        shifts, checks = {}, {}
        base = G.styles(ws_t)
        styles, moved = self._edited(G, base, global_steps, clip, pinned, shifts, ws=ws_t, checks=checks)
        if morph:
            k = float(morph["t"])
            ws_b = self.face_ws(G, 0, morph["ws_b"], 1.0)
            styles_b = self._picture_styles(G, ws_b, morph.get("edits_b") or (), clip, morph.get("pinned_b"))
            if morph.get("space", "w+") == "w+":        # latents interpolated; each face's edit offsets too
                base_a, base_b = base, G.styles(ws_b)
                ws_t = ws_t.lerp(ws_b, k)
                base = G.styles(ws_t)
                styles = OrderedDict((n, base[n] + torch.lerp(styles[n] - base_a[n], styles_b[n] - base_b[n], k))
                                     for n in base)
            else:
                styles = _lerp_styles(styles, styles_b, k)
        layers = []
        for step in region_steps:
            if step.mask not in masks:
                raise InputError(f"the edit '{step.label}' refers to a region mask '{step.mask}' that was not given")
            edited, n = self._edited(G, styles, [step.with_(mask=None)], clip, pinned, shifts, ws=ws_t, checks=checks)
            moved += n
            layers.append((edited, _mask_tensor(masks[step.mask], G, f"region mask '{step.mask}'")))
        from_layer = default_from_layer(G)
        if blend:
            ws_b = self.face_ws(G, blend.get("seed_b", 0), blend.get("ws_b"), truncation)
            styles_b = self._picture_styles(G, ws_b, blend.get("edits_b") or (), clip, blend.get("pinned_b"))
            layers.append((styles_b, _mask_tensor(blend["mask"], G, "blend mask")))
            from_layer = blend.get("from_layer") or from_layer
        timings["edit_ms"] = (time.perf_counter() - t) * 1e3
        t = time.perf_counter()
        reused, used = 0, "fp32"
        if layers:
            image = blend_streams(G, styles, layers, from_layer, noise_mode)
            region_masks = [m for st, m in layers[:len(region_steps)]]
            if region_masks and not blend:
                image = composite_regions(G.synthesis_from_styles(styles, noise_mode), image, region_masks)
        else:   # a preview is the skip image of the first block that reaches preview_size
            max_res = preview_size if preview_size and preview_size < G.img_resolution else None
            used = fast_precision(G.device) if max_res and precision == "auto" else "fp32"
            image, reused = self._prefix.synthesize(G, styles, noise_mode, max_resolution=max_res, precision=used)
        timings["synthesis_ms"] = (time.perf_counter() - t) * 1e3
        extra = {"channels_moved": moved, "ws": ws_t[0].cpu().numpy(), "heatmap": None, "shifts": shifts,
                 "reused_blocks": reused, "precision": used,
                 "preview": image.shape[-1] < G.img_resolution, "prompt_checks": list(checks.values())}
        if want_heatmap:
            plain = G.synthesis_from_styles(base, noise_mode, max_resolution=image.shape[-1])
            extra["heatmap"] = (image - plain).abs().mean(dim=1)[0].cpu().numpy()
        return image, extra
