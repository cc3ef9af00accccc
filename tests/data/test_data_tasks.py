import math

import pytest
import torch

from rnnmf.data import NoisySequence, SequentialMNIST, batch_indices, noisy_mnist_batches, valid_seq_lengths
from rnnmf.errors import RnnmfError


def _images(n=40, m=784, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, m, generator=g), torch.arange(n) % 10


def test_batch_indices_epoch_and_steps():
    g = torch.Generator().manual_seed(0)
    epoch = list(batch_indices(10, 3, g, drop_last=False))
    assert [len(b) for b in epoch] == [3, 3, 3, 1]
    assert sorted(torch.cat(epoch).tolist()) == list(range(10))
    assert [len(b) for b in batch_indices(10, 3, g)] == [3, 3, 3]
    many = list(batch_indices(10, 3, g, steps=7))  # crosses two epoch boundaries
    assert len(many) == 7 and all(len(b) == 3 for b in many)
    assert list(batch_indices(10, 3, g, steps=0)) == []
    ordered = torch.cat(list(batch_indices(10, 5, shuffle=False)))
    assert ordered.tolist() == list(range(10))
    with pytest.raises(RnnmfError, match="batch_size=11 is invalid for 10 examples"):
        next(batch_indices(10, 11))


def test_noisy_shapes_first_step_is_image():
    images, labels = _images()
    x, y = next(noisy_mnist_batches(images, labels, T=5, batch_size=8, sigma_x=1.0, shuffle=False))
    assert x.shape == (6, 8, 784) and x.dtype == torch.float32
    assert torch.equal(x[0], images[:8]) and torch.equal(y, labels[:8])


def test_noise_statistics_and_independence():
    images, labels = _images(n=64)
    sigma, T, B, M = 0.5, 50, 64, 784
    g = torch.Generator().manual_seed(1)
    x, _ = next(noisy_mnist_batches(images, labels, T, B, sigma, g))
    noise = x[1:].double()
    n = noise.numel()
    # mean and variance within 5 standard errors: se(mean) = sigma/sqrt(n), se(var) = sigma^2 sqrt(2/n)
    assert abs(float(noise.mean())) < 5 * sigma / math.sqrt(n)
    assert abs(float(noise.var()) - sigma**2) < 5 * sigma**2 * math.sqrt(2 / n)
    # Sigma^t = 0: noise of different examples (and of different steps) is uncorrelated; each empirical
    # correlation of k = T*M (or B*M) pairs has standard error 1/sqrt(k); allow 5 se over all pairs
    per_example = noise.permute(1, 0, 2).reshape(B, -1)
    corr = torch.corrcoef(per_example)
    off = corr[~torch.eye(B, dtype=torch.bool)]
    assert float(off.abs().max()) < 5 / math.sqrt(T * M)
    per_step = torch.corrcoef(noise.reshape(T, -1))
    assert float(per_step[~torch.eye(T, dtype=torch.bool)].abs().max()) < 5 / math.sqrt(B * M)
    # R of the noise steps is sigma_x^2 (the image step has R ~ 1 after standardisation)
    assert float(noise.pow(2).mean()) == pytest.approx(sigma**2, rel=0.01)


def test_reproducible_and_fresh_per_batch():
    images, labels = _images()
    a = list(noisy_mnist_batches(images, labels, 3, 8, 1.0, torch.Generator().manual_seed(7), steps=3))
    b = list(noisy_mnist_batches(images, labels, 3, 8, 1.0, torch.Generator().manual_seed(7), steps=3))
    assert all(torch.equal(xa, xb) and torch.equal(ya, yb) for (xa, ya), (xb, yb) in zip(a, b, strict=True))
    assert not torch.equal(a[0][0][1:], a[1][0][1:])  # a new noise draw for every batch


