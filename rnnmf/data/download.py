"""File integrity and atomic downloads: a data file is either complete and verified in place, or absent.

Every download goes to a hidden temporary name in the destination folder, is verified, and only then renamed onto
its final name (``os.replace`` is atomic within one file system); on any failure the temporary file is removed.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from rnnmf.errors import DataError

TIMEOUT_S = 60.0


def md5sum(path: str | os.PathLike[str], chunk_size: int = 1 << 20) -> str:
    """Hex MD5 of a file, read in chunks."""
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        while chunk := f.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def check_md5(path: Path, expected: str) -> None:
    """Raise ``DataError`` naming the file, the expected and the actual MD5 when they differ."""
    actual = md5sum(path)
    if actual != expected:
        raise DataError(f"{path} has MD5 {actual}, expected {expected}: replace it with the canonical file")


def fetch_url(url: str, dest: Path, md5: str | None = None) -> None:
    """Download ``url`` to ``dest`` via a temporary name, verifying ``md5`` before the final rename.

    Network and file-system failures propagate (``urllib.error.URLError`` is an ``OSError``); callers turn them into
    a ``DataError`` that says which files to put where.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:
            while chunk := response.read(1 << 20):
                out.write(chunk)
        if md5 is not None:
            actual = md5sum(tmp)
            if actual != md5:
                raise DataError(f"download of {url} has MD5 {actual}, expected {md5}; nothing was written to {dest}")
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def new_folder(path: Path) -> Iterator[Path]:
    """Create ``path`` with its parents; if the body fails, remove again those of them that are still empty."""
    created = [p for p in (path, *path.parents) if not p.exists()]  # deepest first
    path.mkdir(parents=True, exist_ok=True)
    try:
        yield path
    except BaseException:
        for p in created:
            with contextlib.suppress(OSError):
                p.rmdir()
        raise
