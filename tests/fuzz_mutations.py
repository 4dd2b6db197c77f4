"""Seeded mutations of a file's bytes for the loader fuzz test (`test_fuzz_loaders.py`).

``mutate(source, seed, op, other=None)`` returns the mutated bytes; the same arguments give
the same bytes on every machine. Operations:

* ``flip``: flip 1 to 16 random bits;
* ``truncate``: keep a random prefix;
* ``splice``: replace a random slice with a random slice of ``other`` (another input);
* ``insert``: insert a pickle opcode with random operand bytes (in a zip or JSON file this is
  just foreign bytes) at a random place;
* ``duplicate``: copy a random slice to another random place;
* ``inner``: in a zip (``.npz``, ``.pt``, a bundle), apply one of the above to one member and
  zip it again with valid checksums, so the mutant gets past the zip layer to the parsers
  (``.npy`` headers, JSON, torch's pickle); elsewhere the same as ``flip``.
"""

from __future__ import annotations

import functools
import io
import pickle
import random
import zipfile

OPS = ("flip", "truncate", "splice", "insert", "duplicate", "inner")
#: Opcodes worth inserting: the ones that allocate, call, build, frame or refer to the memo.
_OPCODES = [pickle.BINBYTES8, pickle.BINUNICODE8, pickle.FRAME, pickle.BUILD, pickle.REDUCE, pickle.NEWOBJ,
            pickle.GLOBAL, pickle.STACK_GLOBAL, pickle.LONG4, pickle.BINBYTES, pickle.LONG_BINGET, pickle.BINPUT,
            pickle.MARK, pickle.TUPLE, pickle.SETITEMS, pickle.APPENDS, pickle.DUP, pickle.POP_MARK, pickle.STOP,
            pickle.BINPERSID, pickle.EMPTY_DICT, pickle.BYTEARRAY8, pickle.MEMOIZE, pickle.EXT4]


@functools.lru_cache(maxsize=16)
def _read(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def mutate(source: str, seed: int, op: str, other: str | None = None) -> bytes:
    return _mutate(_read(source), random.Random(f"{source}|{seed}|{op}"), op, _read(other or source))


def _mutate(original: bytes, rng: random.Random, op: str, donor: bytes) -> bytes:
    data = bytearray(original)
    n = len(data)
    if op == "inner":
        if not zipfile.is_zipfile(io.BytesIO(original)):
            return _mutate(original, rng, "flip", donor)
        return _mutate_member(original, rng, donor)
    if op == "flip":
        for _ in range(rng.randint(1, 16)):
            i = rng.randrange(n)
            data[i] ^= 1 << rng.randrange(8)
    elif op == "truncate":
        del data[rng.randrange(n):]
    elif op == "splice":
        a = rng.randrange(n)
        b = min(n, a + rng.randint(1, 4096))
        c = rng.randrange(len(donor))
        data[a:b] = donor[c:c + rng.randint(1, 4096)]
    elif op == "insert":
        i = rng.randrange(n + 1)
        operand = bytes(rng.choice([0, 0xFF, 0x7F, rng.randrange(256)]) for _ in range(rng.randint(0, 9)))
        data[i:i] = rng.choice(_OPCODES) + operand
    elif op == "duplicate":
        a = rng.randrange(n)
        piece = data[a:a + rng.randint(1, 65536)]
        i = rng.randrange(n + 1)
        data[i:i] = piece
    else:
        raise ValueError(f"unknown mutation {op!r}")
    return bytes(data)


def _mutate_member(original: bytes, rng: random.Random, donor: bytes) -> bytes:
    src = zipfile.ZipFile(io.BytesIO(original))
    infos = src.infolist()
    target = rng.choice([i for i in infos if i.file_size] or infos)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as dst:
        for info in infos:
            data = src.read(info)
            if info is target and data:
                data = _mutate(data, rng, rng.choice(OPS[:-1]), donor)
            dst.writestr(info, data)
    return out.getvalue()
