"""Multi-indices of partial derivatives and the tables of truncated products.

Order of the derivative stack (fixed library-wide): graded by total order,
then lexicographically *descending* within an order.  For ``d = 2``,
``order = 2``::

    (0, 0)  (1, 0)  (0, 1)  (2, 0)  (1, 1)  (0, 2)
      f      dx      dy      dxx     dxy     dyy

Axis names: ``x, y, z`` are coordinates 0, 1, 2, i.e. array axes 0, 1, 2
("ij" order: for an image, ``x`` runs down the rows).
"""

from __future__ import annotations

import math
import re
from functools import lru_cache

__all__ = ["multi_indices", "partials_of_order", "num_partials", "num_partials_of_order", "index_of", "parse_name",
           "name_of", "AXIS_NAMES", "product_table", "multinomial", "laplacian_power"]

AXIS_NAMES = "xyz"


def _check(d: int, order: int) -> None:
    if isinstance(d, bool) or not isinstance(d, int) or d < 1:
        raise ValueError(f"dimension must be a positive integer, got {d!r}")
    if isinstance(order, bool) or not isinstance(order, int) or order < 0:
        raise ValueError(f"order must be a non-negative integer, got {order!r}")


@lru_cache(maxsize=None)
def _homogeneous(d: int, n: int) -> tuple[tuple[int, ...], ...]:
    """All multi-indices of total order ``n`` in ``d`` variables, descending lexicographic."""
    if d == 1:
        return ((n,),)
    out = []
    for first in range(n, -1, -1):
        out += [(first,) + rest for rest in _homogeneous(d - 1, n - first)]
    return tuple(out)


@lru_cache(maxsize=None)
def multi_indices(d: int, order: int) -> tuple[tuple[int, ...], ...]:
    """All multi-indices of total order ``<= order`` in the library's order.

    Examples
    --------
    >>> from insp.jet import multi_indices
    >>> multi_indices(2, 2)                  # f, dx, dy, dxx, dxy, dyy
    ((0, 0), (1, 0), (0, 1), (2, 0), (1, 1), (0, 2))
    >>> multi_indices(3, 1)
    ((0, 0, 0), (1, 0, 0), (0, 1, 0), (0, 0, 1))
    """
    _check(d, order)
    return tuple(a for n in range(order + 1) for a in _homogeneous(d, n))


def partials_of_order(d: int, n: int) -> tuple[tuple[int, ...], ...]:
    """The multi-indices of total order exactly ``n``, in the library's order.

    Examples
    --------
    >>> partials_of_order(2, 2)
    ((2, 0), (1, 1), (0, 2))
    """
    _check(d, n)
    return _homogeneous(d, n)


def multinomial(alpha) -> int:
    """``|alpha|! / prod_k alpha_k!``: how many orderings of the derivatives give ``d^alpha``."""
    return math.factorial(sum(alpha)) // math.prod(math.factorial(a) for a in alpha)


@lru_cache(maxsize=None)
def laplacian_power(d: int, power: int) -> dict[tuple[int, ...], int]:
    """``lap^power`` as partials: ``{alpha: c_alpha}`` with ``lap^p = sum_alpha c_alpha d^alpha``.

    ``(sum_k d_k^2)^p = sum_{|beta| = p} p! / beta! d^{2 beta}`` (the
    multinomial theorem).  The one place this expansion is written; the jet,
    the operators, the heat series and the invariant features read it.

    Examples
    --------
    >>> laplacian_power(2, 2)   # dxxxx + 2 dxxyy + dyyyy
    {(4, 0): 1, (2, 2): 2, (0, 4): 1}
    """
    _check(d, power)
    return {tuple(2 * b for b in beta): multinomial(beta) for beta in _homogeneous(d, power)}


def num_partials(d: int, order: int) -> int:
    """``M = C(order + d, d)``, the number of partials up to ``order``.

    Examples
    --------
    >>> from insp.jet import multi_indices, num_partials
    >>> num_partials(2, 4), num_partials(3, 2)           # C(6, 2), C(5, 3)
    (15, 10)
    >>> num_partials(2, 4) == len(multi_indices(2, 4))
    True
    """
    _check(d, order)
    return math.comb(order + d, d)


