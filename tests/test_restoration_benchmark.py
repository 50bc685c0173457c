"""``python -m benchmarks.restoration``: the protocol runs on tiny images, uses the cache, scores every contender."""

import math

import numpy as np

from benchmarks import restoration as mod
from insp import data
from insp.metrics import psnr
from insp.tasks import TASKS, get_task, image_seed


def test_evaluate_cached_only_then_after_build(tmp_path):
    kw = dict(size=24, steps=2, cache_dir=tmp_path, progress=False)
    res = mod.evaluate(["camera"], list(TASKS), inr="cached", **kw)
    assert set(res) == set(TASKS)
    for t, r in res.items():
        rows = r["rows"]
        assert rows["INR fitted to the input"]["n"] == 0  # nothing cached, nothing fitted
        assert rows["input (degraded, as is)"]["n"] == 1
        # rows that need an INR (the degraded INR, filters of its samples, learned operators) have none
        assert all(row["n"] == (0 if "INR" in name else 1) for name, row in rows.items())
        d = get_task(t).degrade(data.gray("camera", 24), seed=image_seed("camera"))
        assert math.isclose(rows["input (degraded, as is)"]["psnr_mean"], psnr(d.input, d.target))
    assert math.isinf(res["blur"]["rows"]["gaussian_filter of the pixels (= target)"]["psnr_mean"])
    assert "Wiener (reflect pad)" in res["deblur"]["rows"] and "BM3D (sigma known)" in res["denoise"]["rows"]
    assert not list(tmp_path.iterdir())
    assert res["denoise"]["rows"]["input (degraded, as is)"]["gain_mean"] == 0
    table = mod.markdown(res)
    assert "| biharmonic |" in table and "| INR fitted to the input | — | — | — | — | 0 |" in table

    recs = mod.build(["camera"], ["inpaint"], order=1, **kw)
    assert [(r["task"], r["protocol"], r["from_cache"]) for r in recs] == [("inpaint", "degraded", False),
                                                                         ("inpaint", "known", False)]
    res = mod.evaluate(["camera"], ["inpaint"], inr="cached", **kw)
    rows = res["inpaint"]["rows"]
    assert rows["INR fitted to the input"]["n"] == rows["INR fitted to known pixels only"]["n"] == 1
    assert np.isfinite(rows["INR fitted to known pixels only"]["psnr_mean"])
    assert mod.build(["camera"], ["inpaint"], order=1, **kw)[0]["from_cache"]
    assert mod.jobs(["camera", "coins"], ["deblur", "text"]) == [
        ("camera", "deblur", "degraded"), ("coins", "deblur", "degraded"), ("camera", "text", "degraded"),
        ("coins", "text", "degraded"), ("camera", "text", "known"), ("coins", "text", "known")]


def test_a_run_of_some_tasks_keeps_the_other_tables(tmp_path):
    path = tmp_path / "restoration.json"
    old = dict(meta=dict(date="then"), tasks=dict(denoise="D0", deblur="B0"))  # the layout before per-task runs
    path.write_text(__import__("json").dumps(old))
    doc = mod.merge_results(path, dict(deblur="B1"), dict(date="now"))
    assert doc["tasks"] == dict(denoise="D0", deblur="B1")
    assert doc["runs"] == dict(denoise=dict(date="then"), deblur=dict(date="now"))
    assert mod.merge_results(tmp_path / "absent.json", dict(blur="X"), dict(date="now")) == dict(
        tasks=dict(blur="X"), runs=dict(blur=dict(date="now")))
