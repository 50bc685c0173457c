"""Smoke test of ``python -m benchmarks.operators --quick``: it runs, and writes its JSON and figures."""

import json

from benchmarks import operators as mod


def test_quick_run_writes_results(tmp_path):
    assert mod.main(["--quick", "--out", str(tmp_path), "--threads", "1"]) == 0
    res = json.loads((tmp_path / "operators_quick.json").read_text())
    assert set(res) >= {"run", "derivatives", "edges", "blur", "cost"}
    assert res["run"]["quick"] is True and res["run"]["seed"] == 0
    for field in res["derivatives"].values():
        assert {"INR (autodiff)", "FD central O(h^2)"} <= set(field["contenders"])
    assert "_verdict" in res["edges"]["mean"]
    assert 0.0 <= res["blur"]["mean"]["1.0"]["series_flagged_fraction"] <= 1.0
    assert res["cost"]["rows"]["gradient"]["forward_passes"] > 0
    assert (tmp_path / "edges_camera.png").exists() and (tmp_path / "blur_camera.png").exists()
    assert list((tmp_path / "cache").glob("*.inspf"))  # fitted fields are cached


def test_area_points_are_registered():
    """A 512 sample j lies at 128-pixel index (j + 0.5) / 4 - 0.5 (skimage.resize is area-aligned)."""
    x = mod.area_points(4, 8).reshape(8, 8, 2)[:, 0, 0].double()
    idx = (x + 1) * 3 / 2  # back to 4-grid indices
    expected = [(j + 0.5) / 2 - 0.5 for j in range(8)]
    assert [round(v, 6) for v in idx.tolist()] == [round(v, 6) for v in expected]
