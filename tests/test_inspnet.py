"""Specification of the learned operator INSPNet (insp.learned.inspnet)."""

import itertools
import shutil

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import insp
from insp.fields.io import FileFormatError, read_header
from insp.jet import jet, multi_indices
from insp.learned import INSPNet, INSPNetField, load_operator, save_operator, train_operator
from insp.learned import train as train_module
from insp.learned.inspnet import invariant_feature_names, invariant_features
from insp.testing import Polynomial, SinusoidSum, analytic_fields, rotated, translated

F64 = torch.float64
FEW = settings(max_examples=10, deadline=None)


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Every tensor here is tiny: a second OpenMP thread only adds wake-up latency (tens of ms per
    matmul when the other core is busy), so this file runs single-threaded and restores the setting."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def pts(n=6, d=2, seed=0):
    return torch.rand(n, d, dtype=F64, generator=torch.Generator().manual_seed(seed)) * 1.6 - 0.8


def waves(d=2, c=1, seed=0, terms=3, kmax=4.0):
    g = torch.Generator().manual_seed(seed)
    k = (torch.rand(terms, d, generator=g, dtype=F64) * 2 - 1) * kmax
    a = torch.rand(terms, c, generator=g, dtype=F64) * 2 - 1
    return SinusoidSum(a, k, torch.rand(terms, generator=g, dtype=F64) * 6, dtype=F64)


def random_net(seed=0, **kw):
    """An operator with a non-zero last layer (the constructor zeroes it), float64 for exact checks."""
    kw.setdefault("dtype", F64)
    net = INSPNet(seed=seed, **kw)
    with torch.no_grad():
        last = net.mlp[-1]
        last.weight.copy_(torch.randn(last.weight.shape, generator=torch.Generator().manual_seed(seed), dtype=F64))
    return net


def rotation(d, seed):
    """A random orthogonal matrix (a rotation or a reflection)."""
    q, r = torch.linalg.qr(torch.randn(d, d, generator=torch.Generator().manual_seed(seed), dtype=F64))
    return q * torch.sign(torch.diagonal(r))


# ---------------------------------------------------------------- shapes and channels

@pytest.mark.parametrize("d", [1, 2, 3])
@pytest.mark.parametrize("c", [1, 3])
@pytest.mark.parametrize("mode", ["shared", "joint"])
@pytest.mark.parametrize("features", ["partials", "invariant"])
def test_shapes(d, c, mode, features):
    order = 2 if d == 3 else 3
    kw = dict(in_channels=c) if mode == "joint" else {}
    net = INSPNet(order=order, dim=d, channels=mode, features=features, hidden_features=8, hidden_layers=1,
                  seed=0, **kw)
    m = len(multi_indices(d, order))
    assert net.num_partials == m
    per = m if features == "partials" else len(invariant_feature_names(d, order))
    assert net.mlp[0].in_features == (per if mode == "shared" else per * c)
    v = torch.randn(4, 5, c, m)
    assert net(v).shape == (4, 5, c)
    f = waves(d, c)
    shape = (5,) * d
    assert net.apply(f).sample(shape).shape == (*shape, c)


def test_feature_counts_2d_order_4():
    assert len(INSPNet().feature_names) == 15  # de-duplicated partials
    assert INSPNet().feature_names[:6] == ["f", "dx", "dy", "dxx", "dxy", "dyy"]
    # n + 1 invariants per order n >= 2: as many as the jet's degrees of freedom beyond the rotation angle
    assert len(INSPNet(features="invariant").feature_names) == 15 - 1
    assert invariant_feature_names(2, 2) == ["f", "|g|^2", "lap f", "D2 f(g,g)", "|D2 f|^2"]


def test_default_weights_are_small():
    net = INSPNet(channels="joint", in_channels=3, features="invariant")
    assert sum(p.numel() for p in net.parameters()) * 4 < 100_000


def test_shared_applies_one_operator_to_each_channel():
    net = random_net(order=2, hidden_features=8)
    v = torch.randn(7, 3, 6, dtype=F64)
    per_channel = torch.stack([net(v[:, i:i + 1])[:, 0] for i in range(3)], dim=-1)
    torch.testing.assert_close(net(v), per_channel, rtol=0, atol=1e-14)


