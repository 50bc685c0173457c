"""The Field protocol and grid sampling.

A :class:`Field` maps coordinates ``x`` of shape ``(..., d)`` in its
:class:`~insp.fields.domain.Domain` to values of shape ``(..., c)``.  It is an
``nn.Module`` and a plain differentiable callable, so it composes with
``torch.func`` and with every operator of :mod:`insp.ops`.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import nn

from .._checks import check_int, check_shape
from .domain import Domain
from .provenance import Provenance

__all__ = ["Field", "sample", "sample_blocks", "DEFAULT_CHUNK_SIZE", "check_chunk_size", "check_field", "field_dtype_device"]

#: Points evaluated at once by :func:`sample` (65,536 = one 256x256 image).
DEFAULT_CHUNK_SIZE = 65536

# BLAS kernels for matrices of very few rows (M < 8 with MKL on 2 threads)
# accumulate in another order than the general kernel, so a point's value
# would depend on how many points share its chunk.  Chunks smaller than this
# are padded (with copies of their last point) so that every chunk takes the
# general path and sampling is bit-identical whatever ``chunk_size``.
_MIN_ROWS = 64


def check_chunk_size(chunk_size) -> int:
    return check_int(chunk_size, "chunk_size")


def check_field(field, *, name: str = "field", dim: int | None = None) -> "Field":
    """``field`` if it is an insp :class:`Field` (of dimension ``dim``, when given), else a clear error."""
    if not isinstance(field, Field):
        raise TypeError(f"{name} must be an insp.Field, got {type(field).__name__}")
    if dim is not None and field.in_features != dim:
        raise ValueError(f"{name} must be a {dim}-D field, got a {field.in_features}-D one")
    return field


def field_dtype_device(field: nn.Module, default_dtype=None):
    """The dtype and device of a module's first floating tensor (parameters, then buffers).

    A field computed from another (``.inner``: operators, transforms) computes
    in its input's dtype and device, whatever its own weights are (a float32
    operator network on a float64 field samples float64).
    """
    inner = getattr(field, "inner", None)
    if isinstance(inner, nn.Module):
        return field_dtype_device(inner, default_dtype)
    for t in list(field.parameters()) + list(field.buffers()):
        if t.is_floating_point():
            return t.dtype, t.device
    return default_dtype or torch.get_default_dtype(), torch.device("cpu")


class Field(nn.Module):
    """A continuous signal: coordinates ``(..., d)`` -> values ``(..., c)``.

    Subclasses implement :meth:`forward`.  Two optional hooks let the
    derivative engine (:mod:`insp.jet`) take its fast path:

    * ``taylor_modules()`` returns the modules whose composition is the field
      (each of a kind that has a Taylor rule), or ``None``;
    * ``max_derivative_order`` is the highest derivative order that carries
      information (``None``: smooth; ``1`` for piecewise-linear ReLU nets).

    Parameters
    ----------
    domain : Domain
        Where the field is defined; its dimension is the input size ``d``.
    out_features : int
        Number of output channels ``c``.
    """

    #: highest meaningful derivative order; ``None`` means infinitely smooth.
    max_derivative_order: int | None = None
    #: how fields of this class come to be, when nothing more is recorded (:mod:`insp.fields.provenance`)
    default_source: str = "unknown"

    def __init__(self, domain: Domain, out_features: int):
        super().__init__()
        if not isinstance(domain, Domain):
            raise TypeError(f"domain must be an insp.Domain, got {type(domain).__name__}")
        if isinstance(out_features, bool) or not isinstance(out_features, int) or out_features < 1:
            raise ValueError(f"out_features must be a positive integer, got {out_features!r}")
        self.domain = domain
        self.out_features = out_features

    @property
    def provenance(self) -> "Provenance":
        """Where this field came from (:class:`~insp.fields.provenance.Provenance`): grid, recipe, fit quality."""
        record = self.__dict__.get("_provenance")
        return record if record is not None else Provenance(source=self.default_source)

    @provenance.setter
    def provenance(self, record: "Provenance") -> None:
        if not isinstance(record, Provenance):
            raise TypeError(f"provenance must be an insp Provenance, got {type(record).__name__}")
        self.__dict__["_provenance"] = record

    @property
    def in_features(self) -> int:
        """Input dimension ``d`` (the domain's dimension)."""
        return self.domain.dim

    def taylor_modules(self) -> Sequence[nn.Module] | None:
        """Modules whose composition equals :meth:`forward`, for the Taylor path."""
        return None

    def check_points(self, x: torch.Tensor, *, name: str = "x") -> torch.Tensor:
        """Raise a clear error unless ``x`` is a floating tensor of shape ``(..., d)``."""
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor of shape (..., {self.in_features}), got {type(x).__name__}")
        if x.ndim < 1 or x.shape[-1] != self.in_features:
            raise ValueError(f"{name} must have shape (..., {self.in_features}), got {tuple(x.shape)}")
        if not x.is_floating_point():
            raise TypeError(f"{name} must be a floating tensor, got dtype {x.dtype}")
        return x

    def sample(self, shape: Sequence[int], *, chunk_size: int = DEFAULT_CHUNK_SIZE, grad: bool = False,
               progress: bool = False) -> torch.Tensor:
        """Evaluate on the domain's grid of ``shape``; see :func:`sample`."""
        return sample(self, shape, chunk_size=chunk_size, grad=grad, progress=progress)

    def extra_repr(self) -> str:
        return f"domain={self.domain.bounds}, out_features={self.out_features}"


def sample(field: Field, shape: Sequence[int], *, chunk_size: int = DEFAULT_CHUNK_SIZE, grad: bool = False,
           progress: bool = False, dtype=None, device=None) -> torch.Tensor:
    """Evaluate ``field`` on the grid ``linspace(low, high, n)`` of each axis.

    The grid is generated and evaluated ``chunk_size`` points at a time, so
    memory stays bounded by the chunk (a 4096x4096 image from a 256-wide SIREN
    renders in well under 2 GB).  The result does not depend on
    ``chunk_size``, bit for bit on CPU: every point is evaluated by the same
    computation (chunks of fewer than 64 points are padded so that the BLAS
    kernels for tiny matrices, which round differently, are never used).
    :func:`sample_blocks` gives the same values block by block, for outputs
    too large to hold.

    Parameters
    ----------
    field : Field
    shape : sequence of int
        Samples per axis, ``d`` entries, at least 2 each.
    chunk_size : int
        Points per evaluation.
    grad : bool
        Keep the autograd graph (for losses on sampled values).  Off by
        default: rendering needs no graph.
    progress : bool
        Show a progress bar over chunks.
    dtype, device
        Of the grid; default to the field's parameters.

    Returns
    -------
    Tensor of shape ``(*shape, c)``.
    """
    field, shape, chunk_size, dtype, device = _sampling(field, shape, chunk_size, dtype, device)
    total = math.prod(shape)
    starts = range(0, total, chunk_size)
    if progress:
        from tqdm.auto import tqdm

        starts = tqdm(starts, desc="sampling", unit="chunk", leave=False)
    out = None
    with torch.set_grad_enabled(grad and torch.is_grad_enabled()):
        for start in starts:
            stop = min(start + chunk_size, total)
            y = _evaluate_range(field, shape, start, stop, dtype, device)
            if out is None:
                out = y.new_empty((total, y.shape[-1])) if not grad else []
            if grad:
                out.append(y)
            else:
                out[start:stop] = y
    if grad:
        out = torch.cat(out, dim=0)
    return out.reshape(*shape, out.shape[-1])


def sample_blocks(field: Field, shape: Sequence[int], *, rows: int, chunk_size: int = DEFAULT_CHUNK_SIZE,
                  dtype=None, device=None):
    """Yield ``field`` on the grid of ``shape`` in blocks of ``rows`` rows (along axis 0), without a graph.

    Each block is ``(rows, *shape[1:], c)`` (the last may be shorter) and
    equals the matching rows of :func:`sample` bit for bit, so an output of
    any size can be written as it is computed, in bounded memory.
    """
    field, shape, chunk_size, dtype, device = _sampling(field, shape, chunk_size, dtype, device)
    rows = check_chunk_size(rows)
    per_row = math.prod(shape[1:])
    with torch.no_grad():
        for r0 in range(0, shape[0], rows):
            r1 = min(r0 + rows, shape[0])
            parts = [_evaluate_range(field, shape, s, min(s + chunk_size, r1 * per_row), dtype, device)
                     for s in range(r0 * per_row, r1 * per_row, chunk_size)]
            yield torch.cat(parts).reshape(r1 - r0, *shape[1:], -1)


def _sampling(field, shape, chunk_size, dtype, device):
    if not isinstance(field, Field):
        raise TypeError(f"field must be an insp.Field, got {type(field).__name__}")
    shape = check_shape(shape, field.in_features)
    chunk_size = check_chunk_size(chunk_size)
    pdtype, pdevice = field_dtype_device(field)
    return field, shape, chunk_size, dtype or pdtype, device or pdevice


def _evaluate_range(field: Field, shape, start: int, stop: int, dtype, device) -> torch.Tensor:
    """The field at the grid points of flat indices ``start:stop`` (tiny ranges padded: see ``_MIN_ROWS``)."""
    x = field.domain.grid_points(shape, start, stop, dtype=dtype, device=device)
    if stop - start < _MIN_ROWS:
        x = torch.cat([x, x[-1:].expand(_MIN_ROWS - (stop - start), -1)])
        return field(x)[: stop - start]
    return field(x)
