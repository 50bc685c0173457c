"""INSP-Net: a learned operator applied pointwise to the derivative stack of a field.

Xu et al. 2022 ("Signal Processing for Implicit Neural Representations")
show that any continuous shift-invariant filter is approximated by a
function of the derivatives of the signal at the same point,

    (T f)(x) = Pi(f(x), grad f(x), ..., grad^K f(x)),

and learn ``Pi`` as a small MLP.  :class:`INSPNet` is that ``Pi``: its input
is the jet ``(..., c, M)`` of :func:`insp.jet.jet` (all ``M = C(K + d, d)``
partials up to order ``K``, coordinate units, graded then descending
lexicographic order -- 15 per channel for ``K = 4`` in 2-D, each partial
once), its output the processed values ``(..., c_out)``.  ``net.apply(field)``
is the operator ``T`` on fields: a lazy :class:`~insp.fields.base.Field`.

Features (``features=``):

* ``"partials"`` -- the jet itself.  Shift invariant (Theorem 1 of the
  paper: the same ``Pi`` at every point), not rotation invariant.
* ``"invariant"`` -- contractions of the derivative tensors that do not
  change under rotations (and reflections) of the coordinates, so the
  operator is rotation invariant as well (the paper's Theorem 1: a function
  of rotation-invariant features is a rotation-invariant operator).  With
  ``g = grad f`` and ``D^m lap^j f`` the order-``m`` tensor of the partials of
  ``lap^j f``, the list for total derivative order ``n`` is

  - ``n = 0``: ``f``;  ``n = 1``: ``|g|^2``;
  - ``n >= 2``: ``lap^(n/2) f`` if ``n`` is even, and for every
    ``j = 0, ..., ceil(n/2) - 1`` (``m = n - 2j >= 1``) the full contraction
    with the gradient ``D^m lap^j f (g, ..., g)`` and the squared Frobenius
    norm ``|D^m lap^j f|^2``.

  ``n = 2``: ``lap f``, ``g^T H g``, ``|H|^2``; ``n = 3``:
  ``D^3 f(g,g,g)``, ``|D^3 f|^2``, ``g . grad lap f``, ``|grad lap f|^2``;
  ``n = 4``: ``lap^2 f``, ``D^4 f(g,g,g,g)``, ``|D^4 f|^2``,
  ``g^T (D^2 lap f) g``, ``|D^2 lap f|^2``.  That is ``n + 1`` features per
  order ``n >= 2``: 14 for ``K = 4``, as many as a 2-D jet has degrees of
  freedom beyond the rotation angle (15 - 1).  The names are in
  :attr:`INSPNet.feature_names`.

Channels (``channels=``): ``"shared"`` applies one ``Pi`` to each channel
independently (RGB through a grey-level operator; any channel count);
``"joint"`` concatenates every channel's features and maps them to
``out_channels`` outputs at once.

Normalisation.  Partials of order ``k`` of a signal of bandwidth ``omega``
grow like ``omega^k`` (and the invariant products like powers of that), so
raw features span many orders of magnitude.  Each feature is standardised,
``z = (feature - shift) / scale``, with ``shift`` its mean and ``scale`` its
standard deviation over training data (:meth:`INSPNet.fit_normalisation`;
channels pooled when shared; a constant feature keeps scale 1).  The output
is de-standardised the same way (``out = Pi(z) * out_scale + out_shift``, from
the targets, or from ``target - f`` when ``residual=True``).  All four are
buffers, saved with the weights, so an operator needs no magic divisors and
no knowledge of its training data once trained.

Files: :func:`save_operator` / :func:`load_operator` use the container of
:mod:`insp.fields.io` (JSON header with the configuration and free-form
metadata, raw tensors, checksum, atomic write, no pickle).  Training:
:func:`insp.learned.train.train_operator` (minibatch Adam, cosine learning
rate, resumable checkpoints).
"""

from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path

import torch
from torch import nn

from .._checks import check_choice, check_int
from ..fields.base import Field, check_field
from ..fields.io import FileFormatError, read_container, write_container
from ..jet.engine import DEFAULT_JET_CHUNK, check_order, jet
from ..jet.indices import index_of, laplacian_power, multi_indices, multinomial, name_of, partials_of_order
from ..ops.linear import OperatorField

