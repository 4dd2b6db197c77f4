"""The size limits (`stylepaint/limits.py`), why each was chosen, and that each is enforced.

| what | limit | why |
|---|---|---|
| checkpoint file | 4 GiB | NVIDIA's ffhq-1024 pickle is 364 MB; a rosinality file with D and optimiser states ~1.3 GB |
| photo file | 1 GiB | a 200 MP PNG/TIFF; decoding is bounded by the pixel limit below as well |
| photo pixels | 200 MP | documented limit (600 MB as RGB); Pillow's own 89.5 MP cap is raised to match it |
| latent `.npz`/`.npy` | 64 MiB on disk and unpacked | ws [18, 512] is 36 KB; an inversion latent with crop and reconstruction ~10 MB |
| recipe, settings | 1 MiB | a few hundred bytes per edit; `editor.json` is a few KB |
| favorite `state.json` / thumbnail | 4 MiB each | plain JSON state; a 128 px PNG |
| favorite `arrays.npz` | 256 MiB unpacked | the latent plus painted masks (1024 px float32 = 4 MB each) |
| favorite bundle | 256 MiB on disk, 320 MiB unpacked | the three files above |
| directions cache | 512 MiB | relevance [~6k channels x 512] float32 is 12 MB |
| zip members | 256 | stylepaint writes a few dozen at most |
| JSON nesting | 32 levels | stylepaint writes at most 4; Python's parser would recurse ~1000 deep |
| architecture | z/w dim <= 4096, resolution <= 4096 (power of two), mapping layers <= 32, channels <= 4096, img channels <= 4 | published models: 512, 1024, 8, 512, 3 -- and the weights' shapes must match the file exactly |
| download body | published size, else 1.5 x the catalogue estimate, else 4 GiB | the estimates are within 2 % of the real files |
| download rate | >= 20 KiB/s on average after 60 s | a 385 MB model at that rate takes 5 h: slower is a stalled or hostile server |

Memory while loading is then bounded by the file itself: every array and tensor is built from
bytes present in the file, so a loader needs at most a small multiple of the file's size
(measured: the fuzz test's child peaks at ~820 MB, most of it torch itself).
"""

from __future__ import annotations


import pytest

from stylepaint import imagefiles, limits
from stylepaint.edits import Recipe
from stylepaint.engine.checkpoints import load_generator
from stylepaint.errors import CheckpointError, InputError
from stylepaint.gui.settings import Settings
from stylepaint.inversion.imageio import load_photo


def _sparse(path, size: int):
    """A file of ``size`` bytes that takes no disk space (a hole)."""
    with open(path, "wb") as f:
        f.truncate(size)
    return path


@pytest.mark.parametrize("kind,load,error", [
    ("checkpoint", load_generator, CheckpointError),
    ("photo", load_photo, InputError),
    ("latent", imagefiles.load_latent, InputError),
    ("recipe", Recipe.load, InputError),
])
def test_a_file_one_byte_over_its_kind_limit_is_refused_unread(tmp_path, kind, load, error):
    path = _sparse(tmp_path / f"big.{kind}", limits.FILE_BYTES[kind] + 1)
    with pytest.raises(error, match=f"more than the .* a {kind} file may be") as info:
        load(path)
    assert str(info.value).startswith(str(path))


def test_an_oversized_settings_file_starts_the_editor_with_defaults(tmp_path):
    path = _sparse(tmp_path / "editor.json", limits.FILE_BYTES["settings"] + 1)
    settings = Settings(path)
    assert settings["seed"] == 0 and "a settings file may be" in settings.problems[0]


def test_limits_sit_above_what_stylepaint_itself_writes():
    assert limits.ARCH["img_resolution"] >= 1024 and limits.ARCH["mapping_layers"] >= 8
    assert limits.PHOTO_PIXELS == 200_000_000
    assert limits.FILE_BYTES["checkpoint"] >= 2 * 1_300_000_000
    assert all(limits.UNZIPPED_BYTES[k] >= limits.FILE_BYTES[k] for k in ("latent", "favorite-arrays"))
