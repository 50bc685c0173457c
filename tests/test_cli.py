"""The `insp` command line and the demo (quick mode)."""

import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from insp.cli import build_parser, main
from insp.fields.io import load, read_header


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    d = tmp_path_factory.mktemp("img")
    y, x = np.mgrid[0:16, 0:20] / 20.0
    gray = (np.sin(3 * x + 2 * y) * 0.5 + 0.5) * 255
    rgb = np.stack([gray, gray[::-1], 255 - gray], axis=-1)
    Image.fromarray(gray.astype(np.uint8)).save(d / "gray.png")
    Image.fromarray(rgb.astype(np.uint8)).save(d / "rgb.png")
    Image.fromarray(np.dstack([rgb, np.full((16, 20), 255)]).astype(np.uint8), "RGBA").save(d / "rgba.png")
    return d


def test_fit_render_info_gray(images, tmp_path, capsys):
    f = tmp_path / "g.inspf"
    assert main(["fit", str(images / "gray.png"), "-o", str(f), "--steps", "30", "--seed", "1", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "PSNR" in out and "20x16" in out and "gray" in out
    field = load(f)
    assert (field.in_features, field.out_features) == (2, 1)
    h = read_header(f)
    assert h["metadata"]["shape"] == [16, 20] and h["metadata"]["fit"]["steps"] == 30

    png = tmp_path / "big.png"
    assert main(["render", str(f), "--size", "48", "60", "-o", str(png)]) == 0
    with Image.open(png) as im:
        assert im.size == (60, 48) and im.mode == "L"
    # default size: the fitted image's
    assert main(["render", str(f), "-o", str(tmp_path / "same.png"), "--chunk-size", "7"]) == 0
    with Image.open(tmp_path / "same.png") as im:
        assert im.size == (20, 16)
        rendered = np.asarray(im, dtype=np.float64)
    with Image.open(images / "gray.png") as im:
        original = np.asarray(im, dtype=np.float64)
    assert np.abs(rendered - original).mean() < 20  # a rough fit after 30 steps, but the same picture

    capsys.readouterr()
    assert main(["info", str(f)]) == 0
    info = capsys.readouterr().out
    assert "siren" in info and "sitzmann2020" in info and "omega_0=30.0" in info and "gray.png" in info
    assert main(["info", str(f), "--json"]) == 0
    header = json.loads(capsys.readouterr().out)
    assert header["architecture"] == "siren" and header["tensors"] > 0


@pytest.mark.parametrize("name", ["rgb.png", "rgba.png"])
def test_fit_and_render_rgb(images, tmp_path, name):
    f = tmp_path / "c.inspf"
    assert main(["fit", str(images / name), "-o", str(f), "--steps", "5", "--quiet"]) == 0
    assert load(f).out_features == 3
    assert main(["render", str(f), "--size", "8", "9", "-o", str(tmp_path / "c.png")]) == 0
    with Image.open(tmp_path / "c.png") as im:
        assert im.mode == "RGB" and im.size == (9, 8)


def test_errors_are_one_line_and_nonzero(images, tmp_path, capsys):
    assert main(["fit", str(tmp_path / "missing.png"), "-o", str(tmp_path / "x.inspf")]) == 1
    assert "error" in capsys.readouterr().err
    foreign = tmp_path / "foreign.inspf"
    foreign.write_bytes(b"not a field")
    assert main(["render", str(foreign), "--size", "4", "4", "-o", str(tmp_path / "x.png")]) == 1
    assert "not an insp field file" in capsys.readouterr().err
    assert main(["info", str(foreign)]) == 1
    text = tmp_path / "text.png"
    text.write_text("hello")
    assert main(["fit", str(text), "-o", str(tmp_path / "x.inspf")]) == 1
    assert "not an image" in capsys.readouterr().err
    assert not (tmp_path / "x.inspf").exists()


@pytest.mark.parametrize("argv", [[], ["fit"], ["fit", "a.png"], ["render", "f", "--size", "0", "4", "-o", "x"],
                                  ["fit", "a.png", "-o", "f", "--steps", "-3"], ["nope"]])
def test_bad_arguments_exit_with_usage(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    assert "usage" in capsys.readouterr().err


def test_help_and_module_entry_point():
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    assert {"fit", "render", "info", "demo"} <= set(build_parser()._subparsers._group_actions[0].choices)
    r = subprocess.run([sys.executable, "-m", "insp.cli", "--help"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "render" in r.stdout


def test_demo_quick(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--quick", "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "PSNR (dB)" in printed and "| fit |" in printed
    for name in ("camera_input.png", "camera_fit.png", "camera_fit_4x.png", "camera.inspf", "metrics.md",
                 "metrics.json"):
        assert (out / name).is_file(), name
    with Image.open(out / "camera_fit_4x.png") as im:
        assert im.size == (128, 128)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["failed"] == [] and metrics["run"]["quick"] is True
    sections = {r["section"] for r in metrics["rows"]}
    assert {"fit", "reconstruction", "file"} <= sections
    fit_row = next(r for r in metrics["rows"] if r["section"] == "fit")
    assert fit_row["psnr_db"] > 15
    blend = {r["item"].split(" ")[0]: r for r in metrics["rows"] if r["section"] == "poisson"}
    assert (out / "poisson_inr.png").is_file() and (out / "poisson_seamlessclone.png").is_file()
    assert blend["INR"]["psnr_db"] > 25  # vs the sparse Poisson solution of the same fields; 32.6 dB measured
    assert blend["INR"]["seam"] < 0.5 * blend["cut"]["seam"]
    # the audio section: a picture, clips to listen to, and SI-SDR rows for the noisy input and each method
    audio = {r["item"]: r for r in metrics["rows"] if r["section"] == "audio"}
    assert {"noisy (10 dB)", "INR of the noisy clip", "insp denoiser", "Wiener (size 5)"} == set(audio)
    assert abs(audio["noisy (10 dB)"]["si_sdr_db"] - 10.0) < 0.5
    assert audio["insp denoiser"]["si_sdr_db"] > audio["noisy (10 dB)"]["si_sdr_db"] + 1.0
    for name in ("audio_denoise.png", "audio_clean.wav", "audio_noisy.wav", "audio_inr.wav",
                 "audio_insp_denoiser.wav", "audio_wiener.wav"):
        assert (out / name).is_file(), name
    # the shapes section: a picture, the meshes, Chamfer and normal-consistency rows against the clean torus
    shapes = {r["item"].split(" (")[0].split(",")[0]: r for r in metrics["rows"] if r["section"] == "shapes"}
    assert {"noisy mesh", "INR of the noisy mesh", "insp learned smoother", "Taubin"} == set(shapes)
    assert all(0 < r["chamfer_per_diag"] < 0.05 and 0 < r["normal_consistency"] <= 1 for r in shapes.values())
    assert shapes["Taubin"]["normal_consistency"] > shapes["noisy mesh"]["normal_consistency"]
    for name in ("shapes_smooth.png", "shape_noisy.ply", "shape_inr.ply", "shape_learned.ply", "shape_taubin.ply"):
        assert (out / name).is_file(), name


def test_demo_sections_are_independent(tmp_path, capsys):
    from insp.demo import SECTIONS, Section, run_demo

    ran = []

    def broken(ctx):
        raise RuntimeError("section exploded")

    def after(ctx):
        ran.append(ctx.field is not None)
        ctx.table.add("after", "still runs", psnr=1.0, extra_col="x")

    secs = [SECTIONS[0], Section("broken", broken), Section("after", after)]
    assert run_demo(tmp_path, quick=True, progress=False, sections=secs) == 1
    assert ran == [True]
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["failed"] == ["broken"]
    md = (tmp_path / "metrics.md").read_text()
    assert "section exploded" in md and "extra_col" in md