__all__ = ["INSPNet", "INSPNetField", "save_operator", "load_operator",
           "invariant_features", "invariant_feature_names", "FEATURES", "CHANNEL_MODES", "ACTIVATIONS"]

FEATURES = ("partials", "invariant")
CHANNEL_MODES = ("shared", "joint")
ACTIVATIONS = {"silu": nn.SiLU, "relu": nn.ReLU, "tanh": nn.Tanh, "gelu": nn.GELU}
_FORMAT = "insp-operator"


# --------------------------------------------------------------------------- invariant features

@lru_cache(maxsize=None)
def _invariant_spec(d: int, order: int):
    """``[(name, kind, m, j)]``: kind ``value`` (``lap^j f``, ``m = 0``), ``contract`` or ``norm``."""
    spec = [("f", "value", 0, 0)]
    if order >= 1:
        spec.append(("|g|^2", "contract", 1, 0))
    for n in range(2, order + 1):
        if n % 2 == 0:
            spec.append((f"lap^{n // 2} f" if n > 2 else "lap f", "value", 0, n // 2))
        for j in range(math.ceil(n / 2)):
            m = n - 2 * j
            base = f"D{m} " + ("" if j == 0 else "lap " if j == 1 else f"lap^{j} ") + "f"
            spec.append((f"{base}({','.join('g' * m)})", "contract", m, j))
            spec.append((f"|{base}|^2", "norm", m, j))
    return tuple(spec)


@lru_cache(maxsize=None)
def _lap_weights(d: int, order: int, m: int, j: int):
    """``(W, mult, beta)``: ``jet @ W`` = ``d^beta lap^j f`` for every ``|beta| = m``; ``mult = m!/beta!``."""
    betas = partials_of_order(d, m)
    W = torch.zeros(len(multi_indices(d, order)), len(betas), dtype=torch.float64)
    for col, beta in enumerate(betas):
        for alpha, c in laplacian_power(d, j).items():  # d^beta lap^j = sum_alpha c_alpha d^(beta + alpha)
            W[index_of(tuple(b + a for b, a in zip(beta, alpha)), d, order), col] += c
    mult = torch.tensor([multinomial(b) for b in betas], dtype=torch.float64)
    return W, mult, torch.tensor(betas, dtype=torch.float64)


def invariant_feature_names(d: int, order: int) -> list[str]:
    """Names of the rotation-invariant features of a jet of ``order`` in ``d`` dimensions (``g = grad f``).

    Examples
    --------
    >>> from insp.learned import invariant_feature_names
    >>> invariant_feature_names(2, 2)
    ['f', '|g|^2', 'lap f', 'D2 f(g,g)', '|D2 f|^2']
    >>> len(invariant_feature_names(2, 4))               # n + 1 per order n >= 2, plus f and |g|^2
    14
    """
    check_int(d, "dim", minimum=1)
    check_int(order, "order", minimum=0)
    return [s[0] for s in _invariant_spec(d, order)]


def invariant_features(values: torch.Tensor, d: int, order: int) -> torch.Tensor:
    """Rotation-invariant contractions of a jet (see the module notes): ``(..., c, M) -> (..., c, F)``.

    Every feature is a polynomial in the partials built with the Euclidean
    metric only, so it is unchanged when the coordinates are rotated or
    reflected.  A symmetric tensor ``T`` of order ``m`` is held by its
    distinct entries ``T_beta`` (``|beta| = m``), each standing for
    ``m!/beta!`` equal entries: ``|T|^2 = sum_beta m!/beta! T_beta^2`` and
    ``T(g, ..., g) = sum_beta m!/beta! T_beta g^beta``.

    Examples
    --------
    For ``f = x0^2 + 3 x1^2`` at ``(0.5, -0.25)``: ``g = (1, -1.5)``,
    ``H = diag(2, 6)``, so ``|g|^2 = 3.25``, ``lap f = 8``,
    ``g^T H g = 15.5`` and ``|H|^2 = 40``; a rotated field, read at the
    rotated point, gives the same numbers:

    >>> import torch
    >>> from insp.jet import jet
    >>> from insp.learned import invariant_features
    >>> from insp.testing import Polynomial, rotated
    >>> p = Polynomial({(2, 0): 1.0, (0, 2): 3.0}, dtype=torch.float64)
    >>> x = torch.tensor([[0.5, -0.25]], dtype=torch.float64)
    >>> invariant_features(jet(p, x, order=2).values, 2, 2).tolist()
    [[[0.4375, 3.25, 8.0, 15.5, 40.0]]]
    >>> R = torch.tensor([[0.6, -0.8], [0.8, 0.6]], dtype=torch.float64)
    >>> q = rotated(p, R)                                  # q(y) = p(R y), so q(R^T x) = p(x)
    >>> feats = invariant_features(jet(q, x @ R, order=2).values, 2, 2)
    >>> [round(v, 10) for v in feats.flatten().tolist()]
    [0.4375, 3.25, 8.0, 15.5, 40.0]
    """
    g = values[..., 1:1 + d] if order >= 1 else None  # order-1 partials: d_x, d_y, ... in axis order
    out = []
    for _, kind, m, j in _invariant_spec(d, order):
        W, mult, beta = (t.to(dtype=values.dtype, device=values.device) for t in _lap_weights(d, order, m, j))
        L = values @ W  # (..., c, B)
        if kind == "value":
            out.append(L[..., 0])
        elif kind == "norm":
            out.append((L * L) @ mult)
        else:
            powers = torch.pow(g[..., None, :], beta).prod(-1)  # g^beta: (..., c, B)
            out.append((L * powers) @ mult)
    return torch.stack(out, dim=-1)


# --------------------------------------------------------------------------- the network

class INSPNet(nn.Module):
    """``Pi``: an MLP on the (standardised) derivative features of a field, applied pointwise.

    Parameters
    ----------
    order : int
        Highest derivative order ``K`` of the input jet (default 4).
    dim : int
        Dimension ``d`` of the fields it acts on (1, 2 or 3; default 2).
    channels : {"shared", "joint"}
        ``"shared"``: one ``Pi`` applied to each channel independently (one
        output per channel, any number of channels unless ``in_channels`` is
        given).  ``"joint"``: every channel's features concatenated, mapped to
        ``out_channels`` outputs.
    in_channels : int, optional
        Channels of the input field; required for ``"joint"``.
    out_channels : int, optional
        Outputs of a joint operator (default ``in_channels``).
    features : {"partials", "invariant"}
        The jet itself, or its rotation-invariant contractions (module notes).
    hidden_features, hidden_layers : int
        Width and number of hidden layers of the MLP (default 64 x 3: about
        9k parameters, 37 kB in float32).
    activation : {"silu", "relu", "tanh", "gelu"}
        ``"silu"`` (default) keeps ``net.apply(f)`` smooth in ``x``.
    residual : bool
        Output ``f + Pi(...)`` instead of ``Pi(...)`` (needs as many outputs
        as input channels); restoration operators learn a small correction.
    seed : int, optional
        Seed of the initialisation (drawn from a private generator).
    dtype, device
        Of the parameters.

    Notes
    -----
    ``forward(values)`` takes a jet ``(..., c, M)`` (``jet(field, x,
    order=K).values``) and returns ``(..., c_out)`` in the input's dtype.
    The last layer starts at zero, so an untrained operator returns the
    output shift (``f`` plus the mean correction when residual).  The input
    and output standardisation buffers (``in_shift``, ``in_scale``,
    ``out_shift``, ``out_scale``) are set by :meth:`fit_normalisation`;
    ``normalisation_points`` counts the points they were computed from
    (0: not fitted).

    Examples
    --------
    >>> import torch
    >>> from insp.jet import jet
    >>> from insp.testing import SinusoidSum
    >>> f = SinusoidSum([1.0], [[3.0, 1.0]], dtype=torch.float64)
    >>> net = INSPNet(order=2, seed=0)
    >>> J = jet(f, torch.rand(100, 2, dtype=torch.float64), order=2).values   # (100, 1, 6)
    >>> _ = net.fit_normalisation(J)
    >>> net(J).shape, net.apply(f).sample((8, 8)).shape
    (torch.Size([100, 1]), torch.Size([8, 8, 1]))
    """

    def __init__(self, *, order: int = 4, dim: int = 2, channels: str = "shared", in_channels: int | None = None,
                 out_channels: int | None = None, features: str = "partials", hidden_features: int = 64,
                 hidden_layers: int = 3, activation: str = "silu", residual: bool = False, seed: int | None = None,
                 dtype=None, device=None):
        super().__init__()
        self.order = check_int(order, "order", minimum=0)
        self.dim = check_int(dim, "dim", minimum=1)
        if self.dim > 3:
            raise ValueError(f"dim must be 1, 2 or 3, got {dim!r}")
        self.channels = check_choice(channels, "channels", CHANNEL_MODES)
        self.features = check_choice(features, "features", FEATURES)
        self.activation = check_choice(activation, "activation", ACTIVATIONS)
        self.hidden_features = check_int(hidden_features, "hidden_features", minimum=1)
        self.hidden_layers = check_int(hidden_layers, "hidden_layers", minimum=0)
        if not isinstance(residual, bool):
            raise TypeError(f"residual must be a bool, got {type(residual).__name__}")
        self.residual = residual
        self.in_channels = None if in_channels is None else check_int(in_channels, "in_channels", minimum=1)
        if channels == "joint":
            if in_channels is None:
                raise ValueError("channels='joint' needs in_channels (the channel count of the fields it acts on)")
            self.out_channels = self.in_channels if out_channels is None else check_int(out_channels, "out_channels", minimum=1)
            if residual and self.out_channels != self.in_channels:
                raise ValueError(f"residual=True adds the input: out_channels must equal in_channels "
                                 f"({self.in_channels}), got {self.out_channels}")
        else:
            if out_channels is not None and out_channels != in_channels:
                raise ValueError("channels='shared' returns one output per input channel; "
                                 "out_channels cannot differ from in_channels (use channels='joint')")
            self.out_channels = self.in_channels
        self.num_partials = len(multi_indices(self.dim, self.order))
        self.feature_names = (invariant_feature_names(self.dim, self.order) if features == "invariant"
                              else [name_of(a) for a in multi_indices(self.dim, self.order)])
        per = len(self.feature_names)
        n_in = per if channels == "shared" else per * self.in_channels
        n_out = 1 if channels == "shared" else self.out_channels

        gen = torch.Generator().manual_seed(seed) if seed is not None else None
        layers: list[nn.Module] = []
        width = n_in
        for _ in range(self.hidden_layers):
            layers += [self._linear(width, self.hidden_features, gen, dtype, device), ACTIVATIONS[activation]()]
            width = self.hidden_features
        last = self._linear(width, n_out, gen, dtype, device)
        with torch.no_grad():
            last.weight.zero_()
            last.bias.zero_()
        self.mlp = nn.Sequential(*layers, last)
        kw = dict(dtype=last.weight.dtype, device=last.weight.device)
        self.register_buffer("in_shift", torch.zeros(n_in, **kw))
        self.register_buffer("in_scale", torch.ones(n_in, **kw))
        self.register_buffer("out_shift", torch.zeros(n_out, **kw))
        self.register_buffer("out_scale", torch.ones(n_out, **kw))
        self.register_buffer("normalisation_points", torch.zeros((), dtype=torch.int64, device=kw["device"]))

    @staticmethod
    def _linear(n_in: int, n_out: int, gen, dtype, device) -> nn.Linear:
        """PyTorch's default ``nn.Linear`` init, drawn from the private generator."""
        lin = nn.utils.skip_init(nn.Linear, n_in, n_out, dtype=dtype, device=device if device is not None else "cpu")
        bound = 1.0 / math.sqrt(n_in)
        with torch.no_grad():
            for p in (lin.weight, lin.bias):
                p.copy_((torch.rand(p.shape, generator=gen, dtype=torch.float64) * (2 * bound) - bound).to(p))
        return lin

    # ------------------------------------------------------------------ configuration
    def config(self) -> dict:
        """The keyword arguments that rebuild this (untrained) network."""
        return dict(order=self.order, dim=self.dim, channels=self.channels, in_channels=self.in_channels,
                    out_channels=self.out_channels if self.channels == "joint" else None, features=self.features,
                    hidden_features=self.hidden_features, hidden_layers=self.hidden_layers,
                    activation=self.activation, residual=self.residual)

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v!r}" for k, v in self.config().items())

    @property
    def normalised(self) -> bool:
        """Whether :meth:`fit_normalisation` has set the standardisation."""
        return int(self.normalisation_points) > 0

    # ------------------------------------------------------------------ features
    def check_jet(self, values, *, name: str = "values") -> torch.Tensor:
        """Raise a clear error unless ``values`` is a jet ``(..., c, M)`` this operator accepts."""
        m = self.num_partials
        if not isinstance(values, torch.Tensor) or not values.is_floating_point():
            raise TypeError(f"{name} must be a floating torch.Tensor (..., c, {m}), got "
                            f"{type(values).__name__ if not isinstance(values, torch.Tensor) else values.dtype}")
        if values.ndim < 2 or values.shape[-1] != m:
            raise ValueError(f"{name} must be a jet of shape (..., c, {m}) (all partials up to order {self.order} "
                             f"in {self.dim}-D), got {tuple(values.shape)}")
        if self.in_channels is not None and values.shape[-2] != self.in_channels:
            raise ValueError(f"{name} has {values.shape[-2]} channels; this operator was built for "
                             f"in_channels={self.in_channels}")
        return values

    def input_features(self, values: torch.Tensor) -> torch.Tensor:
        """Raw (unstandardised) features of a jet: ``(..., c, M) -> (..., c, F)``, the input's dtype."""
        values = self.check_jet(values)
        if self.features == "invariant":
            return invariant_features(values, self.dim, self.order)
        return values

    def _flat(self, feats: torch.Tensor) -> torch.Tensor:
        return feats if self.channels == "shared" else feats.flatten(-2)

    def _raw_targets(self, values: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """What ``Pi`` must produce (before the output affine): ``targets`` or ``targets - f``."""
        r = targets - values[..., 0] if self.residual else targets
        return r[..., None] if self.channels == "shared" else r

    def forward(self, values: torch.Tensor) -> torch.Tensor:
        """``(..., c, M)`` jet -> ``(..., c_out)`` processed values (the input's dtype)."""
        feats = self._flat(self.input_features(values))
        pdtype = self.in_scale.dtype
        z = (feats.to(pdtype) - self.in_shift) / self.in_scale
        y = self.mlp(z) * self.out_scale + self.out_shift
        if self.channels == "shared":
            y = y[..., 0]
        y = y.to(values.dtype)
        return values[..., 0] + y if self.residual else y

    # ------------------------------------------------------------------ normalisation
    @torch.no_grad()
    def fit_normalisation(self, values: torch.Tensor, targets: torch.Tensor | None = None, *,
                          chunk_size: int = 65536) -> "INSPNet":
        """Set the standardisation buffers from training data; returns ``self``.

        Parameters
        ----------
        values : Tensor ``(P, c, M)``
            Jets of training points.
        targets : Tensor ``(P, c_out)``, optional
            Their targets; sets ``out_shift``/``out_scale`` to the mean and
            standard deviation of what ``Pi`` must produce (``target - f`` when
            residual).  Without targets the output affine is left as it is.
        chunk_size : int
            Points per pass (features are computed in float64 chunk by chunk).

        Notes
        -----
        ``shift`` is the mean, ``scale`` the standard deviation (two passes in
        float64) of each feature over all points (and over channels when
        shared), so standardised training features have mean 0 and variance
        1 whatever their order of magnitude.  A feature with zero or
        non-finite spread gets scale 1.
        """
        values = self.check_jet(values)
        if values.ndim != 3 or values.shape[0] < 2:
            raise ValueError(f"values must be a stack of jets (P, c, {self.num_partials}) with P >= 2, "
                             f"got {tuple(values.shape)}")
        if targets is not None:
            targets = self._check_targets(values, targets)

        def chunks(fn):
            for s in range(0, values.shape[0], chunk_size):
                yield fn(values[s:s + chunk_size].double(),
                         None if targets is None else targets[s:s + chunk_size].double())

        def stats(fn):
            flat = lambda a: a.reshape(-1, a.shape[-1])  # noqa: E731 -- rows = points (x channels)
            n = total = 0
            for a in chunks(fn):
                a = flat(a)
                n, total = n + a.shape[0], total + a.sum(0)
            mean = total / n
            var = sum(((flat(a) - mean) ** 2).sum(0) for a in chunks(fn)) / max(n - 1, 1)
            std = var.sqrt()
            ok = torch.isfinite(std) & (std > 1e-12 * mean.abs().clamp_min(1.0))
            return mean, torch.where(ok, std, torch.ones_like(std))

        mean, std = stats(lambda v, t: self._flat(self.input_features(v)))
        self.in_shift.copy_(mean)
        self.in_scale.copy_(std)
        if targets is not None:
            mean, std = stats(lambda v, t: self._raw_targets(v, t))
            self.out_shift.copy_(mean)
            self.out_scale.copy_(std)
        self.normalisation_points.fill_(values.shape[0])
        return self

    def _check_targets(self, values: torch.Tensor, targets) -> torch.Tensor:
        c_out = values.shape[-2] if self.channels == "shared" else self.out_channels
        if not isinstance(targets, torch.Tensor) or not targets.is_floating_point():
            raise TypeError(f"targets must be a floating torch.Tensor (P, {c_out})")
        if targets.shape != (values.shape[0], c_out):
            raise ValueError(f"targets must have shape ({values.shape[0]}, {c_out}) to match the jets "
                             f"{tuple(values.shape)}, got {tuple(targets.shape)}")
        return targets

    # ------------------------------------------------------------------ on fields
    def apply(self, field, *, jet_method: str = "auto", chunk_size: int = DEFAULT_JET_CHUNK,
              create_graph: bool | None = None):
        """The operator on a field: ``x -> Pi(jet of field at x)``, a lazy :class:`INSPNetField`.

        ``field`` must be a Field of dimension ``dim`` (and ``in_channels``
        channels, if set) that provides derivatives up to ``order``.  Passing
        a plain function instead keeps ``nn.Module.apply(fn)`` (apply ``fn``
        to every submodule) working.
        """
        if not isinstance(field, Field) and callable(field):
            return super().apply(field)
        return INSPNetField(field, self, jet_method=jet_method, chunk_size=chunk_size, create_graph=create_graph)


class INSPNetField(OperatorField):
    """``T f = Pi(f, grad f, ..., grad^K f)`` as a Field, evaluated lazily (see :meth:`INSPNet.apply`).

    Each evaluation computes the jet of the inner field at the points (in
    chunks of ``chunk_size``, by the engine's fastest exact path) and feeds it
    to the network.  ``create_graph=None`` follows ``torch.is_grad_enabled()``
    (sampling renders without a graph); ``True`` keeps the graph to the inner
    field's parameters, e.g. to fit an INR through the operator.

    Examples
    --------
    An untrained operator returns its output shift (0 here) plus ``f``
    when residual, so it is the identity:

    >>> import torch
    >>> from insp.learned import INSPNet, INSPNetField
    >>> from insp.testing import SinusoidSum
    >>> f = SinusoidSum([1.0], [[3.0, 1.0]], dtype=torch.float64)
    >>> g = INSPNet(order=2, residual=True, seed=0, dtype=torch.float64).apply(f)
    >>> isinstance(g, INSPNetField), g.out_features
    (True, 1)
    >>> bool(torch.allclose(g.sample((8, 8)), f.sample((8, 8))))
    True
    """

    def __init__(self, inner: Field, net: INSPNet, *, jet_method: str = "auto", chunk_size: int = DEFAULT_JET_CHUNK,
                 create_graph: bool | None = None):
        check_field(inner)
        if not isinstance(net, INSPNet):
            raise TypeError(f"net must be an INSPNet, got {type(net).__name__}")
        if inner.in_features != net.dim:
            raise ValueError(f"field has dimension {inner.in_features}, but this operator acts on {net.dim}-D fields")
        if net.in_channels is not None and inner.out_features != net.in_channels:
            raise ValueError(f"field has {inner.out_features} channels, but this operator was built for "
                             f"in_channels={net.in_channels}")
        try:
            check_order(inner, net.order)
        except ValueError as exc:
            raise ValueError(f"this operator reads derivatives up to order {net.order}: {exc}") from None
        c_out = inner.out_features if net.channels == "shared" else net.out_channels
        super().__init__(inner, c_out, jet_method=jet_method, chunk_size=chunk_size)
        self.net = net
        self.create_graph = create_graph
        limit = getattr(inner, "max_derivative_order", None)
        limit = None if limit is None else max(limit - net.order, 0)
        if net.activation == "relu":  # piecewise linear in the features: second derivatives vanish
            limit = 1 if limit is None else min(limit, 1)
        self.max_derivative_order = limit

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.check_points(x)
        values = jet(self.inner, x, order=self.net.order, jet_method=self.jet_method, chunk_size=self.chunk_size,
                     create_graph=self.create_graph).values
        return self.net(values)

    def extra_repr(self) -> str:
        return f"order={self.net.order}, features={self.net.features!r}, out_features={self.out_features}"


# --------------------------------------------------------------------------- files

def operator_header(net: INSPNet, metadata) -> dict:
    """The JSON header of an operator file (configuration, versions, metadata); the tensor table is added on write."""
    from .. import __version__

    if metadata is not None and not isinstance(metadata, dict):
        raise TypeError(f"metadata must be a dict or None, got {type(metadata).__name__}")
    params = list(net.parameters())
    return dict(
        format=_FORMAT, insp_version=__version__, torch_version=torch.__version__, operator="INSPNet",
        config=net.config(), feature_names=net.feature_names,
        normalisation=dict(in_shift=net.in_shift.tolist(), in_scale=net.in_scale.tolist(),
                           out_shift=net.out_shift.tolist(), out_scale=net.out_scale.tolist(),
                           points=int(net.normalisation_points),
                           meaning="z = (feature - in_shift) / in_scale; out = mlp(z) * out_scale + out_shift "
                                   "(+ f when residual)"),
        dtype=str(params[0].dtype).removeprefix("torch."), parameters=int(sum(p.numel() for p in params)),
        metadata=metadata if metadata is not None else {})


def save_operator(net: INSPNet, path, *, metadata: dict | None = None) -> Path:
    """Write a trained :class:`INSPNet` (weights, normalisation, configuration) to ``path``, atomically.

    ``metadata`` (JSON-serialisable) is free-form: the INR configuration the
    operator expects, the training task, data and command.  Read it with
    ``read_header(path, kind="insp-operator")``.  The file is the container
    of :mod:`insp.fields.io` (``.inspop`` by convention).

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from insp.fields.io import read_header
    >>> from insp.learned import INSPNet, save_operator
    >>> net = INSPNet(order=2, hidden_features=8, seed=0)
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = save_operator(net, Path(tmp) / "op.inspop", metadata={"task": "demo"})
    ...     header = read_header(path, kind="insp-operator")
    >>> path.name, header["metadata"], header["config"]["order"]
    ('op.inspop', {'task': 'demo'}, 2)
    """
    if not isinstance(net, INSPNet):
        raise TypeError(f"net must be an INSPNet, got {type(net).__name__}")
    return write_container(path, operator_header(net, metadata), net.state_dict())


def _build(header: dict, state: dict, name: str, device) -> INSPNet:
    try:
        config = dict(header["config"])
        dtype = getattr(torch, header["dtype"])
        if not isinstance(dtype, torch.dtype):
            raise TypeError(f"dtype {header['dtype']!r}")
    except (KeyError, TypeError, AttributeError) as exc:
        raise FileFormatError(f"{name} has an incomplete header: {exc!r}") from None
    try:
        net = INSPNet(**config, dtype=dtype)
        net.load_state_dict(state, strict=True)
    except (TypeError, ValueError, RuntimeError) as exc:
        raise FileFormatError(f"{name} does not hold a valid INSPNet: {exc}") from None
    return net if device is None else net.to(device)


def load_operator(path, *, device=None) -> INSPNet:
    """Read an operator written by :func:`save_operator` (bit-exact, eval mode).

    Raises :class:`~insp.fields.io.FileFormatError` for a foreign, truncated,
    corrupt or newer file, or a field file (``insp.load`` reads those).

    Examples
    --------
    >>> import tempfile, torch
    >>> from pathlib import Path
    >>> from insp.learned import INSPNet, load_operator, save_operator
    >>> net = INSPNet(order=2, hidden_features=8, seed=0)
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     back = load_operator(save_operator(net, Path(tmp) / "op.inspop"))
    >>> back.config() == net.config(), back.training
    (True, False)
    >>> all(torch.equal(a, b) for a, b in zip(net.state_dict().values(), back.state_dict().values()))   # bit-exact
    True
    """
    header, state = read_container(path, kind=_FORMAT)
    return _build(header, state, repr(str(path)), device).eval()
