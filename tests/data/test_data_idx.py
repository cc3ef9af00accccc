import gzip

import numpy as np
import pytest

from rnnmf.data import read_idx, resolve_root, write_idx
from rnnmf.errors import DataError


@pytest.mark.parametrize("dtype", ["uint8", "int8", "int16", "int32", "float32", "float64"])
@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_round_trip(tmp_path, dtype, suffix):
    a = (np.arange(2 * 3 * 5) - 7).astype(dtype).reshape(2, 3, 5)
    if dtype == "uint8":
        a = np.arange(30, dtype=np.uint8).reshape(2, 3, 5) * 8
    path = tmp_path / f"a-idx3{suffix}"
    write_idx(path, a)
    b = read_idx(path)
    assert b.dtype == a.dtype and b.shape == a.shape
    np.testing.assert_array_equal(a, b)


def test_layout_is_big_endian_lecun_format(tmp_path):
    write_idx(tmp_path / "l", np.array([1, 2, 3], dtype=np.int32))
    raw = (tmp_path / "l").read_bytes()
    assert raw[:4] == bytes([0, 0, 0x0C, 1])
    assert raw[4:8] == (3).to_bytes(4, "big")
    assert raw[8:12] == (1).to_bytes(4, "big")


def test_header_count_is_respected(tmp_path):
    write_idx(tmp_path / "imgs", np.zeros((7, 28, 28), dtype=np.uint8))
    assert read_idx(tmp_path / "imgs").shape == (7, 28, 28)  # not 60,000


def test_truncated_file_names_file(tmp_path):
    path = tmp_path / "imgs"
    write_idx(path, np.zeros((7, 28, 28), dtype=np.uint8))
    path.write_bytes(path.read_bytes()[:-5])
    with pytest.raises(DataError, match=r"imgs holds 5483 data bytes but its header \(7, 28, 28\) needs 5488"):
        read_idx(path)


def test_bad_magic_and_bad_gzip(tmp_path):
    (tmp_path / "x").write_bytes(b"PK\x03\x04junk")
    with pytest.raises(DataError, match="not an IDX file"):
        read_idx(tmp_path / "x")
    (tmp_path / "y.gz").write_bytes(gzip.compress(b"\x00\x00\x08\x01\x00\x00\x00\x05ab")[:-6])
    with pytest.raises(DataError, match="cannot read IDX file"):
        read_idx(tmp_path / "y.gz")


def test_resolve_root(tmp_path, monkeypatch):
    monkeypatch.setenv("RNNMF_DATA_DIR", str(tmp_path / "env"))
    assert resolve_root(tmp_path / "explicit") == tmp_path / "explicit"
    assert resolve_root(None) == tmp_path / "env"
    monkeypatch.setenv("RNNMF_DATA_DIR", "")
    monkeypatch.chdir(tmp_path)
    assert resolve_root(None) == tmp_path / "data"
    monkeypatch.delenv("RNNMF_DATA_DIR")
    assert resolve_root() == tmp_path / "data"
    assert resolve_root("rel").is_absolute()
