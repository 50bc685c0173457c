"""Saving and loading fitted fields: one self-describing file, no pickle, one digest over all of it.

File layout, format 2 (all integers little-endian)::

    offset    size  content
    0         8     magic  b"INSPFLD\\n"
    8         4     format version (uint32), currently 2
    12        8     header length H in bytes (uint64)
    20        H     header: UTF-8 JSON (below)
    20+H      P     payload: the raw bytes of every tensor, back to back,
                    at the offsets the header lists
    20+H+P    32    SHA-256 of every byte before it (prefix, header and payload)

The header records everything needed to rebuild the field without running
any code from the file: ``architecture`` and ``config`` (the keyword
arguments of the class, incl. every ``omega_0``), ``init_variant``,
``domain``, ``in_features``/``out_features``, the value normalisation
(``ValueAffine`` scale and shift), ``dtype``, the library and torch versions,
the field's ``provenance`` and optional user ``metadata``, and for each
tensor its name, dtype, shape, offset and byte length.  Tensors are stored as
their exact bytes, so a round trip is bit-exact.  Because the digest covers
the header too, an edited omega, domain, dtype or normalisation is refused
like an edited weight.

Reading checks, in this order and before allocating anything the header
describes: the magic, the version (a newer format raises and says so; an
implausible one is corruption), the header's JSON and its required keys, the
architecture (built on PyTorch's ``meta`` device, which allocates nothing, and
compared with the tensor table, so a header that asks for a 40 GB network is
refused at once), the file's length, the digest; only then are the weights
read.  Any mismatch raises :class:`FileFormatError`.  Files of format 1
(digest over the payload only) are still read.

Writing (:func:`write_container`) behaves like a careful plain write: the
bytes go to a temporary file in the target's directory, which is flushed,
synced and renamed over the target (``os.replace``), then the directory is
synced, so a failed save leaves no partial file and does not touch an
existing one.  A symbolic link is followed (its target is replaced, the link
kept); a read-only target is refused; a new file gets the mode the umask
allows, an existing one keeps its mode; errors name the target, never the
temporary file.

The same container holds learned operators
(:func:`insp.learned.save_operator`): the header's ``format``
(``"insp-field"`` or ``"insp-operator"``) says which, and each reader
refuses the other kind with a :class:`FileFormatError` that names it.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import struct
from pathlib import Path

import torch

from .._files import atomic_write
from .base import Field
from .domain import Domain
from .inr import ARCHITECTURES, NeuralField, build_field
from .provenance import Provenance
from .windowed import WindowedField

__all__ = ["save", "load", "read_header", "verify", "FileFormatError", "MAGIC", "FORMAT_VERSION", "SUFFIX",
           "write_container", "read_container"]

MAGIC = b"INSPFLD\n"
FORMAT_VERSION = 2
#: Conventional file suffix (not required).
SUFFIX = ".inspf"
_PREFIX = struct.Struct("<8sIQ")  # magic, version, header length
_DIGEST = 32  # bytes of the SHA-256 trailer (format 2)
_MAX_HEADER = 64 * 1024 * 1024
#: versions above this are not a newer insp's files but corrupt bytes
_MAX_PLAUSIBLE_VERSION = 100
#: the ``architecture`` of a file holding a :class:`~insp.fields.windowed.WindowedField` (an audio clip): its
#: ``config`` is the windowing, ``member`` the one architecture of every window's network
WINDOWED = "windowed"

_DTYPES = {str(dt).removeprefix("torch."): dt for dt in (
    torch.float16, torch.bfloat16, torch.float32, torch.float64,
    torch.int8, torch.int16, torch.int32, torch.int64, torch.uint8, torch.bool,
)}


class FileFormatError(ValueError):
    """The file is not a readable insp file (foreign, truncated, corrupt or from a newer format)."""


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


# --------------------------------------------------------------------------- writing


def write_container(path, header: dict, state: dict) -> Path:
    """Write ``header`` (JSON) and the tensors of ``state`` to ``path`` atomically, with one digest over all.

    The container shared by every insp file (fields, learned operators,
    checkpoints): the layout of the module notes.  ``header`` must name its
    ``format`` (e.g. ``"insp-field"``); ``format_version``, the tensor table
    and ``payload_bytes`` are added here.  Read it back with
    :func:`read_container`.
    """
    if not isinstance(header, dict):
        raise TypeError(f"header must be a dict, got {type(header).__name__}")
    tensors, blobs, offset = [], [], 0
    for name, t in state.items():
        blob = _tensor_bytes(t)
        tensors.append(dict(name=name, dtype=_dtype_name(t.dtype), shape=list(t.shape), offset=offset,
                            nbytes=len(blob)))
        blobs.append(blob)
        offset += len(blob)
    header = dict(header, format_version=FORMAT_VERSION, tensors=tensors, payload_bytes=offset)
    try:
        header_bytes = json.dumps(header, allow_nan=False, sort_keys=True).encode("utf-8")
    except (TypeError, ValueError) as exc:
        raise TypeError(f"metadata must be JSON-serialisable (finite numbers, str, list, dict): {exc}") from None
    prefix = _PREFIX.pack(MAGIC, FORMAT_VERSION, len(header_bytes))
    digest = hashlib.sha256(prefix)
    digest.update(header_bytes)
    for blob in blobs:
        digest.update(blob)

    def chunks():
        yield prefix
        yield header_bytes
        for blob in blobs:  # through the module's name: tests fail a write half-way here
            yield blob
        yield digest.digest()

    return atomic_write(path, chunks())


def _provenance_json(field) -> dict:
    return field.provenance.to_json()


def save(field: NeuralField | WindowedField, path, *, metadata: dict | None = None) -> Path:
    """Write ``field`` (a :class:`~insp.fields.inr.NeuralField`) to ``path``, atomically.

    Parameters
    ----------
    field : NeuralField or WindowedField
        A Siren, FourierFeatureMLP, ReluMLP or other registered architecture,
        or a :class:`~insp.fields.windowed.WindowedField` (what
        :func:`insp.fit_audio` returns) whose windows all hold networks of one
        registered architecture and config.
    path : str or PathLike
        Target file (``.inspf`` by convention); its directory must exist.  A
        symbolic link is followed; a read-only file is refused.
    metadata : dict, optional
        JSON-serialisable information stored in the header (e.g. the source
        signal's shape), returned by :func:`read_header`.

    Returns
    -------
    Path of the written file.
    """
    if metadata is not None and not isinstance(metadata, dict):
        raise TypeError(f"metadata must be a dict or None, got {type(metadata).__name__}")
    if isinstance(field, WindowedField):
        return write_container(path, _windowed_header(field, metadata), field.state_dict())
    if not isinstance(field, NeuralField) or ARCHITECTURES.get(field.architecture) is not type(field):
        hint = ("; an operator result or other composite field is kept by distilling it into a SIREN first: "
                "copy, report = insp.distill(field); insp.save(copy, path)") if isinstance(field, Field) else ""
        raise TypeError(f"field must be a registered NeuralField ({', '.join(sorted(ARCHITECTURES))}), "
                        f"got {type(field).__name__}{hint}")
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
        provenance=_provenance_json(field),
        metadata=metadata if metadata is not None else {},
    )
    return write_container(path, header, field.state_dict())


def _member_header(member) -> dict:
    if not isinstance(member, NeuralField) or ARCHITECTURES.get(member.architecture) is not type(member):
        raise TypeError(f"field.members must be registered NeuralFields ({', '.join(sorted(ARCHITECTURES))}) to be "
                        f"saved, got {type(member).__name__}")
    params = list(member.parameters())
    return dict(architecture=member.architecture, config=member.config(), domain=member.domain.to_json(),
                init_variant=getattr(member, "init_variant", "torch_default"),
                dtype=_dtype_name(params[0].dtype if params else torch.get_default_dtype()))


def _windowed_header(field: WindowedField, metadata) -> dict:
    members = [_member_header(m) for m in field.members]
    if any(m != members[0] for m in members[1:]):
        k = next(i for i, m in enumerate(members) if m != members[0])
        raise TypeError(f"field.members must share one architecture, config and dtype to be saved; member {k} "
                        f"differs from member 0 ({members[k]} vs {members[0]})")
    return dict(format="insp-field", insp_version=_version(), torch_version=torch.__version__, architecture=WINDOWED,
                config=field.config(), member=members[0], domain=field.domain.to_json(),
                in_features=field.in_features, out_features=field.out_features, dtype=members[0]["dtype"],
                parameters=int(sum(p.numel() for p in field.parameters())), provenance=_provenance_json(field),
                metadata=metadata if metadata is not None else {})


# --------------------------------------------------------------------------- reading


def _noun(kind: str) -> str:
    return "insp " + kind.removeprefix("insp-")  # "insp-field" -> "insp field"


def _read_prefix_and_header(fh, name: str, kind: str = "insp-field") -> tuple[dict, int, int]:
    """``(header, version, offset of the payload)``: magic, version and header checked."""
    prefix = fh.read(_PREFIX.size)
    if len(prefix) < 8 or prefix[:8] != MAGIC:
        raise FileFormatError(f"{name} is not an {_noun(kind)} file (bad magic bytes)")
    if len(prefix) < _PREFIX.size:
        raise FileFormatError(f"{name} is truncated (incomplete file prefix)")
    _, version, hlen = _PREFIX.unpack(prefix)
    if _MAX_PLAUSIBLE_VERSION < version or version < 1:
        raise FileFormatError(f"{name} is corrupt: its format version field holds {version}, which no insp wrote")
    if version > FORMAT_VERSION:
        raise FileFormatError(f"{name} uses insp file format version {version}, newer than this insp reads "
                              f"(up to {FORMAT_VERSION}); upgrade insp")
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
    return header, version, _PREFIX.size + hlen


def read_header(path, *, kind: str = "insp-field") -> dict:
    """The JSON header of an insp file (architecture, config, domain, metadata, ...), without the weights.

    Only the header's structure is checked here (fast, whatever the file's
    size); :func:`verify` checks the digest too.  ``kind`` is the header's
    ``format`` expected (``"insp-operator"`` for a learned operator).
    """
    path = Path(os.fspath(path))
    with open(path, "rb") as fh:
        header, _, _ = _read_prefix_and_header(fh, repr(str(path)), kind)
    return header


def _table(header: dict, name: str) -> tuple[int, list[tuple[str, torch.dtype, tuple[int, ...], int, int]]]:
    """``(payload_bytes, [(name, dtype, shape, offset, nbytes)])`` with every entry checked."""
    try:
        size = header["payload_bytes"]
        entries = header["tensors"]
    except (KeyError, TypeError) as exc:
        raise FileFormatError(f"{name} has an incomplete header: {exc!r}") from None
    if not isinstance(size, int) or isinstance(size, bool) or size < 0 or not isinstance(entries, list):
        raise FileFormatError(f"{name} has an inconsistent tensor table (payload_bytes {size!r})")
    out, end = [], 0
    try:
        for e in entries:
            tname, dtype = str(e["name"]), _DTYPES[e["dtype"]]
            shape = tuple(int(s) for s in e["shape"])
            off, nbytes = int(e["offset"]), int(e["nbytes"])
            if any(s < 0 for s in shape) or math.prod(shape) * dtype.itemsize != nbytes:
                raise ValueError(f"tensor {tname!r}: shape {list(shape)} of {e['dtype']} is not {nbytes} bytes")
            if off != end or off + nbytes > size:
                raise ValueError(f"tensor {tname!r} lies outside the payload")
            end = off + nbytes
            out.append((tname, dtype, shape, off, nbytes))
    except (KeyError, TypeError, ValueError) as exc:
        raise FileFormatError(f"{name} has an inconsistent tensor table: {exc}") from None
    if end != size:
        raise FileFormatError(f"{name} has an inconsistent tensor table: tensors cover {end} of {size} payload bytes")
    return size, out


def _read_checked(path, kind: str, check_header=None) -> tuple[dict, dict[str, torch.Tensor], int]:
    """Header, tensors and format version of an intact file; ``check_header(header, table, name)`` runs before
    the payload is read (it must not allocate what the header describes)."""
    path = Path(os.fspath(path))
    name = repr(str(path))
    with open(path, "rb") as fh:
        header, version, start = _read_prefix_and_header(fh, name, kind)
        size, table = _table(header, name)
        if check_header is not None:
            check_header(header, table, name)
        file_size = os.fstat(fh.fileno()).st_size
        need = start + size + (_DIGEST if version >= 2 else 0)
        if file_size < need:
            raise FileFormatError(f"{name} is truncated (payload and checksum: {file_size - start} of "
                                  f"{need - start} bytes)")
        if file_size > need:
            raise FileFormatError(f"{name} has {file_size - need} unexpected bytes after the payload")
        fh.seek(0)
        head = fh.read(start)
        payload = fh.read(size)
        trailer = fh.read()
    if version >= 2:
        digest = hashlib.sha256(head)
        digest.update(payload)
        if digest.digest() != trailer:
            raise FileFormatError(f"{name} is corrupt (checksum mismatch over header and payload)")
    elif hashlib.sha256(payload).hexdigest() != header.get("payload_sha256"):
        raise FileFormatError(f"{name} is corrupt (payload checksum mismatch)")
    state = {}
    for tname, dtype, shape, off, nbytes in table:
        buf = bytearray(payload[off:off + nbytes])
        t = torch.frombuffer(buf, dtype=torch.uint8) if nbytes else torch.empty(0, dtype=torch.uint8)
        state[tname] = t.view(dtype).reshape(shape)
    return header, state, version


def read_container(path, *, kind: str) -> tuple[dict, dict[str, torch.Tensor]]:
    """Header and tensors of a file written by :func:`write_container`, all checks done.

    Raises :class:`FileFormatError` unless the file is intact and its header's
    ``format`` is ``kind``; the tensors are exact copies of those written.
    """
    header, state, _ = _read_checked(path, kind)
    return header, state


def _build_windowed(header: dict, name: str, *, meta: bool) -> WindowedField:
    """The :class:`WindowedField` a header describes (on the ``meta`` device with ``meta``: no memory)."""
    config, member = header.get("config"), header.get("member")
    if not isinstance(config, dict) or not isinstance(member, dict):
        raise FileFormatError(f"{name} has an incomplete windowed header (config {config!r}, member {member!r})")
    K = config.get("members")
    if not isinstance(K, int) or isinstance(K, bool) or not 1 <= K <= max(len(header.get("tensors") or ()), 1):
        raise FileFormatError(f"{name} has an implausible windowed config: members={K!r}")
    sub = dict(member, tensors=header.get("tensors"))
    members = []
    for _ in range(K):
        if meta:
            members.append(_meta_field(sub, name)[0])
        else:
            members.append(_fresh(member["architecture"], member["config"], Domain.from_json(member["domain"]),
                                  member["dtype"]))
    try:
        field = WindowedField(members, **{k: config[k] for k in ("num_samples", "window", "hop", "sample_rate")})
        domain = Domain.from_json(header["domain"])
    except (KeyError, TypeError, ValueError) as exc:
        raise FileFormatError(f"{name} does not describe a valid windowed field: {exc}") from None
    if field.domain != domain:
        raise FileFormatError(f"{name} is inconsistent: its domain differs from the windowing it records")
    return field


def _meta_field(header: dict, name: str) -> tuple[NeuralField, Domain]:
    """The field the header describes, built on the ``meta`` device (no memory), and its domain."""
    if header.get("architecture") == WINDOWED:
        member = header.get("member")
        _check_config_sizes(member.get("config") if isinstance(member, dict) else None, header.get("tensors") or [],
                            name)
        field = _build_windowed(header, name, meta=True)
        return field, field.domain
    try:
        arch = header["architecture"]
        config = header["config"]
        domain = Domain.from_json(header["domain"])
    except (KeyError, TypeError, ValueError) as exc:
        raise FileFormatError(f"{name} has an incomplete header: {exc!r}") from None
    if not isinstance(arch, str) or arch not in ARCHITECTURES:
        raise FileFormatError(f"{name} holds an unknown architecture {arch!r}; this insp knows "
                              f"{sorted(ARCHITECTURES)}")
    if not isinstance(config, dict):
        raise FileFormatError(f"{name} has a config that is not a mapping: {config!r}")
    dtype = _DTYPES.get(header.get("dtype")) if isinstance(header.get("dtype"), str) else None
    if dtype is None or not dtype.is_floating_point:
        raise FileFormatError(f"{name} has an invalid dtype {header.get('dtype')!r}")
    try:
        with torch.device("meta"):
            field = build_field(arch, config, domain=domain, dtype=dtype)
    except (TypeError, ValueError, RuntimeError, KeyError) as exc:
        raise FileFormatError(f"{name} does not describe a valid {arch!r}: {exc}") from None
    return field, domain


#: no size in a config beyond this (a network that large is not an INR; it is a corrupt header)
_MAX_CONFIG_INT = 2**24


def _check_config_sizes(config, table, name: str) -> None:
    """Sizes a header can ask for before anything is built: every layer has a tensor in the table."""
    for key, value in (config.items() if isinstance(config, dict) else ()):
        if isinstance(value, int) and not isinstance(value, bool):
            if value > _MAX_CONFIG_INT or value < 0 or (key.endswith("layers") and value > len(table)):
                raise FileFormatError(f"{name} has an implausible config: {key}={value} for a file of "
                                      f"{len(table)} tensors")


def _check_field_header(header: dict, table, name: str) -> None:
    """The header's architecture against its tensor table, without allocating the network."""
    _check_config_sizes(header.get("config"), table, name)
    if not isinstance(header.get("metadata") or {}, dict):
        raise FileFormatError(f"{name} has metadata that is not a mapping: {header.get('metadata')!r}")
    field, _ = _meta_field(header, name)
    expected = {k: (v.dtype, tuple(v.shape)) for k, v in field.state_dict().items()}
    found = {tname: (dtype, shape) for tname, dtype, shape, _, _ in table}
    if expected != found:
        diff = sorted(map(str, set(expected.items()) ^ set(found.items())))[:4]
        raise FileFormatError(f"{name} does not match its architecture {header.get('architecture')!r}: the header's "
                              f"config and dtype call for other tensors than the file holds ({diff})")
    io_ok = header.get("in_features") == field.in_features and header.get("out_features") == field.out_features
    if not io_ok:
        raise FileFormatError(f"{name} is inconsistent: in/out_features {header.get('in_features')!r}/"
                              f"{header.get('out_features')!r} differ from its config")


