"""Any network in: modules as fields, and the two SIREN layouts users have converted exactly to insp.Siren."""

import pytest
import torch
from torch import nn

import insp
from insp.fields import ModuleField, Siren, from_module, from_siren_pytorch, from_siren_state_dict
from insp.jet import jet
from insp.ops import gaussian_blur

siren_pytorch = pytest.importorskip("siren_pytorch")  # in the test extra; the import only fails outside it


def _points(n=32, d=2, seed=0):
    return torch.rand(n, d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64) * 2 - 1


def _trained_like(net):
    with torch.no_grad():  # non-initial values everywhere (biases too)
        g = torch.Generator().manual_seed(1)
        for p in net.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=g, dtype=p.dtype))
    return net.eval()


@pytest.mark.parametrize("layers, w0, w0_initial, dim_out", [(3, 1.0, 30.0, 1), (2, 30.0, 30.0, 3), (1, 1.0, 10.0, 2)])
def test_siren_pytorch_net_converts_exactly(layers, w0, w0_initial, dim_out):
    torch.manual_seed(0)
    net = _trained_like(siren_pytorch.SirenNet(dim_in=2, dim_hidden=16, dim_out=dim_out, num_layers=layers, w0=w0,
                                               w0_initial=w0_initial).double())
    f = from_siren_pytorch(net)
    assert isinstance(f, Siren) and f.first_omega_0 == w0_initial and f.hidden_layers == layers - 1
    x = _points()
    with torch.no_grad():
        assert torch.allclose(f(x), net(x), atol=1e-12)
    # derivatives: the Taylor path on the conversion against the general path on the original module
    fast = jet(f, x, order=3, jet_method="taylor").values
    slow = jet(from_module(net), x, order=3, jet_method="general").values
    assert torch.allclose(fast, slow, rtol=1e-9, atol=1e-9)


def test_siren_pytorch_refusals():
    net = siren_pytorch.SirenNet(dim_in=2, dim_hidden=8, dim_out=1, num_layers=2, final_activation=nn.Sigmoid())
    with pytest.raises(ValueError, match="final activation"):
        from_siren_pytorch(net)
    with pytest.raises(TypeError, match="SirenNet"):
        from_siren_pytorch(nn.Linear(2, 1))


def _original_layout(d=2, width=16, hidden=2, c=1, seed=0):
    """The original SIREN code's FCBlock state_dict, built by hand from its documented layout."""
    g = torch.Generator().manual_seed(seed)
    sizes = [d] + [width] * (hidden + 1) + [c]
    sd = {}
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        bound = 1 / a if i == 0 else (6 / a) ** 0.5 / 30
        sd[f"net.net.{i}.0.weight"] = (torch.rand(b, a, generator=g, dtype=torch.float64) * 2 - 1) * bound
        sd[f"net.net.{i}.0.bias"] = (torch.rand(b, generator=g, dtype=torch.float64) * 2 - 1) * bound
    return sd, sizes


def _original_forward(sd, sizes, x):
    n = len(sizes) - 1
    for i in range(n):
        x = x @ sd[f"net.net.{i}.0.weight"].T + sd[f"net.net.{i}.0.bias"]
        if i < n - 1:
            x = torch.sin(30 * x)  # the original code's Sine: sin(30 input) in every layer
    return x


@pytest.mark.parametrize("hidden, c", [(0, 1), (2, 1), (3, 3)])
def test_original_state_dict_converts_exactly(hidden, c):
    sd, sizes = _original_layout(hidden=hidden, c=c)
    f = from_siren_state_dict(sd)
    x = _points()
    with torch.no_grad():
        assert torch.allclose(f(x), _original_forward(sd, sizes, x), atol=1e-12)
    assert f.hidden_layers == hidden and f.out_features == c and f.provenance.source == "imported"


def test_original_state_dict_with_a_model_prefix_and_blur_on_the_taylor_path():
    sd, sizes = _original_layout()
    f = from_siren_state_dict({f"model.{k}": v for k, v in sd.items()})
    blurred = gaussian_blur(f, sigma=0.05)
    assert blurred.sample((6, 6)).shape == (6, 6, 1)


@pytest.mark.parametrize("bad, match", [({"net.net.0.1.weight": torch.zeros(2, 2)}, "not of the original"),
                                        ({"net.net.1.0.weight": torch.zeros(2, 2),
                                          "net.net.1.0.bias": torch.zeros(2)}, "without gaps"),
                                        ({"net.net.0.0.weight": torch.zeros(8, 2), "net.net.0.0.bias": torch.zeros(8),
                                          "net.net.1.0.weight": torch.zeros(1, 5),
                                          "net.net.1.0.bias": torch.zeros(1)}, "takes 5 inputs")])
def test_original_state_dict_refusals(bad, match):
    with pytest.raises(ValueError, match=match):
        from_siren_state_dict(bad)


def test_from_module_any_network_with_the_general_path():
    mlp = nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 2)).double()
    f = insp.from_module(mlp, domain=insp.Domain(((0, 1), (0, 2), (-1, 1))))
    assert isinstance(f, ModuleField) and f.in_features == 3 and f.out_features == 2
    x = _points(8, 3)
    j = jet(f, x, order=1).values  # d/dx of tanh MLP by hand
    w1, b1, w2 = mlp[0].weight, mlp[0].bias, mlp[2].weight
    h = 1 - torch.tanh(x @ w1.T + b1) ** 2
    grad = torch.einsum("co,no,oi->nci", w2, h, w1)
    assert torch.allclose(j[..., 1:], grad, atol=1e-12)


@pytest.mark.parametrize("module, match", [(nn.Linear(2, 3), None), (lambda x: x, "torch.nn.Module")])
def test_from_module_checks(module, match):
    if match is None:
        with pytest.raises(ValueError, match="dimension 3 but the module takes 2"):
            from_module(module, domain=insp.Domain.cube(3))
    else:
        with pytest.raises(TypeError, match=match):
            from_module(module)


def test_from_module_refuses_a_module_of_the_wrong_shape():
    class Scalar(nn.Module):
        def forward(self, x):
            return x.sum()

    with pytest.raises(ValueError, match=r"must map \(n, 2\) points to \(n, c\) values"):
        from_module(Scalar(), in_features=2)