def num_partials_of_order(d: int, order: int) -> int:
    """``C(order + d - 1, d - 1)``, the number of partials of total order exactly ``order``."""
    _check(d, order)
    return math.comb(order + d - 1, d - 1)


@lru_cache(maxsize=None)
def _positions(d: int, order: int) -> dict[tuple[int, ...], int]:
    return {a: i for i, a in enumerate(multi_indices(d, order))}


def index_of(alpha, d: int, order: int) -> int:
    """Position of multi-index ``alpha`` in the stack of ``(d, order)``.

    Examples
    --------
    >>> from insp.jet import index_of
    >>> index_of((1, 1), 2, 2)                           # f, dx, dy, dxx, [dxy], dyy
    4
    >>> index_of((0, 0, 1), 3, 4)                        # dz: after f, dx, dy
    3
    """
    alpha = tuple(int(a) for a in alpha)
    if len(alpha) != d or any(a < 0 for a in alpha):
        raise ValueError(f"multi-index must have {d} non-negative entries, got {alpha}")
    if sum(alpha) > order:
        raise ValueError(f"multi-index {alpha} has order {sum(alpha)} > jet order {order}")
    return _positions(d, order)[alpha]


_NAME = re.compile(r"^d([xyz]+)$")


def parse_name(name: str, d: int) -> tuple[int, ...]:
    """``"dxy"`` -> ``(1, 1)``; ``"f"`` (or ``""``) -> the zero multi-index.

    Examples
    --------
    >>> from insp.jet import parse_name
    >>> parse_name("dxy", 2), parse_name("dzz", 3), parse_name("f", 2)
    ((1, 1), (0, 0, 2), (0, 0))
    >>> parse_name("dz", 2)
    Traceback (most recent call last):
        ...
    ValueError: unknown derivative name 'dz': expected 'f' or 'd' followed by axis letters from 'xy', e.g. 'dx', 'dxy'
    """
    if name in ("f", ""):
        return (0,) * d
    m = _NAME.match(name)
    if not m or any(AXIS_NAMES.index(c) >= d for c in m.group(1)):
        raise ValueError(f"unknown derivative name {name!r}: expected 'f' or 'd' followed by "
                         f"axis letters from {AXIS_NAMES[:d]!r}, e.g. 'dx', 'dxy'")
    alpha = [0] * d
    for c in m.group(1):
        alpha[AXIS_NAMES.index(c)] += 1
    return tuple(alpha)


def name_of(alpha) -> str:
    """``(1, 1)`` -> ``"dxy"``; zero multi-index -> ``"f"``; beyond 3-D, ``"d(a0,a1,...)"``.

    Examples
    --------
    >>> from insp.jet import name_of, parse_name
    >>> name_of((1, 1)), name_of((0, 0, 2)), name_of((0, 0)), name_of((1, 0, 0, 2))
    ('dxy', 'dzz', 'f', 'd(1,0,0,2)')
    >>> parse_name(name_of((2, 1)), 2)                   # the inverse, up to 3-D
    (2, 1)
    """
    if sum(alpha) == 0:
        return "f"
    if len(alpha) > len(AXIS_NAMES):
        return "d(" + ",".join(map(str, alpha)) + ")"
    return "d" + "".join(AXIS_NAMES[k] * a for k, a in enumerate(alpha))


@lru_cache(maxsize=None)
def product_table(d: int, order: int, min_a: int = 0, min_b: int = 0):
    """Index pairs of the truncated product of two Taylor polynomials.

    Returns ``{l: [(i, j), ...]}``: coefficient ``l`` of ``A * B`` (truncated at
    ``order``) is ``sum A[i] * B[j]`` over the pairs, where ``alpha_i +
    alpha_j = alpha_l``; only factors of order ``>= min_a`` (resp. ``min_b``)
    are listed, which skips the known zeros of powers of a polynomial
    without constant term.
    """
    idx = multi_indices(d, order)
    pos = _positions(d, order)
    table: dict[int, list[tuple[int, int]]] = {}
    for i, a in enumerate(idx):
        if sum(a) < min_a:
            continue
        for j, b in enumerate(idx):
            if sum(b) < min_b or sum(a) + sum(b) > order:
                continue
            l = pos[tuple(x + y for x, y in zip(a, b))]
            table.setdefault(l, []).append((i, j))
    return table
