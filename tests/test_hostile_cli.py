"""Hostile use, class 4: every user error of the command line is one line on stderr and a non-zero status;
nothing is lost (the output is checked before a fit; the demo does not overwrite a user's folder)."""

import json

import numpy as np
import pytest

from insp.cli import main
from insp.fields.io import save
from tests.hostile import image_file, small_field, with_header_and_digest


def _one_line_error(capsys, command):
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"insp {command}: error:") and "\n" not in err and "Traceback" not in err, err
    return err


def test_divergent_learning_rate_is_one_line(tmp_path, capsys):
    img = image_file(tmp_path / "a.png")
    status = main(["fit", str(img), "-o", str(tmp_path / "a.inspf"), "--lr", "1e6", "--steps", "40", "--quiet"])
    err = capsys.readouterr().err
    if status == 0:  # the loop restored the last finite weights and warned instead of failing
        assert (tmp_path / "a.inspf").exists()
    else:
        assert status == 1 and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_allocation_failure_is_one_line(tmp_path, capsys, monkeypatch):
    img = image_file(tmp_path / "a.png")

    def oom(*a, **k):
        raise RuntimeError("[enforce fail at alloc_cpu.cpp:117] DefaultCPUAllocator: can't allocate memory: you "
                           "tried to allocate 42949672960 bytes")

    monkeypatch.setattr("insp.fields.fitting.fit", oom)
    assert main(["fit", str(img), "-o", str(tmp_path / "a.inspf"), "--quiet"]) == 1
    assert "not enough memory" in _one_line_error(capsys, "fit")


def test_bugs_keep_their_traceback(tmp_path, monkeypatch):
    img = image_file(tmp_path / "a.png")
    monkeypatch.setattr("insp.fields.fitting.fit", lambda *a, **k: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        main(["fit", str(img), "-o", str(tmp_path / "a.inspf"), "--quiet"])


@pytest.mark.parametrize("edit", [
    lambda h: h["config"].update(hidden_layers="two"),
    lambda h: h.update(domain=5),
    lambda h: h.update(config=[1, 2]),
    lambda h: h.update(architecture=None),
    lambda h: h.update(tensors="none"),
    lambda h: h.update(provenance=[1, 2]),
    lambda h: h.update(metadata=[1, 2]),
    lambda h: h.pop("dtype"),
])
def test_headers_with_unexpected_types_are_one_line_errors(tmp_path, capsys, edit):
    good = save(small_field(), tmp_path / "g.inspf")
    bad = tmp_path / "bad.inspf"
    bad.write_bytes(with_header_and_digest(good.read_bytes(), edit))
    for command in (["info", str(bad)], ["render", str(bad), "--size", "4", "4", "-o", str(tmp_path / "x.png")]):
        assert main(command) == 1
        _one_line_error(capsys, command[0])


@pytest.mark.parametrize("cut", [1, 40, 300])
def test_info_exits_nonzero_on_truncated_files(tmp_path, capsys, cut):
    good = save(small_field(), tmp_path / "g.inspf")
    bad = tmp_path / "cut.inspf"
    bad.write_bytes(good.read_bytes()[:-cut])
    assert main(["info", str(bad)]) == 1
    assert "truncated" in _one_line_error(capsys, "info")


def test_info_says_what_it_verified(tmp_path, capsys):
    good = save(small_field(), tmp_path / "g.inspf")
    assert main(["info", str(good)]) == 0
    assert "checksum ok (header and payload)" in capsys.readouterr().out


def test_fit_checks_the_output_before_fitting(tmp_path, capsys, monkeypatch):
    img = image_file(tmp_path / "a.png")
    monkeypatch.setattr("insp.fields.fitting.fit", lambda *a, **k: pytest.fail("fitted before checking -o"))
    assert main(["fit", str(img), "-o", str(tmp_path / "missing" / "dir" / "x.inspf")]) == 1
    assert "does not exist" in _one_line_error(capsys, "fit")


@pytest.mark.parametrize("seed", ["2**70", str(2**70), "-1", "1.5"])
def test_seed_out_of_range_is_a_usage_error(tmp_path, seed, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["fit", "a.png", "-o", str(tmp_path / "x.inspf"), "--seed", seed])
    assert exc.value.code == 2 and "seed" in capsys.readouterr().err


def test_demo_refuses_a_folder_of_user_files(tmp_path, capsys):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "camera_fit.png").write_bytes(b"my own picture")
    assert main(["demo", "--out", str(mine), "--quick", "--quiet"]) == 1
    assert "--force" in _one_line_error(capsys, "demo")
    assert (mine / "camera_fit.png").read_bytes() == b"my own picture"


def test_demo_may_rewrite_its_own_output(tmp_path):
    from insp.demo import MARKER, check_output_dir

    out = tmp_path / "demo"
    out.mkdir()
    (out / MARKER).write_text(json.dumps({"demo": "insp", "rows": []}))
    (out / "camera_fit.png").write_bytes(b"old")
    assert check_output_dir(out) == out
    (out / MARKER).write_text("[]")  # not a demo's marker
    with pytest.raises(FileExistsError):
        check_output_dir(out)
    assert check_output_dir(out, force=True) == out


def test_demo_skips_a_missing_optional_baseline(tmp_path, monkeypatch):
    from insp.baselines import poisson as bp
    from insp.demo import SECTIONS, run_demo

    def missing(*a, **k):
        raise ImportError("No module named 'cv2'")

    monkeypatch.setattr(bp, "seamless_clone", missing)
    sections = [s for s in SECTIONS if s.name == "poisson"]
    assert run_demo(tmp_path / "d", quick=True, progress=False, sections=sections) == 0
    rows = json.loads((tmp_path / "d" / "metrics.json").read_text())["rows"]
    cv = next(r for r in rows if r["item"].startswith("OpenCV"))
    assert cv["notes"].startswith("skipped:") and "cv2" in cv["notes"]
    assert not np.isfinite(cv.get("psnr_db") or np.nan)