def load(path, *, device=None) -> NeuralField | WindowedField:
    """Read a field written by :func:`save`; bit-exact weights, in eval mode.

    Raises
    ------
    FileFormatError
        Not an insp file, truncated, corrupt (digest, inconsistent header),
        written by a newer file format, or of an unknown architecture.
    FileNotFoundError
        No such file.
    """
    name = repr(str(Path(os.fspath(path))))
    header, state, _ = _read_checked(path, "insp-field", _check_field_header)
    if header["architecture"] == WINDOWED:
        return _load_windowed(header, state, name, device)
    arch, config = header["architecture"], header["config"]
    domain = Domain.from_json(header["domain"])
    try:
        field = _fresh(arch, config, domain, header["dtype"])
        field.load_state_dict(state, strict=True)
    except (TypeError, ValueError, RuntimeError) as exc:
        raise FileFormatError(f"{name} does not match its architecture {arch!r}: {exc}") from None
    vn = header.get("value_normalisation")
    stored = dict(scale=field.value_affine.scale.tolist(), shift=field.value_affine.shift.tolist())
    if not isinstance(vn, dict) or {k: vn.get(k) for k in stored} != stored:
        raise FileFormatError(f"{name} is inconsistent: its header's value_normalisation {vn!r} differs from the "
                              f"stored ValueAffine {stored}")
    return _finish(field, header, device)


