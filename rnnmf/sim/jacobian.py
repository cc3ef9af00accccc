"""Dynamical isometry (Sec. 3.2.2): exact end-to-end Jacobians of random RNNs and the statistics of their spectra.

Their spectral moments in theory are ``rnnmf.theory.jacobian``.

The measurement
---------------
One step of either cell has the Jacobian (eq. 10 with the paper's index shift undone, J_t = ∂hᵗ/∂hᵗ⁻¹)

    J_t = D_a + D_b W,    minimalRNN: a = uᵗ = σ(eᵗ),  b = σ'(eᵗ) ⊙ (hᵗ⁻¹ − x̃ᵗ)        (eq. 5, 10)
                          vanilla:    a = 0,           b = φ'(eᵗ) = 1 − tanh²(eᵗ)       (eq. 1)

and J = J_T ⋯ J_1 = ∂hᵀ/∂h⁰ is accumulated with one N×N product per step, batched over networks, in float64.
Networks start at the mean-field fixed point (minimalRNN: h⁰ ~ N(0, Q*), Algorithm 1; vanilla: h⁰ = tanh(e⁰),
e⁰ ~ N(μ_b, q*), as in :mod:`rnnmf.sim.montecarlo`) and are driven by fresh inputs x̃ᵗ ~ N(0, R) every step.
Untied networks draw W, V, b afresh every step, tied ones once. W is Gaussian (W_ij ~ N(0, σ_w²/N)) or σ_w times a
Haar-orthogonal matrix; V is Gaussian. Every network draws from its own generator, so results do not depend on how
networks are batched.

"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from rnnmf.draws import WEIGHTS, check_statistics, per_network, recurrent_matrix  # noqa: F401 - WEIGHTS: the kinds of W it takes
from rnnmf.errors import RnnmfError
from rnnmf.seeds import derive_seed
from rnnmf.sim.montecarlo import cell_update
from rnnmf.stats import delete_one_means, jackknife_se

CELLS = ("minimal", "vanilla")


# ------------------------------------------------------------------------------------------------ the measurement
def step_factors(cell: str, e: torch.Tensor, h_prev: torch.Tensor, x: torch.Tensor):
    """(a, b) with J_t = D_a + D_b W for one step (eq. 10); a is None for the vanilla RNN (no D_a term)."""
    if cell == "minimal":
        u = torch.sigmoid(e)
        return u, u * (1.0 - u) * (h_prev - x)
    return None, 1.0 - torch.tanh(e) ** 2


def step_jacobian(cell: str, W: torch.Tensor, e: torch.Tensor, h_prev: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """The full matrix J_t = ∂hᵗ/∂hᵗ⁻¹ = D_a + D_b W, batched over leading axes of W (..., N, N) and e (..., N)."""
    a, b = step_factors(cell, e, h_prev, x)
    J = b.unsqueeze(-1) * W
    if a is not None:
        J = J + torch.diag_embed(a)
    return J


def _check_choice(name: str, value: str, valid: Sequence[str]) -> str:
    if value not in valid:
        raise RnnmfError(f"{name}={value!r} is invalid; valid: {', '.join(valid)}")
    return value


def _check_int(name: str, value, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise RnnmfError(f"{name}={value!r} is invalid; valid: an integer >= {minimum}")
    return value


@dataclass(frozen=True)
class RandomRNN:
    """One ensemble of random networks in the paper's parametrisation (standard deviations, not variances).

    ``h0_var`` is Q* for the minimalRNN (h⁰ ~ N(0, Q*)) and q* for the vanilla RNN (h⁰ = tanh(e⁰), e⁰ ~ N(μ_b, q*)).
    """

    cell: str
    sigma_w: float
    sigma_v: float
    sigma_b: float
    mu_b: float
    R: float
    h0_var: float
    weights: str = "gaussian"
    tied: bool = False

    def check(self) -> RandomRNN:
        _check_choice("cell", self.cell, CELLS)
        return check_statistics(self, ("sigma_w", "sigma_v", "sigma_b", "R", "h0_var"), "mu_b")


def draws(net: RandomRNN, *, hidden: int, networks: int, steps: int, seed: int = 0, first: int = 0,
          device: str | torch.device = "cpu", dtype=torch.float64) -> Iterator[tuple[torch.Tensor, ...]]:
    """The random quantities of networks first..first+networks−1: yields h⁰ (networks, N) first, then for each step
    t = 1..steps the tuple (W, b, x̃, V x̃) of that step (W: (networks, N, N); the others (networks, N)).

    Tied networks yield the same W and b every step and V x̃ from one V. Untied networks draw V x̃ directly: for a
    fresh V with V_ij ~ N(0, σ_v²/N), V x̃ ~ N(0, σ_v² |x̃|²/N · I) exactly, so no N×N matrix V is needed.
    Network k draws everything from its own generator seeded with ``derive_seed(seed, "jacobian", k)``, so a
    network's numbers do not depend on the batch it is in.
    """
    net.check()
    n = _check_int("hidden", hidden)
    _check_int("networks", networks)
    _check_int("steps", steps, 0)
    device = torch.device(device)
    gens = [torch.Generator(device=device).manual_seed(derive_seed(seed, "jacobian", first + k))
            for k in range(networks)]

    def normal(*shape) -> torch.Tensor:
        return per_network(gens, shape, dtype=dtype, device=device)

    if net.cell == "minimal":
        yield normal(n).mul_(math.sqrt(net.h0_var))
    else:
        yield torch.tanh(normal(n).mul_(math.sqrt(net.h0_var)).add_(net.mu_b))
    W = b = V = None
    for _ in range(steps):
        if W is None or not net.tied:
            W = torch.stack([recurrent_matrix((n, n), net.sigma_w, net.weights, g, dtype=dtype, device=device)
                             for g in gens])
            b = normal(n).mul_(net.sigma_b).add_(net.mu_b)
            if net.tied:
                V = normal(n, n).mul_(net.sigma_v / math.sqrt(n))
        x = normal(n).mul_(math.sqrt(net.R))
        if net.tied:
            vx = torch.bmm(V, x.unsqueeze(-1)).squeeze(-1)
        else:
            vx = normal(n).mul_(x.norm(dim=-1, keepdim=True).mul_(net.sigma_v / math.sqrt(n)))
        yield W, b, x, vx


def jacobians(net: RandomRNN, *, hidden: int, networks: int, steps: int, seed: int = 0, first: int = 0,
              device: str | torch.device = "cpu", dtype=torch.float64) -> Iterator[tuple[int, torch.Tensor, dict]]:
    """Yield (t, J, state) for t = 1..steps with J (networks, N, N) = ∂hᵗ/∂h⁰ (see :func:`draws` for the networks).

    ``state`` holds the new h (networks, N) and the step's factors a, b (J_t = D_a + D_b W). J is updated in
    place: copy it to keep it past the next step.
    """
    with torch.no_grad():
        seq = draws(net, hidden=hidden, networks=networks, steps=steps, seed=seed, first=first, device=device,
                    dtype=dtype)
        h = next(seq)
        J = torch.eye(hidden, dtype=dtype, device=h.device).expand(networks, hidden, hidden).clone()
        for t, (W, b, x, vx) in enumerate(seq, start=1):
            e = torch.bmm(W, h.unsqueeze(-1)).squeeze(-1).add_(vx).add_(b)
            a, bb = step_factors(net.cell, e, h, x)
            WJ = torch.bmm(W, J).mul_(bb.unsqueeze(-1))  # the one N×N product of the step
            J = WJ if a is None else WJ.add_(J.mul_(a.unsqueeze(-1)))
            h = cell_update(net.cell, e, h, x)
            yield t, J, {"h": h, "a": a, "b": bb}


def singular_values(net: RandomRNN, *, hidden: int, networks: int, record: Sequence[int], seed: int = 0,
                    chunk: int | None = None, device: str | torch.device = "cpu") -> dict[int, np.ndarray]:
    """Singular values of J = ∂hᵀ/∂h⁰ at each T in ``record``: {T: array (networks, N)}, float64, descending.

    Networks are processed ``chunk`` at a time (None: all at once); the numbers do not depend on ``chunk``.
    """
    record = sorted({_check_int("T", int(T), 1) for T in record})
    chunk = networks if chunk is None else _check_int("chunk", chunk)
    out: dict[int, list[np.ndarray]] = {T: [] for T in record}
    for first in range(0, _check_int("networks", networks), chunk):
        count = min(chunk, networks - first)
        for t, J, _ in jacobians(net, hidden=hidden, networks=count, steps=record[-1], seed=seed, first=first,
                                 device=device):
            if t in out:
                out[t].append(torch.linalg.svdvals(J).cpu().numpy())
    return {T: np.concatenate(v) for T, v in out.items()}


# --------------------------------------------------------------------------------------------------- statistics
def spectral_moments(s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-network moments of the eigenvalues λ = s² of JJᵀ: (m, p) = (mean λ, mean λ²), each of shape (networks,)."""
    lam = np.asarray(s, dtype=float) ** 2
    return lam.mean(axis=-1), (lam * lam).mean(axis=-1)


