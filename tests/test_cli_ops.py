"""`insp apply / restore / edges / blend`: each writes its output, reports in one line, fails in one line."""

import numpy as np
import pytest
from PIL import Image

from insp.cli import main
from insp.fields.io import load
from insp.imageio import read_image, write_image


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("ops")
    y, x = np.mgrid[0:24, 0:24] / 24.0
    write_image(d / "a.png", (np.clip(0.5 + 0.4 * np.sin(5 * x + 3 * y), 0, 1) * 255).astype(np.uint8))
    write_image(d / "b.png", (np.clip(0.5 + 0.3 * np.cos(4 * x - 2 * y), 0, 1) * 255).astype(np.uint8))
    m = np.zeros((24, 24), np.uint8)
    m[6:18, 8:16] = 255
    write_image(d / "m.png", m)
    assert main(["fit", str(d / "a.png"), "-o", str(d / "a.inspf"), "--steps", "60", "--quiet"]) == 0
    return d


@pytest.mark.parametrize("argv", [["laplacian"], ["gradient-magnitude"], ["gaussian-blur", "--sigma-px", "1.5"],
                                  ["sharpen", "--amount", "0.5"]])
def test_apply_closed_form_operators_to_images(files, tmp_path, argv, capsys):
    out = tmp_path / "o.png"
    assert main(["apply", argv[0], str(files / "a.inspf"), "-o", str(out), *argv[1:], "--size", "20", "30"]) == 0
    with Image.open(out) as im:
        assert im.size == (30, 20)
    assert "black..white" in capsys.readouterr().out


def test_apply_blur_matches_the_library_call(files, tmp_path):
    from insp.ops import gaussian_blur

    out = tmp_path / "gb.png"
    assert main(["apply", "gaussian-blur", str(files / "a.inspf"), "--sigma", "0.1", "-o", str(out)]) == 0
    field = load(files / "a.inspf")
    x = field.domain.grid((24, 24))  # pointwise, as the renderer evaluates (Field.sample uses the lattice rule)
    expected = np.clip(gaussian_blur(field, sigma=0.1)(x).detach().numpy()[..., 0], 0, 1)
    assert np.abs(read_image(out) - expected).max() <= 1 / 255 + 1e-6


def test_apply_to_a_field_file_distils(files, tmp_path, capsys):
    out = tmp_path / "lap.inspf"
    assert main(["apply", "gaussian-blur", str(files / "a.inspf"), "--sigma-px", "1", "-o", str(out),
                 "--distill-steps", "20", "--quiet"]) == 0
    assert "half-way between samples" in capsys.readouterr().out
    kept = load(out)
    assert kept.provenance.source == "distilled" and kept.provenance.operators


def test_apply_errors_are_one_line(files, tmp_path, capsys):
    assert main(["apply", "gaussian-blur", str(files / "a.inspf"), "-o", str(tmp_path / "x.png")]) == 1
    assert "--sigma-px" in capsys.readouterr().err
    # a plain fit is not what the pretrained deblurrer reads: refused, not silently wrong
    assert main(["apply", "deblur", str(files / "a.inspf"), "-o", str(tmp_path / "x.png")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("insp apply: error:") and "fit_for_operator" in err and "\n" not in err
    with pytest.raises(SystemExit):
        main(["apply", "nope", str(files / "a.inspf"), "-o", str(tmp_path / "x.png")])


def test_restore_writes_the_image_size_and_reports(files, tmp_path, capsys):
    out = tmp_path / "r.png"
    assert main(["restore", "blur", str(files / "a.png"), "-o", str(out), "--steps", "20",
                 "--reference", str(files / "a.png"), "--quiet"]) == 0
    assert read_image(out).shape == (24, 24)
    printed = capsys.readouterr().out
    assert "blur: fitted 24x24" in printed and "PSNR to --reference" in printed


def test_restore_refuses_sizes_outside_the_measured_range(files, tmp_path, capsys):
    out = tmp_path / "r.png"
    assert main(["restore", "denoise", str(files / "a.png"), "-o", str(out), "--steps", "2", "--quiet"]) == 1
    err = capsys.readouterr().err.strip()
    assert "measured to hold its gain only" in err and "\n" not in err
    assert not out.exists()


def test_edges_from_an_image_or_a_field(files, tmp_path):
    a, b = tmp_path / "e1.png", tmp_path / "e2.png"
    assert main(["edges", str(files / "a.inspf"), "-o", str(a), "--low", "0.02", "--high", "0.05"]) == 0
    assert main(["edges", str(files / "a.png"), "-o", str(b), "--steps", "5", "--quiet"]) == 0
    e = read_image(a)
    assert e.shape == (24, 24) and set(np.unique(e)) <= {0.0, 1.0}
    assert main(["edges", str(files / "a.inspf"), "-o", str(a), "--low", "0.02"]) == 1


def test_blend_writes_the_target_grid(files, tmp_path, capsys):
    out = tmp_path / "bl.png"
    assert main(["blend", str(files / "a.png"), str(files / "b.png"), str(files / "m.png"), "-o", str(out),
                 "--steps", "20", "--quiet"]) == 0
    img = read_image(out)
    target = read_image(files / "b.png")
    assert img.shape == target.shape
    outside = np.ones_like(target, bool)
    outside[4:20, 6:18] = False
    assert np.abs(img - target)[outside].mean() < 0.1  # outside the mask the target stays
