"""Shared helpers of the hostile-use tests (tests/test_hostile_*.py): a small saved field and byte surgery."""

from __future__ import annotations

import json
import struct

import numpy as np
import torch

from insp.fields import Siren

PREFIX = struct.Struct("<8sIQ")  # magic, version, header length: the documented layout of format 2


def small_field(seed: int = 0, dtype=torch.float32) -> Siren:
    """A small SIREN with arbitrary, non-initial weights (the tests need no fit)."""
    field = Siren(2, 1, hidden_features=8, hidden_layers=1, seed=seed, dtype=dtype)
    with torch.no_grad():
        g = torch.Generator().manual_seed(seed)
        for p in field.parameters():
            p.add_(1e-2 * torch.randn(p.shape, generator=g, dtype=p.dtype))
    return field.eval()


def split(data: bytes) -> tuple[bytes, dict, bytes]:
    """(prefix, header, rest) of a format-2 file."""
    _, _, hlen = PREFIX.unpack_from(data)
    start = PREFIX.size
    return data[:start], json.loads(data[start:start + hlen]), data[start + hlen:]


def with_header(data: bytes, edit) -> bytes:
    """The file with its header JSON edited by ``edit(header)`` (the digest is *not* recomputed)."""
    prefix, header, rest = split(data)
    edit(header)
    raw = json.dumps(header).encode()
    magic, version, _ = PREFIX.unpack_from(prefix)
    return PREFIX.pack(magic, version, len(raw)) + raw + rest


def with_header_and_digest(data: bytes, edit) -> bytes:
    """As :func:`with_header`, then the SHA-256 trailer recomputed: a forger's file, structurally valid."""
    import hashlib

    edited = with_header(data, edit)[:-32]
    return edited + hashlib.sha256(edited).digest()


def image_file(path, shape=(12, 12), seed=0):
    """A small gray PNG of random content."""
    from insp.imageio import write_image

    rng = np.random.default_rng(seed)
    write_image(path, (rng.random(shape) * 255).astype(np.uint8))
    return path
