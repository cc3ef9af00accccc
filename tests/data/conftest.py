"""Tiny synthetic MNIST and PTB trees in tmp_path, so that no test needs the real data sets."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rnnmf.data import clear_cache, write_idx

N_TRAIN, N_TEST = 37, 11  # deliberately not 60,000 / 10,000: counts must come from the headers


@pytest.fixture(autouse=True)
def _fresh_cache():
    clear_cache()
    yield
    clear_cache()


def write_mnist(root: Path, n_train: int = N_TRAIN, n_test: int = N_TEST, gz: bool = False, seed: int = 0) -> dict:
    """Write random uint8 images and labels in torchvision's raw layout under ``root``; return the arrays."""
    rng = np.random.default_rng(seed)
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    arrays = {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, size=n, dtype=np.uint8)
        ext = ".gz" if gz else ""
        write_idx(raw / f"{prefix}-images-idx3-ubyte{ext}", images)
        write_idx(raw / f"{prefix}-labels-idx1-ubyte{ext}", labels)
        arrays[prefix] = (images, labels)
    return arrays


@pytest.fixture
def tiny_mnist(tmp_path) -> tuple[Path, dict]:
    return tmp_path, write_mnist(tmp_path)


@pytest.fixture
def mnist_writer():
    """``write_mnist`` as a fixture, so test modules need not import conftest."""
    return write_mnist


PTB_TEXT = {
    "ptb.train.txt": " the cat sat on the mat \n a dog <unk> ran \n the dog sat \n",
    "ptb.valid.txt": " the dog ran \n a cat <unk> \n",
    "ptb.test.txt": " a mat \n",
}


def write_ptb(root: Path, text: dict[str, str] | None = None) -> Path:
    folder = root / "ptb"
    folder.mkdir(parents=True, exist_ok=True)
    for name, body in (text or PTB_TEXT).items():
        (folder / name).write_text(body, encoding="utf8")
    return folder


@pytest.fixture
def ptb_text() -> dict[str, str]:
    return dict(PTB_TEXT)


@pytest.fixture
def ptb_writer():
    return write_ptb


@pytest.fixture
def tiny_ptb(tmp_path) -> Path:
    write_ptb(tmp_path)
    return tmp_path
