"""The seeded Poisson-blending cases of benchmarks/poisson_cases.py and the benchmark's scoring (issue 22)."""

import numpy as np
import pytest

from benchmarks import poisson as bench
from benchmarks import poisson_cases as pc
from insp.baselines import poisson as bp


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_cases_are_a_function_of_the_seed():
    a, b, c = pc.draw_case(5, sizes=(64,)), pc.draw_case(5, sizes=(64,)), pc.draw_case(6, sizes=(64,))
    assert a.name == b.name and np.array_equal(a.mask, b.mask) and np.array_equal(a.source, b.source)
    assert not (a.name == c.name and np.array_equal(a.mask, c.mask))


def test_drawn_cases_are_valid_blending_problems_and_cover_the_space():
    cases = pc.draw_cases(40, sizes=(64, 96))
    for case in cases:
        assert case.mask.shape == case.source.shape[:2] and case.target.shape[:2] == (case.size, case.size)
        assert case.region().any() and 0 < case.tags["coverage"] <= 0.65
        assert 0 <= case.mask.min() and case.mask.max() <= 1
        bp.region_in_target(case.support(), case.target.shape, offset=case.offset)  # raises if it does not fit
    seen = {c.kind for c in cases}, {c.mode for c in cases}, {c.channels for c in cases}
    assert seen == (set(pc.MASK_KINDS), set(pc.MODES), {1, 3})
    tags = [c.tags for c in cases]
    for key in ("border", "holes", "soft"):
        assert any(t[key] for t in tags) and not all(t[key] for t in tags), key
    assert any(c.offset != (0, 0) for c in cases) and any(t["components"] > 1 for t in tags)


def test_issue_cases_and_the_mechanism_score_them_exactly():
    cases = pc.issue_cases()
    assert [c.kind for c in cases] == ["rectangle 64x60", "ellipse at the border", "two blobs"]
    rect = cases[0].mask
    ii, jj = np.nonzero(rect)
    assert (np.ptp(ii) + 1, np.ptp(jj) + 1) == (64, 60) and not rect[0].any() and cases[1].mask[0].any()
    for case in (cases[2], pc.draw_case(3, sizes=(64,)), pc.draw_case(8, sizes=(64,))):
        row, got, ref = bench.mechanism_case(case)
        assert row["psnr_region"] > 200 and row["psnr_image"] > 200, row  # exact fields: float64 rounding only
        assert got.shape == ref.shape == case.target.shape
