"""Hostile use, fuzzing: random byte edits of saved fields, operator files and images.

A mutated file either reads back exactly as written (the edit was a no-op) or
is refused with the library's error, quickly and without allocating what a
corrupt header describes.
"""

import resource
import time

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from insp.cli import main
from insp.fields.io import FileFormatError, load, save
from insp.learned import load_operator, save_operator
from tests.hostile import image_file, small_field

#: a mutation: some bytes overwritten, then maybe a cut or an insertion
mutations = st.tuples(
    st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)), min_size=1, max_size=6),
    st.one_of(st.none(), st.floats(0, 1, exclude_max=True)),
    st.binary(max_size=16),
)


def _mutate(data: bytes, mutation) -> bytes:
    edits, cut, insert = mutation
    out = bytearray(data)
    for where, value in edits:
        out[int(where * len(out))] = value
    if cut is not None:
        out = out[:int(cut * len(out))]
    if insert:
        at = len(out) // 2
        out[at:at] = insert
    return bytes(out)


def _max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


@pytest.fixture(scope="module")
def field_bytes(tmp_path_factory):
    field = small_field()
    path = save(field, tmp_path_factory.mktemp("fuzz") / "f.inspf", metadata={"shape": [5, 5]})
    return field, path.read_bytes()


_fuzz = settings(max_examples=120, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _loads_identically_or_refuses(loader, original, data: bytes, path, mutation) -> None:
    path.write_bytes(_mutate(data, mutation))
    rss, t = _max_rss_mb(), time.perf_counter()
    try:
        again = loader(path)
    except FileFormatError:
        pass
    else:
        assert path.read_bytes() == data  # only a no-op edit may load
        sa, sb = original.state_dict(), again.state_dict()
        assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert time.perf_counter() - t < 2.0
    assert _max_rss_mb() - rss < 200


@_fuzz
@given(mutation=mutations)
def test_mutated_field_files_load_identically_or_are_refused(tmp_path, field_bytes, mutation):
    field, data = field_bytes
    _loads_identically_or_refuses(load, field, data, tmp_path / "m.inspf", mutation)


@pytest.fixture(scope="module")
def operator_bytes(tmp_path_factory):
    from insp.learned import INSPNet

    net = INSPNet(order=2, hidden_features=8, hidden_layers=1, seed=0)
    path = save_operator(net, tmp_path_factory.mktemp("fuzz") / "op.inspop")
    return net, path.read_bytes()


@_fuzz
@given(mutation=mutations)
def test_mutated_operator_files_load_identically_or_are_refused(tmp_path, operator_bytes, mutation):
    net, data = operator_bytes
    _loads_identically_or_refuses(load_operator, net, data, tmp_path / "m.inspop", mutation)


@pytest.fixture(scope="module")
def png_bytes(tmp_path_factory):
    return image_file(tmp_path_factory.mktemp("fuzz") / "a.png", shape=(10, 12)).read_bytes()


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(mutation=mutations)
def test_mutated_images_fit_or_fail_in_one_line(tmp_path, png_bytes, mutation, capsys):
    img = tmp_path / "m.png"
    img.write_bytes(_mutate(png_bytes, mutation))
    out = tmp_path / "m.inspf"
    status = main(["fit", str(img), "-o", str(out), "--steps", "2", "--quiet"])  # an exception here is a failure
    err = capsys.readouterr().err.strip()
    if status == 0:
        assert load(out).in_features == 2
    else:
        assert status == 1 and err.startswith("insp fit: error:") and "\n" not in err
        assert not out.exists()
    out.unlink(missing_ok=True)
