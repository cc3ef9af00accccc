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


#: torch threads for every test: 1 by default (the tests' tensors are small, and on a shared 2-core machine OpenMP's
#: spinning made them 10-50x slower with two threads); `RNNMF_TEST_THREADS=2 make test` checks that no test depends on
#: it (results computed with another thread count agree to a few ulps, not bit for bit)
TEST_THREADS = int(os.environ.get("RNNMF_TEST_THREADS") or 1)


@pytest.fixture(autouse=True)
def _test_threads():
    """``TEST_THREADS`` torch threads per test, restored afterwards, since jobs under test may set their own."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(TEST_THREADS)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def assert_ulps():
    """``assert_ulps(actual, expected, ulps, dtype)``: |actual - expected| <= ulps * eps(dtype) * max(|expected|),
    elementwise over an array (the scale is the array's largest magnitude, so that values near zero in a vector of
    order-one values are held to the same absolute tolerance). For floats computed in a different order (another
    batch composition, chunk size or thread count): they agree to a few ulps, not bit for bit."""
    import numpy as np

    def check(actual, expected, ulps: float, dtype=np.float64) -> None:
        a, e = np.asarray(actual, dtype=float), np.asarray(expected, dtype=float)
        assert a.shape == e.shape, (a.shape, e.shape)
        scale = max(float(np.max(np.abs(e))) if e.size else 0.0, np.finfo(dtype).tiny)
        worst = float(np.max(np.abs(a - e))) if a.size else 0.0
        assert worst <= ulps * np.finfo(dtype).eps * scale, (
            f"differ by {worst:.3g} = {worst / (np.finfo(dtype).eps * scale):.1f} ulps of {scale:.3g} (allowed {ulps})")

    return check


@pytest.fixture
def data_root():
    """The real data sets (MNIST, PTB) when RNNMF_DATA_DIR points at them; tests that need them skip otherwise."""
    root = os.environ.get("RNNMF_DATA_DIR")
    if not root or not Path(root).is_dir():
        pytest.skip("RNNMF_DATA_DIR not set to the shared data folder")
    return Path(root)