def test_chunked_sequence_is_lazy_and_repeatable():
    images, labels = _images()
    g = torch.Generator().manual_seed(3)
    seq, y = next(noisy_mnist_batches(images, labels, 10, 4, 2.0, g, chunk_steps=4, shuffle=False))
    assert isinstance(seq, NoisySequence) and len(seq) == 11 and seq.shape == (11, 4, 784)
    chunks = list(seq)
    assert [c.shape[0] for c in chunks] == [4, 4, 3]
    assert torch.equal(chunks[0][0], images[:4])
    assert all(torch.equal(c1, c2) for c1, c2 in zip(chunks, seq, strict=True))  # regenerated from the seed
    assert torch.equal(seq.materialize(), torch.cat(chunks))


def test_zero_noise_and_bad_inputs():
    images, labels = _images()
    x, _ = next(noisy_mnist_batches(images, labels, 4, 8, 0.0))
    assert not x[1:].any()
    with pytest.raises(RnnmfError, match="standardised floats"):
        next(noisy_mnist_batches(images.to(torch.uint8), labels, 4, 8, 1.0))
    with pytest.raises(RnnmfError, match="sigma_x=-1"):
        next(noisy_mnist_batches(images, labels, 4, 8, -1))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_noise_generated_on_cuda():
    images, labels = _images()
    g = torch.Generator().manual_seed(0)
    x, y = next(noisy_mnist_batches(images, labels, 100, 8, 0.5, g, "cuda", shuffle=False))
    assert x.is_cuda and y.is_cuda and torch.equal(x[0].cpu(), images[:8])
    assert float(x[1:].std()) == pytest.approx(0.5, rel=0.01)


@pytest.mark.parametrize("T", [784, 196, 28, 1])
def test_sequential_pixel_order(T):
    n = 6
    images = torch.arange(n * 784, dtype=torch.float32).view(n, 784)  # pixel p of image i holds i*784 + p
    data = SequentialMNIST(images, torch.arange(n), T)
    k = 784 // T
    idx = torch.tensor([4, 1, 5])
    x, y = data.batch(idx)
    assert x.shape == (T, 3, k) and x.is_contiguous() and data.step_dim == k
    t = torch.arange(T).view(T, 1, 1)
    j = torch.arange(k).view(1, 1, k)
    expected = idx.view(1, 3, 1) * 784 + t * k + j  # step t holds pixels t*k .. t*k+k-1 in raster order
    assert torch.equal(x, expected.float()) and torch.equal(y, idx)


def test_sequential_batches_and_bad_T():
    images, labels = _images(n=10)
    data = SequentialMNIST(images, labels, 196)
    xs, ys = zip(*data.batches(4, shuffle=False, drop_last=False), strict=True)
    assert [x.shape for x in xs] == [(196, 4, 4), (196, 4, 4), (196, 2, 4)]
    assert torch.equal(torch.cat(ys), labels)
    assert len(list(data.batches(3, torch.Generator().manual_seed(0), steps=5))) == 5
    assert valid_seq_lengths()[-3:] == [196, 392, 784]
    with pytest.raises(RnnmfError) as err:
        SequentialMNIST(images, labels, 100)
    assert str(err.value) == (
        "sequential MNIST needs T dividing 784, got T=100; valid T: 1, 2, 4, 7, 8, 14, 16, 28, 49, 56, 98, 112, 196, "
        "392, 784"
    )


def test_sequential_load_standardises(tiny_mnist):
    root, arrays = tiny_mnist
    data = SequentialMNIST.load(root, "train", T=28, download=False)
    assert len(data) == 37 and data.device == torch.device("cpu")
    x, _ = data.batch(torch.arange(len(data)))
    assert x.shape == (28, 37, 28)
    assert float(x.double().pow(2).mean()) == pytest.approx(1.0, abs=1e-5)  # R = 1 on the training split
    with pytest.raises(RnnmfError, match="got T=5"):
        SequentialMNIST.load(root / "nowhere", T=5, download=False)  # T is checked before the files
