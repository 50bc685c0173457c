"""The guidance field of Poisson blending: the source's gradient inside the mask, the target's outside.

Pérez et al. 2003 build the blend from a *guidance* vector field; the three
modes here are theirs (``replace``, ``mixed``: the stronger gradient per
point) and the SIREN paper's ``average``.
"""

from __future__ import annotations

import torch

from ..._checks import check_choice
from ...fields.base import Field, check_field
from ...jet.engine import gradient_at

__all__ = ["BLEND_MODES", "CompositeGradient", "composite_gradient"]

#: guidance-field modes of :func:`~insp.ops.poisson.poisson_blend` / :func:`composite_gradient`
BLEND_MODES = ("replace", "mixed", "average")


class CompositeGradient(Field):
    """The guidance field of Poisson blending: ``c * d`` channels, ``[..., i * d + k]``.

    With ``m`` the mask, ``gs``/``gt`` the source/target gradients of channel ``i``::

        replace: m gs + (1 - m) gt
        mixed:   m (gs if |gs| > |gt| else gt) + (1 - m) gt   (per point and channel)
        average: m (gs + gt) / 2 + (1 - m) gt

    Layout as :func:`insp.ops.gradient` (channel-major).  See
    :func:`composite_gradient`.

    Examples
    --------
    >>> import torch
    >>> from insp.fields import Domain
    >>> from insp.fields.transforms import GridField
    >>> from insp.ops import BLEND_MODES, CompositeGradient
    >>> from insp.testing import Polynomial
    >>> s = Polynomial({(1, 0): 1.0}, dtype=torch.float64)   # gradient (1, 0)
    >>> t = Polynomial({(0, 1): 2.0}, dtype=torch.float64)   # gradient (0, 2), the stronger one
    >>> inside = GridField(torch.ones(3, 3, dtype=torch.float64), Domain.cube(2))
    >>> x = torch.zeros(1, 2, dtype=torch.float64)
    >>> {mode: CompositeGradient(s, t, inside, mode=mode)(x).tolist() for mode in BLEND_MODES}
    {'replace': [[1.0, 0.0]], 'mixed': [[0.0, 2.0]], 'average': [[0.5, 1.0]]}
    """

    def __init__(self, source: Field, target: Field, mask: Field, *, mode: str = "replace"):
        check_choice(mode, "mode", BLEND_MODES)
        check_field(source, name="source")
        check_field(target, name="target")
        check_field(mask, name="mask")
        if source.in_features != target.in_features:
            raise ValueError(f"source is {source.in_features}-D but target is {target.in_features}-D")
        if source.out_features != target.out_features:
            raise ValueError(f"source has {source.out_features} channels but target has {target.out_features}")
        if mask.out_features != 1 or mask.in_features != target.in_features:
            raise ValueError(f"mask must be a 1-channel field on {target.in_features}-D points, got "
                             f"{mask.in_features}-D -> {mask.out_features} channels")
        super().__init__(target.domain, target.out_features * target.in_features)
        self.source, self.target, self.mask, self.mode = source, target, mask, mode

    def _inner(self, gs: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
        if self.mode == "replace":
            return gs
        if self.mode == "mixed":
            stronger = (gs * gs).sum(-1, keepdim=True) > (gt * gt).sum(-1, keepdim=True)
            return torch.where(stronger, gs, gt)
        return 0.5 * (gs + gt)

    def parts(self, x: torch.Tensor, *, create_graph: bool = False):
        """``(g (..., c, d), m (..., 1), gs, gt)`` at ``x``."""
        gs = gradient_at(self.source, x, create_graph=create_graph)
        gt = gradient_at(self.target, x, create_graph=create_graph)
        m = self.mask(x).clamp(0, 1)
        mm = m[..., None]
        return mm * self._inner(gs, gt) + (1 - mm) * gt, m, gs, gt

    def inner_at(self, x: torch.Tensor) -> torch.Tensor:
        """The guidance inside the mask, ``(..., c, d)``, ignoring the mask (the ``m = 1`` case)."""
        return self._inner(gradient_at(self.source, x), gradient_at(self.target, x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.check_points(x)
        g = self.parts(x)[0]
        return g.reshape(*g.shape[:-2], -1)

    def extra_repr(self) -> str:
        return f"mode={self.mode!r}, out_features={self.out_features}"


def composite_gradient(source: Field, target: Field, mask: Field, *, mode: str = "replace") -> CompositeGradient:
    """The composite gradient field of :func:`poisson_blend` (see :class:`CompositeGradient`).

    All three fields live in the target's frame (translate a source with
    :class:`~insp.fields.transforms.Translated`; turn a mask array into a field
    with :class:`~insp.fields.transforms.GridField`).

    Examples
    --------
    >>> import torch
    >>> from insp.fields import Domain
    >>> from insp.fields.transforms import GridField
    >>> from insp.testing import Polynomial
    >>> dom = Domain.cube(2)
    >>> s = Polynomial({(1, 0): 1.0}, dtype=torch.float64)   # s = x0: gradient (1, 0)
    >>> t = Polynomial({(0, 1): 2.0}, dtype=torch.float64)   # t = 2 x1: gradient (0, 2)
    >>> inside = GridField(torch.ones(3, 3, dtype=torch.float64), dom)
    >>> composite_gradient(s, t, inside)(torch.zeros(1, 2, dtype=torch.float64))   # the source's inside
    tensor([[1., 0.]], dtype=torch.float64)
    """
    return CompositeGradient(source, target, mask, mode=mode)
