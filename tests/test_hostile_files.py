"""Hostile use, class 1-2: edited headers are caught by one digest, and a header is checked before it is built.

Each case failed on the format-1 code (the digest covered only the tensors and
``load`` built whatever the header described before checking it).
"""

import time

import pytest
import torch

from insp.fields.io import FileFormatError, load, save, verify
from tests.hostile import small_field, with_header, with_header_and_digest


@pytest.fixture
def saved(tmp_path):
    return save(small_field(), tmp_path / "f.inspf")


@pytest.mark.parametrize("edit", [
    lambda h: h["config"].update(first_omega_0=10.0),       # changes the function by up to 0.65
    lambda h: h.update(dtype="float64"),                      # float64 over float32 tensors
    lambda h: h["value_normalisation"].update(scale=[2.0]),   # ignored by load, printed by info
    lambda h: h["domain"].update(bounds=[[0.0, 2.0], [-1.0, 1.0]]),
])
def test_any_header_edit_breaks_the_digest(tmp_path, saved, edit):
    bad = tmp_path / "bad.inspf"
    bad.write_bytes(with_header(saved.read_bytes(), edit))
    # the structural check (before the payload is read) or the digest (after it) refuses it
    with pytest.raises(FileFormatError, match="checksum mismatch over header and payload|does not match"):
        load(bad)
    with pytest.raises(FileFormatError):
        verify(bad)


def test_forged_normalisation_is_inconsistent_with_the_tensors(tmp_path, saved):
    # the digest recomputed by hand: the header's normalisation must still agree with the stored ValueAffine
    bad = tmp_path / "forged.inspf"
    bad.write_bytes(with_header_and_digest(saved.read_bytes(), lambda h: h["value_normalisation"].update(shift=[9.0])))
    with pytest.raises(FileFormatError, match="value_normalisation"):
        load(bad)


def test_forged_dtype_is_refused_before_the_payload(tmp_path, saved):
    bad = tmp_path / "forged.inspf"
    bad.write_bytes(with_header_and_digest(saved.read_bytes(), lambda h: h.update(dtype="float64")))
    with pytest.raises(FileFormatError, match="does not match its architecture"):
        load(bad)


@pytest.mark.parametrize("key, value", [("hidden_layers", 100_000), ("hidden_features", 100_000),
                                        ("hidden_features", 2**40), ("hidden_layers", -1)])
def test_huge_architectures_are_refused_without_allocating(tmp_path, saved, key, value):
    bad = tmp_path / "huge.inspf"
    bad.write_bytes(with_header_and_digest(saved.read_bytes(), lambda h: h["config"].update({key: value})))
    t = time.perf_counter()
    with pytest.raises(FileFormatError, match="implausible config|does not match|does not describe"):
        load(bad)
    assert time.perf_counter() - t < 2.0  # was 146 s and 6.5 GB for hidden_layers=100000


def test_architecture_is_checked_on_the_meta_device(tmp_path, saved, monkeypatch):
    # a header asking for a modest but wrong network: refused by comparing shapes, never materialised
    built = []
    real = torch.nn.Linear.reset_parameters
    monkeypatch.setattr(torch.nn.Linear, "reset_parameters", lambda self: (built.append(self.weight.device.type),
                                                                            real(self)))
    bad = tmp_path / "wider.inspf"
    bad.write_bytes(with_header_and_digest(saved.read_bytes(), lambda h: h["config"].update(hidden_features=512)))
    with pytest.raises(FileFormatError, match="does not match its architecture"):
        load(bad)
    assert set(built) <= {"meta"}


def test_verify_reports_what_it_checked(saved):
    assert verify(saved)["verified"] == "header and payload"


@pytest.mark.parametrize("cut", [1, 31, 33, 200])
def test_verify_refuses_truncated_files(tmp_path, saved, cut):
    data = saved.read_bytes()
    bad = tmp_path / "cut.inspf"
    bad.write_bytes(data[:-cut])
    with pytest.raises(FileFormatError, match="truncated|corrupt"):
        verify(bad)


def test_random_bytes_after_the_magic_are_corrupt_not_newer(tmp_path, saved):
    data = bytearray(saved.read_bytes())
    data[8:12] = b"\xde\xad\xbe\xef"  # the version field
    bad = tmp_path / "noise.inspf"
    bad.write_bytes(bytes(data))
    with pytest.raises(FileFormatError, match="corrupt"):
        load(bad)
