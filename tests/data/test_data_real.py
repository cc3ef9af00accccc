"""Checks on the real data sets; skipped unless RNNMF_DATA_DIR points at them (e.g. ../shared/data)."""

import os
from pathlib import Path

import pytest
import torch

from rnnmf.data import NoisyMNISTBatches, SequentialMNIST, load_mnist, load_ptb, mnist_standardizer, second_moment

ROOT = os.environ.get("RNNMF_DATA_DIR")
pytestmark = pytest.mark.skipif(not ROOT or not Path(ROOT).is_dir(), reason="RNNMF_DATA_DIR unset or missing")


def test_mnist_counts_from_headers():
    x, y = load_mnist(ROOT, "train", download=False)
    assert x.shape == (24_345, 784) and y.shape == (24_345,)
    xt, yt = load_mnist(ROOT, "test", download=False)
    assert xt.shape == (10_000, 784)
    assert torch.bincount(y, minlength=10).min() > 2000 and set(yt.unique().tolist()) == set(range(10))
    assert y[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]  # the official first training labels


def test_mnist_standardisation_on_real_data():
    s = mnist_standardizer(ROOT, download=False)
    assert s.R == 1.0 and 30 < float(s.mean) < 37 and 75 < float(s.std) < 82
    xt, _ = load_mnist(ROOT, "test", download=False, standardize="global")
    assert second_moment(xt) == pytest.approx(1.0, abs=0.02)
    assert 0.85 < mnist_standardizer(ROOT, "per_pixel", download=False).R < 0.95  # constant border pixels


def test_tasks_on_real_data():
    data = SequentialMNIST.load(ROOT, "test", T=196, download=False)
    x, y = data.batches(128, seed=0)(0)
    assert x.shape == (196, 128, 4) and y.shape == (128,)
    images, labels = load_mnist(ROOT, "train", download=False, standardize="global")
    x, y = NoisyMNISTBatches(images, labels, T=10, sigma_x=1.0, batch_size=128, seed=0)(0)
    assert x.shape == (11, 128, 784)


def test_ptb_counts():
    c = load_ptb(ROOT, download=False, verify=True)
    assert len(c.dictionary) == 10_000
    assert len(c.train) == 929_589 and len(c.valid) == 73_760 and len(c.test) == 82_430
    assert c.dictionary.word2idx["<eos>"] < 100 and "<unk>" in c.dictionary.word2idx
