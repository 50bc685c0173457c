"""The learned shape smoother (insp.learned.shapes): unit jets, exact invariances, the shipped weights, errors."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from insp.fields import Domain, Field, Siren
from insp.jet import jet
from insp.learned import INSPNet
from insp.learned.shapes import (
    SHAPE_SMOOTHER_NET,
    LearnedShapeSmoothing,
    load_shape_smoother,
    smooth_shape_learned,
    unit_jet,
)
from insp.testing import TorusSDF, rotated, translated

F64 = torch.float64


class _Scaled(Field):
    """``a * inner(c + (x - c) / a)`` on the domain stretched by ``a`` about its centre ``c``: the shape scaled."""

    def __init__(self, inner, a):
        c = torch.tensor(inner.domain.centre, dtype=F64)
        dom = Domain(tuple((ci + a * (lo - ci), ci + a * (hi - ci)) for (lo, hi), ci in zip(inner.domain.bounds, c.tolist())))
        super().__init__(dom, 1)
        self.inner, self.a = inner, a
        self.register_buffer("c", c)

    def forward(self, x):
        return self.a * self.inner(self.c + (x - self.c) / self.a)


class _UnitView(Field):
    """``inner(c + s u) / s`` on ``[-1, 1]^3``: the field in its domain's unit coordinates."""

    def __init__(self, inner):
        super().__init__(Domain.cube(3), 1)
        self.inner, self.s = inner, inner.domain.half_width
        self.register_buffer("c", torch.tensor(inner.domain.centre, dtype=F64))

    def forward(self, u):
        return self.inner(self.c + self.s * u) / self.s


def _torus():
    dom = Domain(((-1.5, 2.5), (-2.0, 2.0), (-1.0, 1.0)))   # half width 2, centre (0.5, 0, 0)
    return TorusSDF(0.9, 0.35, centre=(0.5, 0.1, -0.05), domain=dom, dtype=F64)


def _random_net(order=2, seed=0):
    """A residual shape net with non-zero, seeded weights (an untrained one is the identity)."""
    net = INSPNet(**dict(SHAPE_SMOOTHER_NET, order=order), seed=seed, dtype=F64)
    g = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        last = net.mlp[-1]
        last.weight.copy_(0.1 * torch.randn(last.weight.shape, generator=g, dtype=F64))
        last.bias.fill_(0.01)
    return net.eval()


def _points(n, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.tensor([0.5, 0.1, -0.05], dtype=F64) + 0.9 * (2 * torch.rand(n, 3, generator=g, dtype=F64) - 1)


def test_unit_jet_is_the_jet_of_the_field_in_unit_coordinates():
    f = Siren(3, 1, hidden_features=16, hidden_layers=2, seed=3, domain=Domain(((-1.5, 2.5), (-2.0, 2.0), (-1.0, 1.0))),
              dtype=F64)
    x = _points(40)
    u = f.domain.to_unit(x)
    for order in (2, 4):
        expected = jet(_UnitView(f), u, order=order).values
        got = unit_jet(jet(f, x, order=order).values, order, f.domain.half_width)
        torch.testing.assert_close(got, expected, rtol=1e-9, atol=1e-9)


def _orthogonal(seed):
    g = torch.Generator().manual_seed(seed)
    q, r = torch.linalg.qr(torch.randn(3, 3, generator=g, dtype=F64))
    return q * torch.sign(torch.diagonal(r))   # a uniform draw, reflections included


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_rotation_and_reflection_invariance(seed):
    f, net, x = _torus(), _random_net(), _points(30, seed=seed)
    R = _orthogonal(seed)
    c = torch.tensor(f.domain.centre, dtype=F64)
    # q(y) = f(R y + b) with b = c - R c keeps the domain's centre fixed, so the scale and the points agree
    q = translated(rotated(translated(f, c), R), -c)
    y = (x - c) @ R + c                                     # R y + b = x
    base = LearnedShapeSmoothing(f, net, scale=2.0)(x)
    torch.testing.assert_close(LearnedShapeSmoothing(q, net, scale=2.0)(y), base, rtol=1e-9, atol=1e-10)


@settings(max_examples=10, deadline=None)
@given(shift=st.lists(st.floats(-3.0, 3.0), min_size=3, max_size=3))
def test_translation_invariance(shift):
    f, net, x = _torus(), _random_net(), _points(30)
    t = torch.tensor(shift, dtype=F64)
    g = translated(f, t)                                    # g(y) = f(y + t)
    torch.testing.assert_close(LearnedShapeSmoothing(g, net, scale=2.0)(x - t),
                               LearnedShapeSmoothing(f, net, scale=2.0)(x), rtol=1e-9, atol=1e-10)


@settings(max_examples=8, deadline=None)
@given(a=st.floats(0.01, 100.0))
def test_scaling_the_shape_with_its_domain_scales_the_result(a):
    f, net, x = _torus(), _random_net(), _points(30)
    g = _Scaled(f, a)
    c = torch.tensor(f.domain.centre, dtype=F64)
    y = c + a * (x - c)
    assert g.domain.half_width == pytest.approx(a * f.domain.half_width)
    torch.testing.assert_close(smooth_shape_learned(g, net=net)(y), a * smooth_shape_learned(f, net=net)(x),
                               rtol=1e-8, atol=1e-10 * a)


def test_untrained_net_is_the_identity_and_scale_defaults_to_the_half_width():
    f = _torus()
    op = smooth_shape_learned(f, net=INSPNet(**SHAPE_SMOOTHER_NET, seed=0, dtype=F64))
    assert op.scale == 2.0
    x = _points(20)
    torch.testing.assert_close(op(x), f(x))


def test_shipped_smoother_loads_and_never_saw_the_test_shapes():
    net, meta = load_shape_smoother()
    assert net.config()["order"] == SHAPE_SMOOTHER_NET["order"] and net.residual and net.dim == 3
    assert int(net.normalisation_points) > 0
    assert not {"torus", "box"} & set(meta["training_shapes"])
    f = Siren(3, 1, hidden_features=16, hidden_layers=2, seed=0)
    out = smooth_shape_learned(f).sample((6, 6, 6))
    assert out.shape == (6, 6, 6, 1) and torch.isfinite(out).all()


def test_clear_errors():
    net = _random_net()
    with pytest.raises(ValueError, match="3"):
        smooth_shape_learned(Siren(2, 1, seed=0), net=net)
    with pytest.raises(ValueError, match="one-channel"):
        smooth_shape_learned(Siren(3, 2, seed=0), net=net)
    with pytest.raises(ValueError, match="scale"):
        smooth_shape_learned(_torus(), net=net, scale=-1.0)
    with pytest.raises(ValueError, match="residual"):
        smooth_shape_learned(_torus(), net=INSPNet(order=2, dim=3, features="invariant", seed=0))
    with pytest.raises(TypeError, match="INSPNet"):
        LearnedShapeSmoothing(_torus(), torch.nn.Linear(3, 1), scale=1.0)
