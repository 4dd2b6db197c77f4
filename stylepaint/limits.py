"""How big a file of each kind may be before stylepaint refuses to read it.

One table, read by `safe_read` (files), `engine.checkpoints` (architectures) and the
downloader. Each limit sits well above anything stylepaint or the published models write,
and well below what would exhaust a laptop: every loader's memory is then bounded by the
file's own size (times a small factor) and by these numbers. `tests/test_hostile_inputs.py`
documents why each value was chosen.
"""

from __future__ import annotations

KiB, MiB, GiB = 1 << 10, 1 << 20, 1 << 30

#: Largest file read, per kind (bytes on disk).
FILE_BYTES = {
    "checkpoint": 4 * GiB,         # ffhq-1024 pickle 364 MB; rosinality with optimisers ~1.3 GB
    "photo": 1 * GiB,              # a 200 MP PNG/TIFF; the pixel limit below applies as well
    "latent": 64 * MiB,            # ws [18, 512] is 36 KB; an inversion file with crops ~10 MB
    "recipe": 1 * MiB,             # a few hundred bytes per edit
    "settings": 1 * MiB,           # editor.json is a few KB
    "favorite-state": 4 * MiB,     # state.json of one favorite
    "favorite-arrays": 256 * MiB,  # latent + painted masks (1024x1024 float32 = 4 MB each)
    "favorite-thumb": 4 * MiB,     # a 128x128 PNG
    "favorite-bundle": 256 * MiB,  # the three files above, zipped
    "document": 256 * MiB,         # a .stylepaint file: a favorite's state, arrays and a preview, zipped
    "directions": 512 * MiB,       # relevance [~6k channels x 512] float32 = 12 MB
    "json": 16 * MiB,              # any other JSON (catalogue, manifest, records)
}

#: Largest total uncompressed size of a zip (.npz, favorite bundle), per kind.
UNZIPPED_BYTES = {
    "latent": 64 * MiB,
    "favorite-arrays": 256 * MiB,
    "favorite-bundle": 320 * MiB,
    "document": 320 * MiB,
}

#: Most members in a zip (.npz, bundle): stylepaint writes at most a few dozen.
ZIP_MEMBERS = 256

#: Deepest nesting of JSON lists/objects (stylepaint writes at most 4 levels).
JSON_DEPTH = 32

#: Generator architectures: published StyleGAN2 models use 512, 8, 1024 and 512 here.
ARCH = {
    "z_dim": 4096,
    "w_dim": 4096,
    "img_resolution": 4096,
    "mapping_layers": 32,
    "channels": 4096,
    "img_channels": 4,
}

#: Largest photo, in pixels (a 40 MP photo is fine; 200 MP is 600 MB as RGB).
PHOTO_PIXELS = 200_000_000

#: Downloads without a published size: refuse a body larger than this factor times the
#: catalogue's approximate size (the estimate is within 2 % for every shipped entry).
DOWNLOAD_SIZE_FACTOR = 1.5
#: Downloads: after GRACE seconds, the average rate must stay above MIN_RATE bytes/s.
DOWNLOAD_MIN_RATE = 20 * KiB
DOWNLOAD_GRACE_S = 60.0