def _load_windowed(header: dict, state: dict, name: str, device) -> WindowedField:
    field = _build_windowed(header, name, meta=False)
    try:
        field.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise FileFormatError(f"{name} does not match its windowed architecture: {exc}") from None
    return _finish(field, header, device)


def _fresh(arch: str, config: dict, domain: Domain, dtype: str) -> NeuralField:
    """A network of the header's architecture whose weights are about to be replaced by the file's."""
    with torch.random.fork_rng(devices=[]):  # the throw-away init must not consume the global RNG
        return build_field(arch, config, domain=domain, dtype=_DTYPES[dtype])


def _finish(field, header: dict, device):
    """A loaded field with its provenance, on ``device``, in eval mode."""
    _attach_provenance(field, header)
    if device is not None:
        field = field.to(device)
    return field.eval()


def _attach_provenance(field, header: dict) -> None:
    name = "the file"
    try:
        field.provenance = Provenance.from_json(header.get("provenance"))
    except (TypeError, ValueError, KeyError, IndexError) as exc:
        raise FileFormatError(f"{name} has a malformed provenance record: {exc}") from None


def verify(path, *, kind: str = "insp-field") -> dict:
    """Check an insp file completely (structure, architecture, length, digest); return its header.

    Returns the header with ``"verified"`` added: ``"header and payload"``
    for format 2 (one digest over both) or ``"payload only"`` for format 1.
    Raises :class:`FileFormatError` for any defect.
    """
    header, _, version = _read_checked(path, kind, _check_field_header if kind == "insp-field" else None)
    return dict(header, verified="header and payload" if version >= 2 else "payload only (format 1)")