def test_joint_mixes_channels_and_sets_outputs():
    net = random_net(order=2, channels="joint", in_channels=3, out_channels=2, hidden_features=8)
    v = torch.randn(7, 3, 6, dtype=F64)
    w = v.clone()
    w[:, 2] += 1.0  # change channel 2 only
    a, b = net(v), net(w)
    assert a.shape == (7, 2)
    assert (a - b)[:, 0].abs().max() > 1e-6  # output 0 depends on input channel 2


def test_forward_is_the_documented_formula():
    # no hidden layer: out = (w . (v - in_shift) / in_scale + b) * out_scale + out_shift (+ f when residual)
    for residual in (False, True):
        net = INSPNet(order=1, dim=1, hidden_layers=0, residual=residual, dtype=F64)
        with torch.no_grad():
            net.mlp[0].weight.copy_(torch.tensor([[2.0, -1.0]]))
            net.mlp[0].bias.fill_(0.5)
            net.in_shift.copy_(torch.tensor([1.0, 3.0]))
            net.in_scale.copy_(torch.tensor([2.0, 4.0]))
            net.out_shift.fill_(0.25)
            net.out_scale.fill_(10.0)
        v = torch.tensor([[[5.0, -1.0]]], dtype=F64)  # f = 5, f' = -1
        # z = (2, -1); w . z + b = 4 + 1 + 0.5 = 5.5; * 10 + 0.25 = 55.25
        assert net(v).item() == pytest.approx(55.25 + (5.0 if residual else 0.0), abs=1e-12)


def test_untrained_residual_operator_is_the_identity():
    f = waves(2, 3)
    net = INSPNet(order=2, residual=True, dtype=F64)
    x = pts(9)
    torch.testing.assert_close(net.apply(f)(x), f(x), rtol=0, atol=0)


def test_float64_field_through_float32_operator_keeps_dtype():
    net = INSPNet(order=2, seed=0)
    out = net.apply(waves())(pts())
    assert out.dtype == F64


# ---------------------------------------------------------------- invariant features

def _tensor(f, x, n):
    """Full symmetric derivative tensor of order n, (P, c, d, ..., d), from the closed forms."""
    d = f.in_features
    out = torch.empty(x.shape[0], f.out_features, *([d] * n), dtype=F64)
    for idx in itertools.product(range(d), repeat=n):
        alpha = tuple(idx.count(k) for k in range(d))
        out[(slice(None), slice(None)) + idx] = f.derivative(x, alpha)
    return out


@pytest.mark.parametrize("d", [2, 3])
def test_invariant_features_equal_brute_force_contractions(d):
    f = waves(d, 2, seed=3)
    x = pts(5, d)
    T = [_tensor(f, x, n) for n in range(5)]
    g, H = T[1], T[2]
    tr = lambda A: torch.diagonal(A, dim1=-2, dim2=-1).sum(-1)  # noqa: E731 -- trace of the last two axes
    lap, lap_d1, lap_d2 = tr(H), tr(T[3]), tr(T[4])  # lap f, grad lap f, D2 lap f
    ein = torch.einsum
    expected = [T[0], (g * g).sum(-1),
                lap, ein("pcij,pci,pcj->pc", H, g, g), (H * H).sum((-1, -2)),
                ein("pcijk,pci,pcj,pck->pc", T[3], g, g, g), (T[3] ** 2).sum((-1, -2, -3)),
                (lap_d1 * g).sum(-1), (lap_d1 ** 2).sum(-1),
                tr(lap_d2), ein("pcijkl,pci,pcj,pck,pcl->pc", T[4], g, g, g, g), (T[4] ** 2).sum((-1, -2, -3, -4)),
                ein("pcij,pci,pcj->pc", lap_d2, g, g), (lap_d2 ** 2).sum((-1, -2))]
    got = invariant_features(f.jet(x, 4), d, 4)
    assert got.shape == (5, 2, 14)
    torch.testing.assert_close(got, torch.stack(expected, -1), rtol=1e-10, atol=1e-10)


@FEW
@given(f=analytic_fields(dim=st.integers(2, 3), out_features=st.integers(1, 2), max_frequency=5.0),
       seed=st.integers(0, 1000))
def test_invariant_operator_is_rotation_invariant(f, seed):
    # Theorem 1: a function of rotation-invariant features commutes with rotations:
    # T(f o R)(x) = (T f)(R x)
    d, c = f.in_features, f.out_features
    R = rotation(d, seed)
    net = random_net(seed, order=4 if d == 2 else 3, dim=d, features="invariant", channels="joint", in_channels=c,
                     hidden_features=16, hidden_layers=2)
    x = pts(6, d, seed)
    a = net.apply(rotated(f, R))(x)
    b = net.apply(f)(x @ R.T)
    torch.testing.assert_close(a, b, rtol=1e-8, atol=1e-8 * max(1.0, b.abs().max().item()))


