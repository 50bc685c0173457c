"""Field files: bit-exact round trips, clear errors, atomic writes."""

import json
import struct

import numpy as np
import pytest
import torch

import insp
from insp.fields import FourierFeatureMLP, ReluMLP, Siren
from insp.fields import io as fio
from insp.fields.io import FORMAT_VERSION, MAGIC, FileFormatError, load, read_header, save


def _trained_siren(**kw):
    torch.manual_seed(0)
    m = Siren(2, 3, hidden_features=16, hidden_layers=2, first_omega_0=25.0, hidden_omega_0=20.0, seed=1, **kw)
    with torch.no_grad():  # arbitrary, non-initial values everywhere, incl. the value normalisation
        for p in m.parameters():
            p.add_(torch.randn(p.shape, dtype=p.dtype) * 1e-3)
        m.value_affine.scale.copy_(torch.tensor([0.5, 2.0, 1e-7]))
        m.value_affine.shift.copy_(torch.tensor([0.25, -3.0, 1e7]))
    return m


def _same(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for k in sa:
        assert sa[k].dtype == sb[k].dtype, k
        assert torch.equal(sa[k], sb[k]), k  # bit-exact (no NaNs here)


@pytest.mark.parametrize("make", [
    lambda: _trained_siren(),
    lambda: _trained_siren(dtype=torch.float64),
    lambda: Siren(3, 1, hidden_features=8, hidden_layers=0, seed=0),
    lambda: FourierFeatureMLP(2, 2, num_features=8, scale=3.0, hidden_features=8, hidden_layers=1,
                              activation="tanh", seed=0),
    lambda: ReluMLP(1, 1, num_frequencies=4, hidden_features=8, hidden_layers=1, seed=0),
])
def test_round_trip_is_bit_exact(tmp_path, make):
    field = make()
    path = save(field, tmp_path / "f.inspf")
    again = load(path)
    assert type(again) is type(field)
    assert again.config() == field.config()
    assert again.domain == field.domain
    _same(field, again)
    shape = (5,) * field.in_features
    assert torch.equal(again.sample(shape), field.sample(shape))
    assert not again.training


def test_header_records_the_variant(tmp_path):
    from insp.fields import Domain

    field = Siren(2, 1, hidden_features=8, hidden_layers=1, first_omega_0=40.0, domain=Domain(((0, 1), (0, 2))),
                  seed=0)
    save(field, tmp_path / "f.inspf", metadata={"source": "camera", "shape": [256, 256]})
    h = read_header(tmp_path / "f.inspf")
    assert h["architecture"] == "siren"
    assert h["config"]["first_omega_0"] == 40.0 and h["config"]["hidden_omega_0"] == 30.0
    assert h["init_variant"] == "sitzmann2020"
    assert h["domain"] == {"bounds": [[0.0, 1.0], [0.0, 2.0]]}
    assert h["in_features"] == 2 and h["out_features"] == 1
    assert h["value_normalisation"]["scale"] == [1.0] and h["value_normalisation"]["shift"] == [0.0]
    assert h["insp_version"] == insp.__version__ and h["torch_version"] == torch.__version__
    assert h["dtype"] == "float32" and h["format_version"] == FORMAT_VERSION
    assert h["parameters"] == sum(p.numel() for p in field.parameters())
    assert h["metadata"] == {"source": "camera", "shape": [256, 256]}
    assert load(tmp_path / "f.inspf").domain == field.domain


def test_load_does_not_touch_the_global_rng(tmp_path):
    save(_trained_siren(), tmp_path / "f.inspf")
    state = torch.random.get_rng_state()
    load(tmp_path / "f.inspf")
    assert torch.equal(state, torch.random.get_rng_state())


def test_file_starts_with_magic_and_version(tmp_path):
    save(_trained_siren(), tmp_path / "f.inspf")
    raw = (tmp_path / "f.inspf").read_bytes()
    assert raw[:8] == MAGIC
    assert struct.unpack("<I", raw[8:12])[0] == FORMAT_VERSION
    # no pickle anywhere: the header is plain JSON
    hlen = struct.unpack("<Q", raw[12:20])[0]
    json.loads(raw[20:20 + hlen])


# ---------------------------------------------------------------- errors


@pytest.fixture
def saved(tmp_path):
    path = tmp_path / "f.inspf"
    save(_trained_siren(), path)
    return path


@pytest.mark.parametrize("cut", [3, 10, 19, 40, -1, -100])
def test_truncated_files_raise(saved, cut):
    raw = saved.read_bytes()
    saved.write_bytes(raw[:cut])
    with pytest.raises(FileFormatError, match="truncated|not an insp field file"):
        load(saved)


def test_truncated_payload_message(saved):
    raw = saved.read_bytes()
    saved.write_bytes(raw[:-5])
    with pytest.raises(FileFormatError, match=r"truncated \(payload"):
        load(saved)


@pytest.mark.parametrize("content", [b"", b"PK\x03\x04 a zip file", b"\x89PNG\r\n\x1a\n" + bytes(100),
                                     b"hello world, this is text"])
def test_foreign_files_raise(tmp_path, content):
    path = tmp_path / "foreign.bin"
    path.write_bytes(content)
    with pytest.raises(FileFormatError, match="not an insp field file"):
        load(path)
    with pytest.raises(FileFormatError):
        read_header(path)


def test_torch_save_file_is_foreign(tmp_path):
    torch.save(_trained_siren().state_dict(), tmp_path / "w.pt")
    with pytest.raises(FileFormatError, match="not an insp field file"):
        load(tmp_path / "w.pt")


def test_newer_format_version_raises(saved):
    raw = bytearray(saved.read_bytes())
    raw[8:12] = struct.pack("<I", FORMAT_VERSION + 1)
    saved.write_bytes(bytes(raw))
    with pytest.raises(FileFormatError, match=f"format version {FORMAT_VERSION + 1}, newer.*upgrade insp"):
        load(saved)


def test_corrupt_payload_and_header_raise(saved):
    raw = bytearray(saved.read_bytes())
    raw[-3] ^= 0xFF
    saved.write_bytes(bytes(raw))
    with pytest.raises(FileFormatError, match="checksum"):
        load(saved)
    raw[-3] ^= 0xFF
    raw[20] = ord("@")  # break the JSON
    saved.write_bytes(bytes(raw))
    with pytest.raises(FileFormatError, match="corrupt header"):
        load(saved)
    raw[20] = ord("{")
    raw[22:26] = b"ARCH"  # valid JSON, a required key missing
    saved.write_bytes(bytes(raw))
    with pytest.raises(FileFormatError, match="incomplete header"):
        load(saved)


def test_unknown_architecture_raises(saved):
    raw = saved.read_bytes()
    hlen = struct.unpack("<Q", raw[12:20])[0]
    header = json.loads(raw[20:20 + hlen])
    header["architecture"] = "transformer"
    hb = json.dumps(header).encode()
    saved.write_bytes(raw[:12] + struct.pack("<Q", len(hb)) + hb + raw[20 + hlen:])
    with pytest.raises(FileFormatError, match="unknown architecture 'transformer'"):
        load(saved)


def test_missing_file_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        load(tmp_path / "nope.inspf")


def test_save_rejects_non_fields_and_bad_paths(tmp_path):
    with pytest.raises(TypeError, match="registered NeuralField"):
        save(torch.nn.Linear(2, 1), tmp_path / "x.inspf")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        save(_trained_siren(), tmp_path / "no" / "dir" / "x.inspf")
    with pytest.raises(IsADirectoryError):
        save(_trained_siren(), tmp_path)
    with pytest.raises(TypeError, match="JSON-serialisable"):
        save(_trained_siren(), tmp_path / "x.inspf", metadata={"a": object()})
    assert list(tmp_path.iterdir()) == []  # nothing left behind


# ---------------------------------------------------------------- atomic writes


def test_failing_save_keeps_the_existing_file_and_leaves_no_temp(tmp_path, monkeypatch):
    path = tmp_path / "f.inspf"
    first = _trained_siren()
    save(first, path)
    before = path.read_bytes()

    calls = {"n": 0}
    real = fio._tensor_bytes

    def exploding(t):
        calls["n"] += 1
        if calls["n"] > 3:
            raise RuntimeError("disk on fire")
        return real(t)

    monkeypatch.setattr(fio, "_tensor_bytes", exploding)
    with pytest.raises(RuntimeError, match="disk on fire"):
        save(Siren(2, 3, hidden_features=16, hidden_layers=2, seed=9), path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.inspf"]
    _same(load(path), first)


def test_failure_during_write_keeps_the_existing_file(tmp_path, monkeypatch):
    path = tmp_path / "f.inspf"
    save(_trained_siren(), path)
    before = path.read_bytes()

    def failing_fsync(fd):
        raise OSError("no space left on device")

    monkeypatch.setattr(fio.os, "fsync", failing_fsync)
    with pytest.raises(OSError, match="no space"):
        save(Siren(2, 3, hidden_features=16, hidden_layers=2, seed=9), path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.inspf"]


def test_save_overwrites_atomically(tmp_path):
    path = tmp_path / "f.inspf"
    save(Siren(2, 1, hidden_features=8, hidden_layers=1, seed=0), path)
    new = _trained_siren()
    save(new, path)
    _same(load(path), new)


def test_fitted_field_round_trip_keeps_signal_units(tmp_path):
    from insp.fields import fit

    sig = 10 + 5 * np.sin(np.linspace(0, 6, 50))
    field, _ = fit(sig, steps=20, progress=False, model=Siren(1, 1, hidden_features=16, hidden_layers=1))
    save(field, tmp_path / "s.inspf")
    again = load(tmp_path / "s.inspf")
    assert torch.equal(again.sample((50,)), field.sample((50,)))
    assert again.value_affine.shift.item() == pytest.approx(10.0, abs=5.0)