def pooled_stats(s: np.ndarray) -> dict[str, float]:
    """Moments of the eigenvalues λ = s² of JJᵀ pooled over networks, with jackknife errors.

    Pooling = the spectral density averaged over networks: mean = ⟨m⟩, m2 = ⟨p⟩, var = ⟨p⟩ − ⟨m⟩², and the
    normalised variance nvar = var/mean² (scale-free: an overall gain that varies from network to network, which
    dominates the error of var, drops out). Standard errors are delete-one-network jackknife estimates (0 for one
    network).
    """
    m, p = spectral_moments(s)
    k = m.size

    def stats(mm, pp):
        mean = mm.mean(axis=-1)
        m2 = pp.mean(axis=-1)
        return mean, m2, m2 - mean**2, (m2 - mean**2) / mean**2

    full = [float(v) for v in stats(m, p)]
    if k > 1:
        mj, pj = delete_one_means(m), delete_one_means(p)  # the k delete-one estimates of every statistic
        se = [jackknife_se(x) for x in (mj, pj, pj - mj**2, (pj - mj**2) / mj**2)]
    else:
        se = [0.0] * 4
    names = ("mean", "m2", "var", "nvar")
    return {**dict(zip(names, full, strict=True)), **{f"{n}_se": e for n, e in zip(names, se, strict=True)}}


