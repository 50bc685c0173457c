"""Hostile use, class 5: inputs are honoured or refused, never silently reinterpreted."""

import warnings

import numpy as np
import pytest
import torch

import insp


def _smooth(n=12, seed=0):
    y, x = np.mgrid[0:n, 0:n] / n
    return 0.5 + 0.3 * np.sin(3 * x + 2 * y + seed)


def test_masked_array_mask_is_honoured_as_unknown_samples():
    img = _smooth()
    hidden = np.zeros_like(img, dtype=bool)
    hidden[3:6, 4:8] = True
    wild = img.copy()
    wild[hidden] = 1e3  # the masked values: fitting them would ruin the field
    f_ma, _ = insp.fit(np.ma.masked_array(wild, mask=hidden), steps=40, seed=0, progress=False)
    f_known, _ = insp.fit(img, known=~hidden, steps=40, seed=0, progress=False)
    assert torch.equal(f_ma.sample((12, 12)), f_known.sample((12, 12)))


def test_masked_array_combines_with_known():
    img = _smooth()
    hidden = np.zeros_like(img, dtype=bool)
    hidden[0, :] = True
    known = np.ones_like(img, dtype=bool)
    known[:, 0] = False
    a, _ = insp.fit(np.ma.masked_array(img, mask=hidden), known=known, steps=10, seed=0, progress=False)
    b, _ = insp.fit(img, known=known & ~hidden, steps=10, seed=0, progress=False)
    assert torch.equal(a.sample((5, 5)), b.sample((5, 5)))


def test_masked_members_of_fit_many_are_honoured():
    imgs = [_smooth(seed=s) for s in range(2)]
    hidden = np.zeros((12, 12), dtype=bool)
    hidden[5:9, 2:4] = True
    wild = [i.copy() for i in imgs]
    wild[1][hidden] = -50.0
    fs_ma, _ = insp.fit_many([imgs[0], np.ma.masked_array(wild[1], mask=hidden)], steps=20, seed=0,
                             progress=False)
    fs_k, _ = insp.fit_many(imgs, known=np.stack([np.ones_like(hidden), ~hidden]), steps=20, seed=0,
                            progress=False)
    for a, b in zip(fs_ma, fs_k):
        assert torch.allclose(a.sample((6, 6)), b.sample((6, 6)), atol=1e-6)


def test_a_fit_that_makes_things_worse_warns():
    with pytest.warns(RuntimeWarning, match="below where it started"):
        insp.fit(_smooth(), steps=30, lr=3.0, seed=0, progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        insp.fit(_smooth(), steps=30, seed=0, progress=False)  # a normal fit stays quiet


def test_a_diverging_model_keeps_finite_weights():
    from insp.fields import Siren

    model = Siren(2, 1, hidden_features=16, hidden_layers=1, seed=0)
    with pytest.raises(FloatingPointError, match="last with a finite loss"):
        insp.fit(_smooth(), model=model, steps=200, lr=1e12, seed=0, progress=False)
    assert all(torch.isfinite(p).all() for p in model.parameters())
    assert torch.isfinite(model.sample((4, 4))).all()


def test_fit_for_operator_refuses_eight_bit_values():
    from insp.learned import fit_for_operator

    img = (_smooth(16) * 255).round()
    with pytest.raises(ValueError, match=r"\[0, 1\].*divide an 8-bit image by 255"):
        fit_for_operator("denoise", img, steps=1, progress=False)


def test_values_beyond_float32_are_named_as_such():
    img = _smooth()
    img[0, 0] = 1e39
    with pytest.raises(ValueError, match="beyond what torch.float32 holds"):
        insp.fit(img, steps=1, progress=False)
