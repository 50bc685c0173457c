"""Hostile use, class 6: orders and sizes that would blow up late are refused up front."""

import time

import pytest
import torch

from insp.fields import Domain
from insp.jet import jet
from insp.jet.engine import MAX_ORDER
from insp.ops import gaussian_blur
from insp.testing.analytic import Polynomial
from tests.hostile import small_field


@pytest.mark.parametrize("order", [MAX_ORDER + 1, 50, 10**6])
def test_orders_above_the_limit_are_refused_before_any_work(order):
    field = small_field()
    t = time.perf_counter()
    with pytest.raises(ValueError, match=f"at most {MAX_ORDER}"):
        jet(field, torch.zeros(1, 2), order=order)
    assert time.perf_counter() - t < 0.5  # order 50 took 32 s and 2.3 GB before the OverflowError


def test_the_highest_order_is_exact_on_a_polynomial():
    p = Polynomial({(MAX_ORDER,): 1.0}, dtype=torch.float64)  # x**20: its 20th derivative is 20!
    j = jet(p, torch.tensor([[0.3]], dtype=torch.float64), order=MAX_ORDER)
    assert float(j.values[0, 0, -1]) == pytest.approx(2432902008176640000.0, rel=1e-12)


@pytest.mark.parametrize("sigma", [1e3, 2.5])
def test_blur_wider_than_the_domain_is_refused(sigma):
    with pytest.raises(ValueError, match="wider than the field's domain"):
        gaussian_blur(small_field(), sigma=sigma)


def test_blur_width_is_judged_against_the_actual_domain():
    from insp.fields import Siren

    wide = Siren(2, 1, hidden_features=8, hidden_layers=1, domain=Domain(((0, 100), (0, 100))), seed=0)
    gaussian_blur(wide, sigma=2.5)  # fine on a domain 100 units wide
