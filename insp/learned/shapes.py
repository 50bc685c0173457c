"""Learned smoothing of shapes held as signed-distance fields (an INSP-Net on the field's jet).

:func:`smooth_shape_learned` returns ``S f = f + P(jet of f)``: a small MLP
``P`` (an :class:`~insp.learned.inspnet.INSPNet`, residual) on the
rotation-invariant contractions of the jet of ``f`` up to order
:data:`SHAPE_SMOOTHER_NET` ``["order"]`` (``f``, ``|g|^2``, ``lap f``,
``g^T H g``, ``|H|^2``, ...; :func:`~insp.learned.inspnet.invariant_features`),
trained to map the INR of a noisy mesh to the signed distance of the clean
one near the surface.  Unlike the closed-form :func:`insp.ops.smooth_shape`
(one diffusion time everywhere) it chooses how far to move the level set
from the local geometry, and it learned to undo part of the rounding a
SIREN fit gives sharp edges.

Units.  The network works in the *unit coordinates* of the field's domain,
``u = (x - c) / s`` with ``s = domain.half_width`` (what
:func:`~insp.fields.fitting.sdf.fit_sdf` trains on): the jet is converted
exactly (a partial of order ``k`` times ``s^(k-1)``, the value divided by
``s``) and the output multiplied by ``s`` again.  So a shape scaled with its
domain gives the scaled result, and the operator holds for meshes in any
units, *provided the shape fills its domain as a ``fit_sdf`` field does*
(bounding box plus a margin of 0.1 of it).  Pass ``scale=`` otherwise.

Invariances.  Rotations and reflections (invariant features), translations
(no coordinates enter) and the scale above hold exactly; they are tested.
The result is a field like any other (sample it, extract its surface,
differentiate it to order ``K_inner - order``); like every smoothing of an
SDF it is no longer an exact distance (:func:`insp.ops.eikonal_residual`).

The shipped weights (``insp/learned/weights/shape_smooth.inspop``) are
trained by ``python -m benchmarks.train_shape_smoother`` on ``fit_sdf`` INRs
of noisy training meshes (capsule, sphere, cylinder, cone; normal noise of
0.5 % and 1 % of the diagonal); the benchmark's test shapes (torus, box, drawn
shapes) are never used.  ``benchmarks/shapes.py`` scores it (docs/shapes.md).
"""

from __future__ import annotations


import torch

from .._checks import check_number
from ..fields.base import Field
from ..jet.engine import DEFAULT_JET_CHUNK, check_order
from ..jet.indices import multi_indices
from ..ops.linear import OperatorField
from ..ops.shape import _check_shape_field
from .inspnet import INSPNet
from .registry import load_shipped

__all__ = ["SHAPE_SMOOTHER_FILE", "SHAPE_SMOOTHER_NET", "LearnedShapeSmoothing", "smooth_shape_learned",
           "load_shape_smoother", "unit_jet"]

#: the shipped weights, package data in ``insp/learned/weights/``
SHAPE_SMOOTHER_FILE = "shape_smooth.inspop"
#: the network ``P`` (chosen by ``benchmarks/train_shape_smoother.py`` on a held-out training shape)
SHAPE_SMOOTHER_NET = dict(order=4, dim=3, features="invariant", hidden_features=64, hidden_layers=3,
                          activation="silu", residual=True)


def unit_jet(values: torch.Tensor, order: int, scale: float) -> torch.Tensor:
    """A 3-D jet ``(..., c, M)`` of ``f`` at ``x`` as the jet of ``f(c + s u) / s`` at ``u``.

    A partial of order ``k`` is multiplied by ``s^(k - 1)`` (the chain rule
    of ``x = c + s u`` gives ``s^k``; the value's ``1 / s`` gives the rest).

    Examples
    --------
    >>> import torch
    >>> v = torch.tensor([[[2.0, 1.0, 0.0, 0.0, 4.0, 0.0, 0.0, 0.0, 0.0, 0.0]]])   # f, f_x, f_y, f_z, f_xx, ...
    >>> unit_jet(v, 2, 0.5)[0, 0, :5].tolist()
    [4.0, 1.0, 0.0, 0.0, 2.0]
    """
    powers = torch.tensor([sum(a) - 1 for a in multi_indices(3, order)], dtype=values.dtype, device=values.device)
    return values * scale**powers


