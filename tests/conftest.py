"""Shared fixtures: every test runs in its own working directory so results/ never touches the checkout."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _isolated_cwd(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    yield


@pytest.fixture(autouse=True)
def _one_thread():
    """One torch thread per test: the tests' tensors are small, and on a shared 2-core machine OpenMP's spinning made
    them 10-50x slower with two threads. Restored afterwards, since jobs under test may set their own."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def data_root():
    """The real data sets (MNIST, PTB) when RNNMF_DATA_DIR points at them; tests that need them skip otherwise."""
    root = os.environ.get("RNNMF_DATA_DIR")
    if not root or not Path(root).is_dir():
        pytest.skip("RNNMF_DATA_DIR not set to the shared data folder")
    return Path(root)