QUANTILES = (0.0, 0.05, 0.25, 0.5, 0.75, 0.95, 1.0)


def sv_quantiles(s: np.ndarray) -> dict[str, float]:
    """Quantiles of the singular values pooled over networks: s_min, s_q05, s_q25, s_median, s_q75, s_q95, s_max."""
    names = ("s_min", "s_q05", "s_q25", "s_median", "s_q75", "s_q95", "s_max")
    return dict(zip(names, (float(v) for v in np.quantile(np.ravel(s), QUANTILES)), strict=True))


def log_density(s: np.ndarray, bins: int, lo: float | None = None, hi: float | None = None):
    """Histogram of log10 of the singular values pooled over networks, normalised to a density in log10 s.

    Returns (edges (bins+1,), density (bins,), counts (bins,)); the range defaults to the data's (zero singular
    values, from underflow, are left out and counted by nothing).
    """
    v = np.ravel(np.asarray(s, dtype=float))
    v = np.log10(v[v > 0])
    lo = float(v.min()) if lo is None else lo
    hi = float(v.max()) if hi is None else hi
    if hi <= lo:
        lo, hi = lo - 0.5, hi + 0.5
    counts, edges = np.histogram(v, bins=bins, range=(lo, hi))
    density = counts / (max(v.size, 1) * np.diff(edges))
    return edges, density, counts
