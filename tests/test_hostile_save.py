"""Hostile use, class 8: ``save`` behaves like a careful plain write (links, permissions, umask, names)."""

import os
import stat

import pytest

from insp.fields.io import load, save
from tests.hostile import small_field


def test_symlink_is_followed_and_kept(tmp_path):
    target = save(small_field(seed=0), tmp_path / "real.inspf")
    link = tmp_path / "link.inspf"
    link.symlink_to(target)
    new = small_field(seed=1)
    save(new, link)
    assert link.is_symlink()  # was replaced by a regular file, leaving the target's old field behind
    assert load(target).state_dict()["net.0.weight"].equal(new.state_dict()["net.0.weight"])


def test_read_only_file_is_refused_and_kept(tmp_path):
    path = save(small_field(seed=0), tmp_path / "keep.inspf")
    before = path.read_bytes()
    path.chmod(0o444)
    with pytest.raises(PermissionError, match="keep.inspf.*read-only"):
        save(small_field(seed=1), path)
    assert path.read_bytes() == before


def test_new_file_respects_the_umask(tmp_path):
    old = os.umask(0o027)
    try:
        path = save(small_field(), tmp_path / "masked.inspf")
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


def test_existing_file_keeps_its_mode(tmp_path):
    path = save(small_field(), tmp_path / "mode.inspf")
    path.chmod(0o600)
    save(small_field(seed=2), path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_errors_name_the_target_not_the_temporary_file(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        save(small_field(), tmp_path / "missing" / "f.inspf")
    assert "missing" in str(info.value) and ".tmp" not in str(info.value)
    with pytest.raises(IsADirectoryError, match="is a directory"):
        save(small_field(), tmp_path)


@pytest.mark.parametrize("metadata", [[1, 2], "note", 3])
def test_metadata_must_be_a_mapping(tmp_path, metadata):
    with pytest.raises(TypeError, match="metadata must be a dict"):
        save(small_field(), tmp_path / "m.inspf", metadata=metadata)
    assert not (tmp_path / "m.inspf").exists()


def test_non_json_metadata_is_refused_before_writing(tmp_path):
    path = save(small_field(), tmp_path / "m.inspf")
    before = path.read_bytes()
    with pytest.raises(TypeError, match="JSON"):
        save(small_field(seed=3), path, metadata={"x": float("nan")})
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.inspf"]  # no temporary file left
