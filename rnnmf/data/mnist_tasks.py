"""The two MNIST sequence tasks of the paper, as fast tensor samplers (all tensors on one device).

* Noise-padded MNIST (Sec. 4.1, Fig. 2): the standardised image is the first input, then T inputs of pure noise
  x^t ~ N(0, sigma_x^2 I) drawn independently per example and per step, so the cosine similarity of two sequences'
  inputs is Sigma^t = 0 for t > 0 and the digit can only be read out if the network carries it through T steps.
* Sequential MNIST (Sec. 4.2, Fig. 3): the image unrolled in raster order into T steps of 784/T pixels.

Both expect images already standardised (``load_mnist(..., standardize="global")``) so that R = 1 for the image.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import torch

from rnnmf.data.checks import PIXELS, check_seq_len, valid_seq_lengths  # noqa: F401 (re-exported)
from rnnmf.data.mnist import load_mnist
from rnnmf.errors import RnnmfError
from rnnmf.seeds import derive_seed

Batch = tuple[torch.Tensor, torch.Tensor]


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


class EpochBatches:
    """Batch ``step`` of training, as a pure function of the optimiser step: ``batches(step) -> (x, y)``.

    Training counts optimiser steps (Sec. 4). Steps run through epochs of n // batch_size batches (a last partial
    batch is dropped); epoch e visits the n examples in the order of ``torch.randperm(n)`` drawn from a generator
    seeded with ``epoch_seed(e)``. Being a function of the step, a resumed run gets the same batches without
    restoring an iterator, and every model trained with the same seeds sees the same stream. Subclasses turn a
    step's indices into its batch (:meth:`batch`).
    """

    def __init__(self, n: int, batch_size: int, epoch_seed: Callable[[int], int]):
        if not 1 <= batch_size <= n:
            raise RnnmfError(f"batch_size={batch_size} is invalid for {n} examples; valid: 1..{n}")
        self.n, self.batch_size, self.epoch_seed = n, batch_size, epoch_seed
        self.per_epoch = n // batch_size
        self._epoch, self._order = -1, None

    def indices(self, step: int) -> torch.Tensor:
        """The example indices (CPU int64) of batch ``step``."""
        epoch, k = divmod(step, self.per_epoch)
        if epoch != self._epoch:  # one permutation per epoch, kept while the steps stay in it
            g = torch.Generator().manual_seed(self.epoch_seed(epoch))
            self._epoch, self._order = epoch, torch.randperm(self.n, generator=g)
        return self._order[k * self.batch_size:(k + 1) * self.batch_size]

    def batch(self, idx: torch.Tensor, step: int):
        raise NotImplementedError

    def __call__(self, step: int):
        return self.batch(self.indices(step), step)


class NoisyMNISTBatches(EpochBatches):
    """Training batches of the noise-padded task (Sec. 4.1, Fig. 2): ``batches(step) -> (x, y)`` with x (T+1, B, M),
    x[0] the images and x[1:] i.i.d. N(0, sigma_x^2) noise, y the labels, on the images' device.

    Epoch e's order and step s's noise come from the seeds ``derive_seed(seed, T, "epoch", e, scheme="fig2")`` and
    ``derive_seed(seed, T, "step", s, scheme="fig2")`` (``rnnmf.seeds``), so every network trained with this
    (seed, T) sees the same stream whichever ensemble it is in. ``batch_size`` is capped at the number of images.
    """

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, T: int, sigma_x: float, batch_size: int,
                 seed: int):
        _check_float_images(images)
        if T < 0 or sigma_x < 0:
            raise RnnmfError(f"invalid noisy-MNIST request T={T}, sigma_x={sigma_x}; valid: T >= 0, sigma_x >= 0")
        super().__init__(len(images), min(batch_size, len(images)),
                         lambda epoch: derive_seed(seed, T, "epoch", epoch, scheme="fig2"))
        self.images, self.labels, self.T, self.sigma_x, self.seed = images, labels, T, sigma_x, seed

    def batch(self, idx: torch.Tensor, step: int) -> Batch:
        idx = idx.to(self.images.device)
        noise_seed = derive_seed(self.seed, self.T, "step", step, scheme="fig2")
        return NoisySequence(self.images[idx], self.T, self.sigma_x, noise_seed).materialize(), self.labels[idx]


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

    def batches(self, batch_size: int, seed: int) -> SequentialMNISTBatches:
        """Training batches as a pure function of the step (:class:`EpochBatches`); epoch e's order is seeded with
        ``derive_seed(seed, e, scheme="epoch")`` (``rnnmf.seeds``)."""
        return SequentialMNISTBatches(self, batch_size, seed)


class SequentialMNISTBatches(EpochBatches):
    """``batches(step) -> (x, y)`` over one split of :class:`SequentialMNIST` (see :meth:`SequentialMNIST.batches`)."""

    def __init__(self, data: SequentialMNIST, batch_size: int, seed: int):
        super().__init__(len(data), batch_size, lambda epoch: derive_seed(seed, epoch, scheme="epoch"))
        self.data = data

    def batch(self, idx: torch.Tensor, step: int) -> Batch:
        return self.data.batch(idx)
