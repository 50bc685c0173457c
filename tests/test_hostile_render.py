"""Hostile use, class 3: ``insp render`` is atomic, refuses impossible sizes up front, streams, and maps the
field's own value range."""

import numpy as np
import pytest
import torch
from PIL import Image

from insp.cli import main
from insp.fields.io import save
from insp.imageio import read_image, write_png_rows
from tests.hostile import small_field


@pytest.fixture
def field_file(tmp_path):
    return save(small_field(), tmp_path / "f.inspf", metadata={"shape": [6, 7]})


def test_png_rows_stream_to_the_same_image_as_a_whole_write(tmp_path):
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (13, 5, 3), dtype=np.uint8)
    blocks = (img[i:i + 4] for i in range(0, 13, 4))
    write_png_rows(tmp_path / "s.png", 13, 5, 3, blocks)
    with Image.open(tmp_path / "s.png") as im:
        assert np.array_equal(np.asarray(im), img)


def test_failing_render_keeps_the_previous_image(tmp_path, field_file, monkeypatch):
    out = tmp_path / "out.png"
    assert main(["render", str(field_file), "-o", str(out)]) == 0
    before = out.read_bytes()

    def full_disk(*a, **k):  # the disk fills while the rows are written
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("insp.imageio.to_uint8", full_disk)
    monkeypatch.setattr("insp.cli.to_uint8", full_disk, raising=False)
    assert main(["render", str(field_file), "-o", str(out), "--size", "9", "9"]) == 1
    assert out.read_bytes() == before  # was left truncated
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.inspf", "out.png"]


@pytest.mark.parametrize("size", [["100000", "100000"], ["30000", "30000"]])
def test_huge_renders_are_refused_before_the_work(tmp_path, field_file, size, capsys, monkeypatch):
    # the limit scaled to this tiny field (8 wide: ~0.1 us per point) so that both sizes exceed it on any machine
    monkeypatch.setitem(__import__("insp.cli").cli.RENDER_LIMITS, "seconds", 1.0)
    assert main(["render", str(field_file), "-o", str(tmp_path / "big.png"), "--size", *size]) == 1
    err = capsys.readouterr().err
    assert "--force" in err and "min" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "big.png").exists()


def test_whole_image_formats_are_refused_above_the_memory_limit(tmp_path, field_file, capsys, monkeypatch):
    monkeypatch.setitem(__import__("insp.cli").cli.RENDER_LIMITS, "bytes", 100)
    assert main(["render", str(field_file), "-o", str(tmp_path / "big.tif"), "--size", "20", "20"]) == 1
    assert "write a .png" in capsys.readouterr().err
    assert main(["render", str(field_file), "-o", str(tmp_path / "ok.png"), "--size", "20", "20"]) == 0


def test_render_memory_is_bounded_by_the_block(tmp_path, field_file, monkeypatch):
    from insp.fields import base

    seen = []
    real = base.sample_blocks

    def spy(*a, **k):
        for block in real(*a, **k):
            seen.append(block.shape[0] * block.shape[1])
            yield block

    monkeypatch.setattr(base, "sample_blocks", spy)
    assert main(["render", str(field_file), "-o", str(tmp_path / "r.png"), "--size", "64", "64",
                 "--chunk-size", "256"]) == 0
    probe, blocks = seen[0], seen[1:]  # the time estimate samples a probe of at most 4096 points first
    assert probe <= 4096 and max(blocks) <= 256 and sum(blocks) == 64 * 64


def test_unknown_range_uses_the_stored_normalisation(tmp_path):
    # a field of 0-255 data whose file records no value_range: the normalisation gives the range, so the
    # render is not 99.5 % white
    field = small_field()
    with torch.no_grad():
        field.value_affine.scale.fill_(127.5)
        field.value_affine.shift.fill_(127.5)
    path = save(field, tmp_path / "u8.inspf")
    assert main(["render", str(path), "-o", str(tmp_path / "u8.png"), "--size", "16", "16"]) == 0
    img = read_image(tmp_path / "u8.png")
    assert (img >= 254 / 255).mean() < 0.5
    direct = field.sample((16, 16)).squeeze(-1).detach().numpy() / 255.0
    assert np.abs(img - np.clip(direct, 0, 1)).max() <= 1 / 255 + 1e-6
