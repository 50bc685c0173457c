"""Test configuration: deterministic hypothesis runs, float64 checks on CPU."""

import os

import pytest
import torch
from hypothesis import settings

# Derandomised: the same examples on every run and machine; no deadline
# because timings on a shared 2-core runner vary.
settings.register_profile("insp", derandomize=True, deadline=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "insp"))

torch.set_num_threads(min(2, torch.get_num_threads()))


def _one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture
def one_torch_thread():
    """Tiny problems: one torch thread avoids OpenMP oversubscription on the shared 2-core runner."""
    yield from _one_thread()


@pytest.fixture(scope="module")
def one_torch_thread_module():
    """As ``one_torch_thread``, for a module whose module-scoped fixtures fit networks."""
    yield from _one_thread()