def test_partials_operator_is_not_rotation_invariant():
    f = waves(2, 1, seed=1)
    R = rotation(2, 0)
    net = random_net(0, order=2, hidden_features=16)
    x = pts(6)
    assert (net.apply(rotated(f, R))(x) - net.apply(f)(x @ R.T)).abs().max() > 1e-3


@FEW
@given(f=analytic_fields(dim=st.integers(1, 3), out_features=st.integers(1, 2), max_frequency=5.0),
       t=st.lists(st.floats(-0.5, 0.5), min_size=3, max_size=3), features=st.sampled_from(["partials", "invariant"]))
def test_operators_are_shift_invariant(f, t, features):
    # Theorem 1: the same Pi at every point: T(f(. + t))(x) = (T f)(x + t)
    d = f.in_features
    t = torch.tensor(t[:d], dtype=F64)
    net = random_net(1, order=3, dim=d, features=features, hidden_features=16, hidden_layers=2)
    x = pts(6, d)
    a = net.apply(translated(f, t))(x)
    b = net.apply(f)(x + t)
    torch.testing.assert_close(a, b, rtol=1e-8, atol=1e-8 * max(1.0, b.abs().max().item()))


# ---------------------------------------------------------------- normalisation

@pytest.mark.parametrize("mode", ["shared", "joint"])
@pytest.mark.parametrize("residual", [False, True])
def test_fit_normalisation_standardises_features_and_outputs(mode, residual):
    f = waves(2, 2, seed=2, kmax=8.0)
    v = f.jet(pts(300, 2, seed=1), 3)
    targets = 3.0 * v[..., 0] + 1.0
    net = INSPNet(order=3, channels=mode, in_channels=2 if mode == "joint" else None, features="invariant",
                  residual=residual, dtype=F64)
    assert not net.normalised
    net.fit_normalisation(v, targets, chunk_size=64)  # chunking does not change the statistics
    assert net.normalised and int(net.normalisation_points) == 300
    feats = net.input_features(v)
    feats = feats.reshape(-1, feats.shape[-1]) if mode == "shared" else feats.flatten(-2)
    z = (feats - net.in_shift) / net.in_scale
    torch.testing.assert_close(z.mean(0), torch.zeros_like(z[0]), rtol=0, atol=1e-10)
    torch.testing.assert_close(z.std(0), torch.ones_like(z[0]), rtol=1e-10, atol=0)
    r = targets - v[..., 0] if residual else targets
    r = r.reshape(-1, 1) if mode == "shared" else r
    torch.testing.assert_close(net.out_shift, r.mean(0), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(net.out_scale, r.std(0), rtol=1e-12, atol=1e-12)


def test_constant_feature_keeps_scale_one():
    f = Polynomial({(1, 0): [2.0], (0, 1): [-1.0]}, dtype=F64)  # second derivatives are all zero
    net = INSPNet(order=2, dtype=F64).fit_normalisation(f.jet(pts(50), 2))
    assert net.in_scale[3:].tolist() == [1.0, 1.0, 1.0]
    assert net.in_shift[3:].tolist() == [0.0, 0.0, 0.0]


def test_normalisation_follows_derivative_magnitudes():
    # sin(w x) at points x / 2 for w = 4 sees the same phases as sin(2 x) at x: partials of order k scale by 2^k
    x = pts(200, 1)
    s2 = INSPNet(order=3, dim=1, dtype=F64).fit_normalisation(SinusoidSum([1.0], [[2.0]], dtype=F64).jet(x, 3))
    s4 = INSPNet(order=3, dim=1, dtype=F64).fit_normalisation(SinusoidSum([1.0], [[4.0]], dtype=F64).jet(x / 2, 3))
    torch.testing.assert_close(s4.in_scale / s2.in_scale, torch.tensor([1.0, 2.0, 4.0, 8.0], dtype=F64))


# ---------------------------------------------------------------- files

def _trained_like(seed=0, **kw):
    f = waves(2, 3, seed=seed)
    net = random_net(seed, order=2, hidden_features=8, **kw)
    v = f.jet(pts(64, 2, seed), 2)
    return net.fit_normalisation(v, v[..., 0] * 2), f


@pytest.mark.parametrize("kw", [dict(), dict(channels="joint", in_channels=3, features="invariant", residual=True)])
def test_save_load_round_trip_is_exact(tmp_path, kw):
    net, f = _trained_like(**kw)
    path = save_operator(net, tmp_path / "op.inspop", metadata={"task": "test", "inr": {"omega_0": 30}})
    back = load_operator(path)
    assert back.config() == net.config()
    for k, t in net.state_dict().items():
        assert torch.equal(back.state_dict()[k], t), k
    x = pts(20)
    assert torch.equal(back.apply(f)(x), net.apply(f)(x))
    header = read_header(path, kind="insp-operator")
    assert header["metadata"] == {"task": "test", "inr": {"omega_0": 30}}
    assert header["config"]["order"] == 2 and header["normalisation"]["points"] == 64
    assert not back.training


def test_files_of_the_other_kind_are_refused(tmp_path):
    net, _ = _trained_like()
    op = save_operator(net, tmp_path / "op.inspop")
    fld = insp.save(insp.Siren(2, 1, hidden_features=8, hidden_layers=1, seed=0), tmp_path / "f.inspf")
    with pytest.raises(FileFormatError, match="is an insp field file, not an insp operator file"):
        load_operator(fld)
    with pytest.raises(FileFormatError, match="is an insp operator file, not an insp field file"):
        insp.load(op)
    (tmp_path / "x.pt").write_bytes(b"PK\x03\x04 not ours")
    with pytest.raises(FileFormatError, match="not an insp operator file"):
        load_operator(tmp_path / "x.pt")
    raw = bytearray(op.read_bytes())
    raw[-2] ^= 0xFF
    op.write_bytes(bytes(raw))
    with pytest.raises(FileFormatError, match="checksum"):
        load_operator(op)
    with pytest.raises(TypeError, match="INSPNet"):
        save_operator(torch.nn.Linear(2, 2), tmp_path / "y.inspop")


# ---------------------------------------------------------------- training

def _laplacian_data(seeds, n=300):
    values, targets = [], []
    for s in seeds:
        v = waves(2, 1, seed=s).jet(pts(n, 2, 100 + s) * 1.25, 2)
        values.append(v)
        targets.append(v[..., 3] + v[..., 5])  # lap f = dxx + dyy
    return torch.cat(values).float(), torch.cat(targets).float()


def test_tiny_operator_learns_the_laplacian():
    values, targets = _laplacian_data(range(6))
    val = _laplacian_data(range(50, 52))
    net = INSPNet(order=2, hidden_features=32, hidden_layers=2, seed=0)
    h = train_operator(net, values, targets, steps=150, lr=3e-3, batch_size=128, seed=0, progress=False, val=val,
                       log_every=50)
    assert h.step == [50, 100, 150] and len(h.val_loss) == 3 and h.lr[0] > h.lr[-1]
    assert net.normalised and not net.training
    mean_square = (val[1] ** 2).mean().item()
    assert h.val_loss[-1] < 0.01 * mean_square  # relative RMS error under 10% on unseen fields
    assert h.loss[-1] < 0.05 * h.loss[0]
    # as an operator on a field: close to the closed-form Laplacian
    f = waves(2, 1, seed=60)
    x = pts(40, 2, 7)
    lap = f.derivative(x, (2, 0)) + f.derivative(x, (0, 2))
    err = (net.apply(f)(x) - lap).pow(2).mean().sqrt() / lap.pow(2).mean().sqrt()
    assert err < 0.15


def test_checkpoint_resume_equals_an_uninterrupted_run(tmp_path, monkeypatch):
    values, targets = _laplacian_data(range(2), n=100)
    kw = dict(steps=30, lr=1e-2, batch_size=32, seed=3, progress=False, log_every=4, checkpoint_every=10)
    plain = INSPNet(order=2, hidden_features=8, hidden_layers=1, seed=0)
    h_plain = train_operator(plain, values, targets, **kw)

    real = train_module.write_container
    saved = tmp_path / "at20.ckpt"

    def spy(path, header, state):  # keep the checkpoint of step 20, as a run killed after it would
        out = real(path, header, state)
        if header.get("step") == 20:
            shutil.copy(path, saved)
        return out

    monkeypatch.setattr(train_module, "write_container", spy)
    train_operator(INSPNet(order=2, hidden_features=8, hidden_layers=1, seed=0), values, targets,
                   checkpoint=tmp_path / "run.ckpt", **kw)
    monkeypatch.setattr(train_module, "write_container", real)

    resumed = INSPNet(order=2, hidden_features=8, hidden_layers=1, seed=0)
    h = train_operator(resumed, values, targets, checkpoint=saved, **kw)
    assert h.resumed_from == 20
    for k, t in plain.state_dict().items():
        assert torch.equal(resumed.state_dict()[k], t), k
    assert h.step == h_plain.step and h.loss == h_plain.loss
    with pytest.raises(ValueError, match="other training settings"):
        train_operator(INSPNet(order=2, hidden_features=8, hidden_layers=1, seed=0), values, targets,
                       checkpoint=saved, **dict(kw, lr=2e-2))
    with pytest.raises(ValueError, match="another operator"):
        train_operator(INSPNet(order=2, hidden_features=9, hidden_layers=1, seed=0), values, targets,
                       checkpoint=saved, **kw)


# ---------------------------------------------------------------- fields, graphs and errors

def test_apply_returns_a_lazy_field_and_keeps_module_apply():
    net = INSPNet(order=2, seed=0)
    f = waves()
    g = net.apply(f)
    assert isinstance(g, INSPNetField) and isinstance(g, insp.Field)
    assert g.domain == f.domain and g.out_features == 1
    seen = []
    assert net.apply(lambda m: seen.append(type(m).__name__)) is net  # nn.Module.apply still works
    assert "INSPNet" in seen


def test_gradients_reach_the_inner_field_and_sampling_builds_no_graph():
    siren = insp.Siren(2, 1, hidden_features=8, hidden_layers=1, seed=0)
    net = random_net(0, order=2, hidden_features=8, dtype=torch.float32)
    out = net.apply(siren)(torch.rand(16, 2))
    out.sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in siren.parameters())
    assert not net.apply(siren).sample((4, 4)).requires_grad