def _shipped():
    return load_shipped(SHAPE_SMOOTHER_FILE, "python -m benchmarks.train_shape_smoother")


def load_shape_smoother() -> tuple[INSPNet, dict]:
    """The shipped network ``P`` and its metadata (training shapes, noise levels, command, figures); read once.

    Examples
    --------
    >>> from insp.learned import load_shape_smoother
    >>> net, meta = load_shape_smoother()
    >>> net.order, net.residual, net.training
    (4, True, False)
    >>> meta["training_shapes"], meta["noise_levels"]
    (['capsule', 'sphere', 'cylinder', 'cone'], [0.005, 0.01])
    """
    net, meta = _shipped()
    return net, dict(meta)


class LearnedShapeSmoothing(OperatorField):
    """``S f = f + P(unit jet of f)``, evaluated lazily (see :func:`smooth_shape_learned`)."""

    def __init__(self, inner: Field, net: INSPNet, *, scale: float, jet_method: str = "auto",
                 chunk_size: int = DEFAULT_JET_CHUNK):
        _check_shape_field(inner)
        if not isinstance(net, INSPNet):
            raise TypeError(f"net must be an INSPNet, got {type(net).__name__}")
        if net.dim != 3 or not net.residual or net.channels != "shared":
            raise ValueError(f"net must be a residual, shared-channel 3-D INSPNet, got {net.config()}")
        try:
            check_order(inner, net.order)
        except ValueError as exc:
            raise ValueError(f"the learned shape smoother reads derivatives up to order {net.order}: {exc}") from None
        super().__init__(inner, 1, jet_method=jet_method, chunk_size=chunk_size)
        self.net = net
        self.scale = check_number(scale, "scale", unit="coordinate units")
        self.name = "smooth_shape_learned"
        limit = getattr(inner, "max_derivative_order", None)
        self.max_derivative_order = None if limit is None else max(limit - net.order, 0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.check_points(x)
        values = self._jet(x, self.net.order).values
        return self.net(unit_jet(values, self.net.order, self.scale)) * self.scale

    def extra_repr(self) -> str:
        return f"order={self.net.order}, scale={self.scale:g}"


def smooth_shape_learned(field: Field, *, scale: float | None = None, net: INSPNet | None = None,
                         jet_method: str = "auto", chunk_size: int = DEFAULT_JET_CHUNK) -> LearnedShapeSmoothing:
    """Smooth the surface of a signed-distance field with the shipped learned operator (module notes).

    Parameters
    ----------
    field : Field
        3-D, one channel, derivatives to order 2 (a SIREN from
        :func:`~insp.fields.fitting.sdf.fit_sdf`, for example).
    scale : float, optional
        The length that maps the shape into the unit coordinates the
        operator was trained in; default ``field.domain.half_width``, right
        for ``fit_sdf`` fields (bounding box plus 10 % margin).
    net : INSPNet, optional
        Another trained operator of the same kind (default: the shipped one).

    Returns
    -------
    LearnedShapeSmoothing
        A lazy field; not an exact distance any more.

    Examples
    --------
    >>> import torch
    >>> from insp.testing import SphereSDF
    >>> s = smooth_shape_learned(SphereSDF(0.5))
    >>> s.out_features, s.scale
    (1, 1.0)
    >>> bool(torch.isfinite(s(torch.rand(4, 3) - 0.5)).all())
    True
    """
    field = _check_shape_field(field)
    if scale is None:
        scale = field.domain.half_width
    return LearnedShapeSmoothing(field, load_shape_smoother()[0] if net is None else net, scale=scale,
                                 jet_method=jet_method, chunk_size=chunk_size)
