import math

import pytest
import torch

from rnnmf.data import NoisyMNISTBatches, NoisySequence, SequentialMNIST, valid_seq_lengths
from rnnmf.errors import RnnmfError
from rnnmf.seeds import derive_seed


def _images(n=40, m=784, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, m, generator=g), torch.arange(n) % 10


def test_epoch_batches_are_a_pure_function_of_the_step():
    images, _ = _images(n=50)
    labels = torch.arange(50)  # the label names the example
    data = SequentialMNIST(images, labels, 196)
    seq = data.batches(16, seed=3)
    batches = [seq(s)[1] for s in range(9)]  # 3 batches per epoch (2 examples dropped), 3 epochs
    fresh = data.batches(16, seed=3)
    assert torch.equal(fresh(7)[1], batches[7]) and torch.equal(fresh(1)[1], batches[1])  # any order, same batch
    epoch = torch.cat(batches[:3])
    assert len(set(epoch.tolist())) == 48  # without replacement within an epoch
    assert not torch.equal(batches[0], batches[3])  # reshuffled every epoch
    assert not torch.equal(data.batches(16, seed=4)(0)[1], batches[0])
    # epoch e is randperm(n) from the seed rnnmf.seeds documents for this task (results depend on it)
    order = torch.randperm(50, generator=torch.Generator().manual_seed(derive_seed(3, 1, scheme="epoch")))
    assert torch.equal(batches[4], labels[order[16:32]])
    with pytest.raises(RnnmfError, match="batch_size=51 is invalid for 50 examples"):
        data.batches(51, seed=0)


def test_noisy_shapes_first_step_is_image():
    images, labels = _images()
    batches = NoisyMNISTBatches(images, labels, T=5, sigma_x=1.0, batch_size=8, seed=0)
    idx = batches.indices(0)
    x, y = batches(0)
    assert x.shape == (6, 8, 784) and x.dtype == torch.float32
    assert torch.equal(x[0], images[idx]) and torch.equal(y, labels[idx])


def test_noise_statistics_and_independence():
    images, labels = _images(n=64)
    sigma, T, B, M = 0.5, 50, 64, 784
    x, _ = NoisyMNISTBatches(images, labels, T, sigma, B, seed=1)(0)
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


def test_noisy_batches_reproducible_and_fresh_per_step():
    images, labels = _images()
    a = NoisyMNISTBatches(images, labels, 3, 1.0, 8, seed=7)
    b = NoisyMNISTBatches(images, labels, 3, 1.0, 8, seed=7)
    steps = [a(s) for s in range(7)]  # 5 batches per epoch: crosses an epoch boundary
    assert all(torch.equal(xa, xb) and torch.equal(ya, yb) for (xa, ya), (xb, yb)
               in zip(steps[::-1], (b(s) for s in range(6, -1, -1)), strict=True))  # any order, same batch
    assert not torch.equal(steps[0][0][1:], steps[1][0][1:])  # a new noise draw for every step
    noise_seed = derive_seed(7, 3, "step", 2, scheme="fig2")  # the seed rnnmf.seeds documents for this task
    assert torch.equal(steps[2][0], NoisySequence(images[a.indices(2)], 3, 1.0, noise_seed).materialize())
    assert not torch.equal(NoisyMNISTBatches(images, labels, 4, 1.0, 8, seed=7).indices(0), a.indices(0))  # T


def test_chunked_sequence_is_lazy_and_repeatable():
    images, _ = _images()
    seq = NoisySequence(images[:4], 10, 2.0, seed=3, chunk_steps=4)
    assert len(seq) == 11 and seq.shape == (11, 4, 784)
    chunks = list(seq)
    assert [c.shape[0] for c in chunks] == [4, 4, 3]
    assert torch.equal(chunks[0][0], images[:4])
    assert all(torch.equal(c1, c2) for c1, c2 in zip(chunks, seq, strict=True))  # regenerated from the seed
    assert torch.equal(seq.materialize(), torch.cat(chunks))
    assert torch.equal(seq.materialize(), NoisySequence(images[:4], 10, 2.0, seed=3).materialize())  # any chunking


def test_zero_noise_and_bad_inputs():
    images, labels = _images()
    x, _ = NoisyMNISTBatches(images, labels, 4, 0.0, 8, seed=0)(0)
    assert not x[1:].any()
    with pytest.raises(RnnmfError, match="standardised floats"):
        NoisyMNISTBatches(images.to(torch.uint8), labels, 4, 1.0, 8, seed=0)
    with pytest.raises(RnnmfError, match="sigma_x=-1"):
        NoisyMNISTBatches(images, labels, 4, -1, 8, seed=0)
    assert NoisyMNISTBatches(images, labels, 4, 1.0, 1000, seed=0)(0)[0].shape == (5, 40, 784)  # capped at n


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_noise_generated_on_cuda():
    images, labels = _images()
    batches = NoisyMNISTBatches(images.cuda(), labels.cuda(), 100, 0.5, 8, seed=0)
    x, y = batches(0)
    assert x.is_cuda and y.is_cuda and torch.equal(x[0].cpu(), images[batches.indices(0)])
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
    batches = data.batches(4, seed=0)
    x, y = batches(0)
    assert x.shape == (196, 4, 4) and torch.equal(x, data.batch(batches.indices(0))[0])
    assert torch.equal(y, labels[batches.indices(0)])
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