def test_derivatives_of_the_result():
    f = waves(2, 1, seed=4)
    g = random_net(2, order=2, hidden_features=8).apply(f)
    x = pts(5)
    d = jet(g, x, order=1).values[..., 1:]  # (P, 1, 2)
    eps = 1e-6
    for k in range(2):
        e = torch.zeros(2, dtype=F64)
        e[k] = eps
        fd = (g(x + e) - g(x - e)) / (2 * eps)
        torch.testing.assert_close(d[..., k], fd.detach(), rtol=1e-6, atol=1e-6)
    relu = INSPNet(order=2, activation="relu").apply(f)
    assert relu.max_derivative_order == 1


@pytest.mark.parametrize("kw, match", [
    (dict(order=-1), "order"), (dict(order=True), "order"), (dict(dim=0), "dim"), (dict(dim=4), "dim"),
    (dict(channels="rgb"), "channels"), (dict(features="raw"), "features"), (dict(activation="sine"), "activation"),
    (dict(hidden_features=0), "hidden_features"), (dict(channels="joint"), "in_channels"),
    (dict(channels="joint", in_channels=3, out_channels=1, residual=True), "out_channels must equal"),
    (dict(in_channels=3, out_channels=1), "channels='joint'"), (dict(residual=1), "residual"),
])
def test_bad_configurations_raise(kw, match):
    with pytest.raises((ValueError, TypeError), match=match):
        INSPNet(**kw)


def test_unsupported_fields_raise():
    net = INSPNet(order=4, channels="joint", in_channels=3)
    with pytest.raises(ValueError, match="dimension 3.*2-D"):
        net.apply(waves(3, 3))
    with pytest.raises(ValueError, match="1 channels.*in_channels=3"):
        net.apply(waves(2, 1))
    relu = insp.ReluMLP(2, 3, hidden_features=8, hidden_layers=1, seed=0)
    with pytest.raises(ValueError, match="order 4.*ReluMLP"):
        net.apply(relu)
    with pytest.raises(TypeError, match="insp.Field"):
        net.apply(torch.zeros(3, 2))
    with pytest.raises(ValueError, match=r"\(\.\.\., c, 15\)"):
        net(torch.zeros(5, 3, 6))
    with pytest.raises(ValueError, match="in_channels=3"):
        net(torch.zeros(5, 1, 15))
    with pytest.raises(ValueError, match="targets must have shape"):
        train_operator(net, torch.zeros(5, 3, 15), torch.zeros(5, 1), steps=1, progress=False)
