"""The derivative engine: every partial derivative of a field up to order K.

See :func:`jet` for the three paths (Taylor mode, torch.func, nested autograd)
and :mod:`insp.jet.indices` for the order of the derivative stack.
"""

from .engine import JET_METHODS, Jet, gradient_at, jet, laplacian_at
from .indices import index_of, multi_indices, name_of, num_partials, parse_name
from .taylor import register_taylor_rule

__all__ = ["JET_METHODS", "Jet", "jet", "gradient_at", "laplacian_at", "index_of", "multi_indices", "name_of",
           "num_partials", "parse_name", "register_taylor_rule"]
