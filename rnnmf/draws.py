"""Random weights in the paper's parametrisation (Sec. 3): the one place where W, V, b and W_x are drawn.

    gaussian(shape, std, mean)            entries N(mean, std²)
    haar_orthogonal(shape)                Haar-distributed orthogonal matrices (..., N, N)
    recurrent_matrix(shape, sigma, kind)  W: "gaussian", W_ij ~ N(0, σ²/N), or "orthogonal", σ times a Haar matrix
    uniform(shape, bound)                 entries U(-bound, bound) (Glorot/Xavier input weights of a gated cell)
    per_network(generators, shape)        standard normals (networks, *shape), network k's from generators[k]
    check_statistics(stats, scales, mean) the statistics a draw is asked for: scales >= 0, a finite mean, a kind of W

Every draw takes its generator explicitly and consumes it in a fixed order (one ``normal_`` call per tensor, in
the dtype asked for: float64 by default, so that a seeded generator gives the same weights on any device). The
models' initialisers (``rnnmf.nn.init``, ``rnnmf.nn.ensemble``) and the simulations of random networks
(``rnnmf.sim``) all draw through here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TypeVar

import torch

from rnnmf.errors import RnnmfError

#: the two kinds of recurrent matrix W (Sec. 3.1: the vanilla RNN reaches dynamical isometry only with orthogonal W)
WEIGHTS = ("gaussian", "orthogonal")

S = TypeVar("S")


def check_statistics(stats: S, scales: Sequence[str], mean: str) -> S:
    """Check the statistics of a draw (a member of an ensemble, a random network): each attribute named in
    ``scales`` a finite number >= 0 (a standard deviation or a variance), ``mean`` a finite number and ``weights``
    one of :data:`WEIGHTS`. The first that is not is one RnnmfError line; ``stats`` itself otherwise."""
    for name in scales:
        v = getattr(stats, name)
        if not (isinstance(v, (int, float)) and math.isfinite(v) and v >= 0):
            raise RnnmfError(f"{name}={v!r} is invalid; valid: a finite number >= 0")
    v = getattr(stats, mean)
    if not (isinstance(v, (int, float)) and math.isfinite(v)):
        raise RnnmfError(f"{mean}={v!r} is invalid; valid: a finite number")
    if stats.weights not in WEIGHTS:
        raise RnnmfError(f"weights={stats.weights!r} is invalid; valid: {', '.join(WEIGHTS)}")
    return stats


def gaussian(shape, std: float = 1.0, mean: float = 0.0, generator: torch.Generator | None = None, *,
             dtype=torch.float64, device=None) -> torch.Tensor:
    """A tensor of i.i.d. N(mean, std²) entries: z·std drawn by one ``normal_(0, std)``, then mean added.

    ``device`` defaults to the generator's (the CPU without one). Drawn as ``normal_(0, std)`` rather than
    ``randn() * std``: the two agree bit for bit in float64, and in float32 from 16 elements up; below that
    ``normal_`` rounds once, from double.
    """
    if device is None:
        device = generator.device if generator is not None else "cpu"
    z = torch.empty(shape, dtype=dtype, device=device).normal_(0.0, std, generator=generator)
    return z.add_(mean)


def per_network(generators: Sequence[torch.Generator], shape, *, dtype=torch.float64, device=None) -> torch.Tensor:
    """Standard normal draws (len(generators), *shape): network k's from its own ``generators[k]`` (``torch.randn``),
    so that a network's numbers do not depend on the batch of networks it is simulated in."""
    return torch.stack([torch.randn(shape, generator=g, dtype=dtype, device=device) for g in generators])


def uniform(shape, bound: float, generator: torch.Generator | None = None, *, dtype=torch.float64,
            device=None) -> torch.Tensor:
    """A tensor of i.i.d. U(-bound, bound) entries (variance bound² / 3), by one ``uniform_`` call."""
    if device is None:
        device = generator.device if generator is not None else "cpu"
    return torch.empty(shape, dtype=dtype, device=device).uniform_(-bound, bound, generator=generator)


def haar_orthogonal(shape, generator: torch.Generator | None = None, *, dtype=torch.float64,
                    device=None) -> torch.Tensor:
    """Haar-distributed orthogonal matrices of shape (..., N, N), computed in float64 and returned in ``dtype``.

    QR of a Gaussian matrix with the signs of R's diagonal moved into Q (Mezzadri 2007); without that sign fix Q is
    not Haar-distributed.
    """
    q, r = torch.linalg.qr(gaussian(shape, generator=generator, device=device))
    return (q * torch.sign(torch.diagonal(r, dim1=-2, dim2=-1)).unsqueeze(-2)).to(dtype)


def recurrent_matrix(shape, sigma: float, kind: str, generator: torch.Generator | None = None, *,
                     dtype=torch.float64, device=None) -> torch.Tensor:
    """Recurrent matrices W of shape (..., N, N): ``kind`` "gaussian", W_ij ~ N(0, σ²/N), or "orthogonal", σ·O with
    O Haar-orthogonal (so every singular value is exactly σ)."""
    if kind == "orthogonal":
        return haar_orthogonal(shape, generator, dtype=dtype, device=device).mul_(sigma)
    return gaussian(shape, sigma / math.sqrt(shape[-1]), generator=generator, dtype=dtype, device=device)
