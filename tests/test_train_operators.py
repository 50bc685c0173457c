"""``python -m benchmarks.train_operators --loo``: each candidate is trained without the image it is scored on."""

from types import SimpleNamespace

import numpy as np
import pytest

from benchmarks import train_operators as MOD

SIZE, FIT_STEPS = 12, 10
TRAIN = dict(MOD.TRAIN, steps=5, batch_size=64)


def _args(images):
    return SimpleNamespace(images=list(images), quick=True, quiet=True)


def test_leave_one_out_scores_each_image_with_a_net_trained_on_the_others(tmp_path):
    images = ["brick", "rocket", "moon"]
    res = MOD.leave_one_out(_args(images), ["denoise"], SIZE, FIT_STEPS, tmp_path, TRAIN)["denoise"]
    assert set(res) == set(MOD.LOO_CANDIDATES)
    for row in res.values():
        assert list(row["gain_over_inr"]) == images
        assert row["mean"] == pytest.approx(np.mean(list(row["gain_over_inr"].values())))
    # redo one fold by hand: train on brick + moon (cached fits), score rocket against its own INR
    cand = "partials K=2 residual, linear"
    config = {**MOD.NET, **MOD.LOO_CANDIDATES[cand]}
    m = MOD.partials(config["order"])
    kw = dict(size=SIZE, fit_steps=FIT_STEPS, cache=tmp_path, order=4, progress=False)
    vals, targs, _ = MOD.tensors("denoise", ["brick", "moon"], **kw)
    hv, ht, _ = MOD.tensors("denoise", ["rocket"], **kw)
    net, _ = MOD.train_one("denoise", vals[..., :m], targs, config=config, train=TRAIN, progress=False)
    gain = MOD._psnr(MOD._apply(net, hv[..., :m]), ht) - MOD._psnr(hv[:, :, 0], ht)
    assert res[cand]["gain_over_inr"]["rocket"] == pytest.approx(gain, abs=1e-6)


def test_partials_counts_the_2d_jet():
    assert [MOD.partials(k) for k in (0, 1, 2, 4, 6)] == [1, 3, 6, 15, 28]


def test_leave_one_out_needs_two_images(tmp_path):
    with pytest.raises(ValueError, match="at least two"):
        MOD.leave_one_out(_args(["brick"]), ["denoise"], SIZE, FIT_STEPS, tmp_path, TRAIN)
