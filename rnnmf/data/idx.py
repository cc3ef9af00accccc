"""A small reader and writer for the IDX format of LeCun's MNIST files (plain or gzip-compressed).

An IDX file is a 4-byte magic number ``0 0 <dtype code> <ndim>``, then ``ndim`` big-endian uint32 sizes, then the
array in C order, big-endian. The sizes in the header are the only truth about how many examples a file holds: the
training split shipped with this project has 24,345 images, not 60,000 (see ``data/README.md``).
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np

from rnnmf.errors import DataError

# IDX type code -> big-endian numpy dtype.
_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_CODES = {dt.newbyteorder("="): code for code, dt in _DTYPES.items()}


def _read_bytes(path: Path) -> bytes:
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            return f.read()
    except (OSError, EOFError) as e:  # gzip.BadGzipFile is an OSError; a cut-off .gz raises EOFError
        raise DataError(f"cannot read IDX file {path}: {e}") from None


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read one IDX file into a native-endian numpy array whose shape comes from the header.

    A bad magic number, an unknown type code, or a payload whose length disagrees with the header raises
    ``DataError`` naming the file, so a truncated download is caught here rather than as a shape error later.
    """
    path = Path(path)
    raw = _read_bytes(path)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _DTYPES:
        raise DataError(f"{path} is not an IDX file (bad magic number {raw[:4].hex() or 'empty'}); re-download it")
    dtype, ndim = _DTYPES[raw[2]], raw[3]
    offset = 4 + 4 * ndim
    if len(raw) < offset:
        raise DataError(f"{path} is truncated inside its IDX header; re-download it")
    shape = tuple(int(s) for s in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) - offset != expected:
        raise DataError(
            f"{path} holds {len(raw) - offset} data bytes but its header {shape} needs {expected}; re-download it"
        )
    return np.frombuffer(raw, dtype=dtype, offset=offset).reshape(shape).astype(dtype.newbyteorder("="))


def write_idx(path: str | os.PathLike[str], array: np.ndarray) -> None:
    """Write ``array`` as an IDX file (gzip-compressed when ``path`` ends in ``.gz``); the inverse of ``read_idx``."""
    path = Path(path)
    array = np.asarray(array)
    code = _CODES.get(array.dtype.newbyteorder("="))
    if code is None:
        raise ValueError(f"IDX cannot store dtype {array.dtype}; valid: {', '.join(map(str, _CODES))}")
    header = bytes([0, 0, code, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    payload = header + array.astype(_DTYPES[code], copy=False).tobytes(order="C")
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wb") as f:
        f.write(payload)
