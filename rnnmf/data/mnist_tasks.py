"""The two MNIST sequence tasks of the paper, as fast tensor samplers (all tensors on one device).

* Noise-padded MNIST (Sec. 4.1, Fig. 2): the standardised image is the first input, then T inputs of pure noise
  x^t ~ N(0, sigma_x^2 I) drawn independently per example and per step, so the cosine similarity of two sequences'
  inputs is Sigma^t = 0 for t > 0 and the digit can only be read out if the network carries it through T steps.
* Sequential MNIST (Sec. 4.2, Fig. 3): the image unrolled in raster order into T steps of 784/T pixels.

Both expect images already standardised (``load_mnist(..., standardize="global")``) so that R = 1 for the image.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import torch

from rnnmf.data.checks import PIXELS, check_seq_len, valid_seq_lengths  # noqa: F401 (re-exported)
from rnnmf.data.mnist import load_mnist
from rnnmf.errors import RnnmfError

Batch = tuple[torch.Tensor, torch.Tensor]


def batch_indices(
    n: int,
    batch_size: int,
    generator: torch.Generator | None = None,
    *,
    steps: int | None = None,
    shuffle: bool = True,
    drop_last: bool = True,
) -> Iterator[torch.Tensor]:
    """Index batches (CPU int64) over ``n`` examples: one epoch when ``steps`` is None, else exactly ``steps``
    batches, reshuffling at every epoch boundary (training is counted in optimiser steps in Sec. 4)."""
    if batch_size < 1 or (drop_last and batch_size > n):
        raise RnnmfError(f"batch_size={batch_size} is invalid for {n} examples; valid: 1..{n}")
    if steps is not None and steps < 0:
        raise RnnmfError(f"steps={steps} is negative; valid: None (one epoch) or an integer >= 0")
    emitted = 0
    while steps is None or emitted < steps:
        order = torch.randperm(n, generator=generator) if shuffle else torch.arange(n)
        stop = n - n % batch_size if drop_last else n
        for start in range(0, stop, batch_size):
            if steps is not None and emitted == steps:
                return
            yield order[start : start + batch_size]
            emitted += 1
        if steps is None:
            return


def _check_float_images(images: torch.Tensor) -> None:
    if images.ndim != 2 or not images.is_floating_point():
        raise RnnmfError(
            f"images must be standardised floats of shape (n, M), got {tuple(images.shape)} {images.dtype}; "
            "use load_mnist(..., standardize='global')"
        )


class NoisySequence:
    """The inputs of one noise-padded batch, x of shape (T+1, B, M), produced lazily in chunks of time steps.

    The noise comes from a generator on the image's device seeded with ``seed``, so iterating twice yields the same
    tensors: a model can consume the chunks while carrying its hidden state and regenerate them in a backward pass
    instead of storing them. ``materialize()`` returns the whole tensor (the concatenation of the chunks).
    """

    def __init__(self, image: torch.Tensor, T: int, sigma_x: float, seed: int, chunk_steps: int | None = None):
        self.image, self.T, self.sigma_x, self.seed = image, T, float(sigma_x), seed
        self.chunk_steps = chunk_steps or T + 1

    @property
    def shape(self) -> torch.Size:
        return torch.Size((self.T + 1, *self.image.shape))

    def __len__(self) -> int:
        return self.T + 1

    def __iter__(self) -> Iterator[torch.Tensor]:
        g = torch.Generator(device=self.image.device).manual_seed(self.seed)
        for start in range(0, self.T + 1, self.chunk_steps):
            steps = min(self.chunk_steps, self.T + 1 - start)
            chunk = torch.empty((steps, *self.image.shape), dtype=self.image.dtype, device=self.image.device)
            chunk.normal_(0.0, self.sigma_x, generator=g)  # one kernel for the whole chunk
            if start == 0:
                chunk[0] = self.image  # its noise row is drawn and discarded, keeping chunks independent of layout
            yield chunk

    def materialize(self) -> torch.Tensor:
        chunks = list(self)
        return chunks[0] if len(chunks) == 1 else torch.cat(chunks)


def noisy_mnist_batches(
    images: torch.Tensor,
    labels: torch.Tensor,
    T: int,
    batch_size: int,
    sigma_x: float,
    generator: torch.Generator | None = None,
    device: str | torch.device | None = None,
    *,
    steps: int | None = None,
    shuffle: bool = True,
    drop_last: bool = True,
    chunk_steps: int | None = None,
) -> Iterator[tuple[torch.Tensor | NoisySequence, torch.Tensor]]:
    """Yield ``(x, y)`` batches of the noise-padded task (Sec. 4.1): x[0] the image, x[1:] i.i.d. N(0, sigma_x^2).

    ``images`` (n, M) are standardised floats on any device; ``generator`` (a CPU ``torch.Generator``, e.g. from
    ``rnnmf.runtime.seed_everything``) drives the shuffling and one noise seed per batch, so a run is reproducible on
    a given device. The noise is drawn on ``device`` (default: the images' device) in one call per batch.

    Memory: x takes (T+1)·B·M·4 bytes, about 400 MB for T=1000, B=128, M=784. With ``chunk_steps=k`` x is instead a
    ``NoisySequence`` that yields (<=k, B, M) chunks on demand and can regenerate them from its seed, so the inputs
    need only k·B·M·4 bytes at a time. (A smaller noise dimension would change the input size M between steps and
    with it R, so it is not offered.) ``y`` is int64 on ``device``.
    """
    _check_float_images(images)
    if T < 0 or sigma_x < 0 or (chunk_steps is not None and chunk_steps < 1):
        raise RnnmfError(
            f"invalid noisy-MNIST request T={T}, sigma_x={sigma_x}, chunk_steps={chunk_steps}; "
            "valid: T >= 0, sigma_x >= 0, chunk_steps None or >= 1"
        )
    device = torch.device(device) if device is not None else images.device
    for idx in batch_indices(len(images), batch_size, generator, steps=steps, shuffle=shuffle, drop_last=drop_last):
        seed = int(torch.randint(2**62, (1,), generator=generator))
        image = images[idx.to(images.device)].to(device)
        y = labels[idx.to(labels.device)].to(device)
        seq = NoisySequence(image, T, sigma_x, seed, chunk_steps)
        yield (seq.materialize() if chunk_steps is None else seq), y


class SequentialMNIST:
    """One split of sequential MNIST (Sec. 4.2): batches x of shape (T, B, 784/T), step t holding pixels
    [t·784/T, (t+1)·784/T) in raster order, so T=784 feeds one pixel per step and T=196 four (the paper's two cases).

    The whole split stays on one device as an (n, 784) tensor; a batch is one gather plus a transpose.
    """

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, T: int, device: str | torch.device | None = None):
        _check_float_images(images)
        self.T = check_seq_len(T, images.shape[1])
        device = torch.device(device) if device is not None else images.device
        self.images = images.to(device).contiguous()
        self.labels = labels.to(device)

    @classmethod
    def load(
        cls,
        root: str | os.PathLike[str] | None = None,
        split: str = "train",
        T: int = 784,
        device: str | torch.device = "cpu",
        download: bool = True,
        standardize: str = "global",
    ) -> SequentialMNIST:
        """Load a split with training-split standardisation (see ``rnnmf.data.mnist.Standardizer``)."""
        check_seq_len(T)  # fail on a bad T before touching the disk
        images, labels = load_mnist(root, split, download, standardize)
        return cls(images, labels, T, device)

    def __len__(self) -> int:
        return self.images.shape[0]

    @property
    def step_dim(self) -> int:
        return self.images.shape[1] // self.T

    @property
    def device(self) -> torch.device:
        return self.images.device

    def batch(self, idx: torch.Tensor) -> Batch:
        idx = idx.to(self.device)
        x = self.images[idx].view(len(idx), self.T, self.step_dim).transpose(0, 1).contiguous()
        return x, self.labels[idx]

    def batches(
        self,
        batch_size: int,
        generator: torch.Generator | None = None,
        *,
        steps: int | None = None,
        shuffle: bool = True,
        drop_last: bool = True,
    ) -> Iterator[Batch]:
        """Training batches (shuffled; ``steps`` as in ``batch_indices``) or, with ``shuffle=False, drop_last=False``,
        one ordered pass for evaluation."""
        for idx in batch_indices(len(self), batch_size, generator, steps=steps, shuffle=shuffle, drop_last=drop_last):
            yield self.batch(idx)
