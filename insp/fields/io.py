"""Saving and loading fitted fields: one self-describing file, no pickle.

File layout (all integers little-endian)::

    offset  size  content
    0       8     magic  b"INSPFLD\\n"
    8       4     format version (uint32), currently 1
    12      8     header length H in bytes (uint64)
    20      H     header: UTF-8 JSON (below)
    20+H    ...   payload: the raw bytes of every tensor, back to back,
                  at the offsets the header lists

The header records everything needed to rebuild the field without running
any code from the file: ``architecture`` and ``config`` (the keyword
arguments of the class, incl. every ``omega_0``), ``init_variant``,
``domain``, ``in_features``/``out_features``, the value normalisation
(``ValueAffine`` scale and shift), ``dtype``, the library and torch versions,
optional user ``metadata``, and for each tensor its name, dtype, shape,
offset and byte length, with the SHA-256 of the payload.  Tensors are stored
as their exact bytes, so a round trip is bit-exact.

Reading checks the magic, the version (a file from a newer format raises),
the header, every tensor's extent and the checksum; any mismatch raises
:class:`FileFormatError`.  Writing goes to a temporary file in the target's
directory, which is flushed, synced and renamed over the target
(``os.replace``), so a failed save leaves no partial file and does not touch
an existing one.

The same container (:func:`write_container` / :func:`read_container`) holds
learned operators (:func:`insp.learned.save_operator`): the header's ``format``
(``"insp-field"`` or ``"insp-operator"``) says which, and each reader
refuses the other kind with a :class:`FileFormatError` that names it.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
import tempfile
from pathlib import Path

import torch

from .domain import Domain
from .inr import ARCHITECTURES, NeuralField, build_field

__all__ = ["save", "load", "read_header", "FileFormatError", "MAGIC", "FORMAT_VERSION", "SUFFIX", "write_container",
           "read_container"]

MAGIC = b"INSPFLD\n"
FORMAT_VERSION = 1
#: Conventional file suffix (not required).
SUFFIX = ".inspf"
_PREFIX = struct.Struct("<8sIQ")  # magic, version, header length
_MAX_HEADER = 64 * 1024 * 1024

_DTYPES = {str(dt).removeprefix("torch."): dt for dt in (
    torch.float16, torch.bfloat16, torch.float32, torch.float64,
    torch.int8, torch.int16, torch.int32, torch.int64, torch.uint8, torch.bool,
)}


class FileFormatError(ValueError):
    """The file is not a readable insp field file (foreign, truncated, corrupt or from a newer format)."""


def _dtype_name(dtype: torch.dtype) -> str:
    name = str(dtype).removeprefix("torch.")
    if name not in _DTYPES:
        raise TypeError(f"cannot store tensors of dtype {dtype}")
    return name


def _tensor_bytes(t: torch.Tensor) -> bytes:
    t = t.detach().to("cpu").contiguous()
    return t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b""


def _version() -> str:
    from .. import __version__

    return __version__


def _check_target(path) -> Path:
    path = Path(os.fspath(path))
    if path.is_dir():
        raise IsADirectoryError(f"path {str(path)!r} is a directory; give a file name")
    if not path.parent.is_dir():
        raise FileNotFoundError(f"the directory of path {str(path)!r} does not exist")
    return path


def write_container(path, header: dict, state: dict) -> Path:
    """Write ``header`` (JSON) and the tensors of ``state`` to ``path`` atomically.

    The container shared by every insp file (fields, learned operators): the
    prefix and layout of the module notes.  ``header`` must name its
    ``format`` (e.g. ``"insp-field"``); ``format_version``, the tensor table,
    ``payload_bytes`` and ``payload_sha256`` are added here.  Read it back
    with :func:`read_container`.
    """
    path = _check_target(path)
    tensors, blobs, offset = [], [], 0
    for name, t in state.items():
        blob = _tensor_bytes(t)
        tensors.append(dict(name=name, dtype=_dtype_name(t.dtype), shape=list(t.shape), offset=offset,
                            nbytes=len(blob)))
        blobs.append(blob)
        offset += len(blob)
    payload = b"".join(blobs)
    header = dict(header, format_version=FORMAT_VERSION, tensors=tensors, payload_bytes=len(payload),
                  payload_sha256=hashlib.sha256(payload).hexdigest())
    try:
        header_bytes = json.dumps(header, allow_nan=False, sort_keys=True).encode("utf-8")
    except (TypeError, ValueError) as exc:
        raise TypeError(f"metadata must be JSON-serialisable (finite numbers, str, list, dict): {exc}") from None

    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(_PREFIX.pack(MAGIC, FORMAT_VERSION, len(header_bytes)))
            fh.write(header_bytes)
            for blob in blobs:
                fh.write(blob)
            fh.flush()
            os.fsync(fh.fileno())
        # mkstemp creates 0600; give the file the target's mode (or an ordinary file's)
        os.chmod(tmp, path.stat().st_mode & 0o7777 if path.exists() else 0o644)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return path


def save(field: NeuralField, path, *, metadata: dict | None = None) -> Path:
    """Write ``field`` (a :class:`~insp.fields.inr.NeuralField`) to ``path``, atomically.

    Parameters
    ----------
    field : NeuralField
        A Siren, FourierFeatureMLP, ReluMLP or other registered architecture.
    path : str or PathLike
        Target file (``.inspf`` by convention); its directory must exist.
    metadata : dict, optional
        JSON-serialisable information stored in the header (e.g. the source
        signal's shape), returned by :func:`read_header`.

    Returns
    -------
    Path of the written file.
    """
    if not isinstance(field, NeuralField) or ARCHITECTURES.get(field.architecture) is not type(field):
        raise TypeError(f"field must be a registered NeuralField ({', '.join(sorted(ARCHITECTURES))}), "
                        f"got {type(field).__name__}")
    affine = field.value_affine
    params = [p for p in field.parameters()]
    header = dict(
        format="insp-field",
        insp_version=_version(),
        torch_version=torch.__version__,
        architecture=field.architecture,
        config=field.config(),
        init_variant=getattr(field, "init_variant", "torch_default"),
        domain=field.domain.to_json(),
        in_features=field.in_features,
        out_features=field.out_features,
        value_normalisation=dict(scale=affine.scale.tolist(), shift=affine.shift.tolist(),
                                 meaning="value = network_output * scale + shift"),
        dtype=_dtype_name(params[0].dtype if params else torch.get_default_dtype()),
        parameters=int(sum(p.numel() for p in params)),
        metadata=metadata if metadata is not None else {},
    )
    return write_container(path, header, field.state_dict())


def _noun(kind: str) -> str:
    return "insp " + kind.removeprefix("insp-")  # "insp-field" -> "insp field"


def _read_prefix_and_header(fh, name: str, kind: str = "insp-field") -> tuple[dict, int]:
    prefix = fh.read(_PREFIX.size)
    if len(prefix) < 8 or prefix[:8] != MAGIC:
        raise FileFormatError(f"{name} is not an {_noun(kind)} file (bad magic bytes)")
    if len(prefix) < _PREFIX.size:
        raise FileFormatError(f"{name} is truncated (incomplete file prefix)")
    _, version, hlen = _PREFIX.unpack(prefix)
    if version > FORMAT_VERSION:
        raise FileFormatError(f"{name} uses insp file format version {version}, newer than this insp reads "
                              f"(up to {FORMAT_VERSION}); upgrade insp")
    if version < 1:
        raise FileFormatError(f"{name} has an invalid format version {version}")
    if hlen > _MAX_HEADER:
        raise FileFormatError(f"{name} declares an implausible header length ({hlen} bytes)")
    raw = fh.read(hlen)
    if len(raw) < hlen:
        raise FileFormatError(f"{name} is truncated (header: {len(raw)} of {hlen} bytes)")
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FileFormatError(f"{name} has a corrupt header: {exc}") from None
    found = header.get("format") if isinstance(header, dict) else None
    if found != kind:
        if isinstance(found, str) and found.startswith("insp-"):
            raise FileFormatError(f"{name} is an {_noun(found)} file, not an {_noun(kind)} file")
        raise FileFormatError(f"{name} has a header that is not an {_noun(kind)} header")
    if header.get("format_version") != version:
        raise FileFormatError(f"{name} is corrupt: header format_version {header.get('format_version')!r} "
                              f"differs from the file prefix ({version})")
    return header, _PREFIX.size + hlen


def read_header(path, *, kind: str = "insp-field") -> dict:
    """The JSON header of an insp field file (architecture, config, domain, metadata, ...), without the weights.

    ``kind`` is the header's ``format`` expected (``"insp-operator"`` for a
    learned operator, see :mod:`insp.learned.inspnet`).
    """
    path = Path(os.fspath(path))
    with open(path, "rb") as fh:
        header, _ = _read_prefix_and_header(fh, repr(str(path)), kind)
    return header


def read_container(path, *, kind: str) -> tuple[dict, dict[str, torch.Tensor]]:
    """Header and tensors of a file written by :func:`write_container`, all checks done.

    Raises :class:`FileFormatError` unless the file is intact and its header's
    ``format`` is ``kind``; the tensors are exact copies of those written.
    """
    path = Path(os.fspath(path))
    name = repr(str(path))
    with open(path, "rb") as fh:
        header, _ = _read_prefix_and_header(fh, name, kind)
        payload = fh.read()
    try:
        size = int(header["payload_bytes"])
        entries = header["tensors"]
        checksum = header["payload_sha256"]
    except (KeyError, TypeError, ValueError) as exc:
        raise FileFormatError(f"{name} has an incomplete header: {exc!r}") from None
    if len(payload) < size:
        raise FileFormatError(f"{name} is truncated (payload: {len(payload)} of {size} bytes)")
    if len(payload) > size:
        raise FileFormatError(f"{name} has {len(payload) - size} unexpected bytes after the payload")
    if hashlib.sha256(payload).hexdigest() != checksum:
        raise FileFormatError(f"{name} is corrupt (payload checksum mismatch)")
    state = {}
    try:
        for e in entries:
            dtype = _DTYPES[e["dtype"]]
            off, nbytes, shape = int(e["offset"]), int(e["nbytes"]), [int(s) for s in e["shape"]]
            if off < 0 or off + nbytes > size:
                raise ValueError(f"tensor {e['name']!r} lies outside the payload")
            buf = bytearray(payload[off:off + nbytes])
            t = torch.frombuffer(buf, dtype=torch.uint8) if nbytes else torch.empty(0, dtype=torch.uint8)
            t = t.view(dtype).reshape(shape)
            state[e["name"]] = t
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise FileFormatError(f"{name} has an inconsistent tensor table: {exc}") from None
    return header, state


def load(path, *, device=None) -> NeuralField:
    """Read a field written by :func:`save`; bit-exact weights, in eval mode.

    Raises
    ------
    FileFormatError
        Not an insp file, truncated, corrupt (checksum, inconsistent header),
        written by a newer file format, or of an unknown architecture.
    FileNotFoundError
        No such file.
    """
    name = repr(str(Path(os.fspath(path))))
    header, state = read_container(path, kind="insp-field")
    try:
        arch = header["architecture"]
        config = header["config"]
        domain = Domain.from_json(header["domain"])
    except (KeyError, TypeError, ValueError) as exc:
        raise FileFormatError(f"{name} has an incomplete header: {exc!r}") from None
    if arch not in ARCHITECTURES:
        raise FileFormatError(f"{name} holds an unknown architecture {arch!r}; this insp knows "
                              f"{sorted(ARCHITECTURES)}")
    dtype = _DTYPES.get(header.get("dtype"), torch.get_default_dtype())
    try:
        with torch.random.fork_rng(devices=[]):  # the throw-away init must not consume the global RNG
            field = build_field(arch, config, domain=domain, dtype=dtype)
        field.load_state_dict(state, strict=True)
    except (TypeError, ValueError, RuntimeError) as exc:
        raise FileFormatError(f"{name} does not match its architecture {arch!r}: {exc}") from None
    if device is not None:
        field = field.to(device)
    return field.eval()
