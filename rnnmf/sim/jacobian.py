"""Dynamical isometry (Sec. 3.2.2): exact end-to-end Jacobians of random RNNs, and their spectral moments in theory.

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

The theory (untied weights)
---------------------------
Eq. 11-13: the mean eigenvalue of JJᵀ is χ₁ᵀ, χ₁ = μ1 + μ2. Eq. 12 gives its spread as χ₁^{2T}(1 + T(2(μ1 − s1)μ2 +
σ1² + σ2²)/χ₁²). We derive the first two moments directly instead. Write X = J Jᵀ after t−1 steps, X' = J_t X J_tᵀ,
m = τ(X), p = τ(X²) and d = (1/N) Σ_i X_ii² (τ = tr/N). With a_i, b_i i.i.d. over units, W Haar-invariant and
(asymptotically) free from everything else, E[WWᵀ] = σ_w² I and τ((WWᵀ)²) = σ_w⁴(1 − s1), as N → ∞:

    m' = χ₁ m,                                             χ₁ = α2 + σ_w² β2                      (eq. 11, 13)
    d' = α4 d + (2 σ_w² γ + σ_w⁴ β4) m²
    p' = χ₁² p + (α4 − α2²) d + (σ_w⁴ (β4 − (1 + s1) β2²) + 2 σ_w² γ) m²

with α_k = E[a^k], β_k = E[b^k], γ = E[a² b²]; from X₀ = I (m = p = d = 1). Against eq. 12 this changes four things:

1. the s1 term: one step gives −s1 μ2² (τ((WWᵀ)²) enters with σ_w⁴), not −2 s1 μ2; for the vanilla RNN eq. 12's
   slope is then 1 − s1 too large (Pennington et al. 2017: var/mean² = T (E[φ'⁴]/E[φ'²]² − 1 − s1));
2. the cross term: a = σ(e) and b = σ'(e)(h − x̃) share e, so 2μ1μ2 becomes 2σ_w² γ, γ = E[σ²σ'²](Q* + R) ≠ α2 β2;
3. σ2²: E[(h − x̃)⁴] = E[h⁴] + 6 Q* R + 3 R² (3 (Q* + R)² for Gaussian h), where eq. 12 has Q*² + R²; E[h⁴] starts at
   3 Q*² (h⁰ Gaussian) and relaxes as E[h'⁴] = E[u⁴] E[h⁴] + 6 E[u²(1 − u)²] Q* R + 3 E[(1 − u)⁴] R²;
4. the d term: the gate parts D_a of successive steps commute (they are not free of each other, unlike the D W
   factors of a feed-forward net), so the diagonal of X keeps a memory that the free-probability (S-transform)
   argument misses, and var grows faster than the free product of the one-step factors (``var_free``).

Two refinements: b_i involves h_i, which remembers unit i's past gates as X_ii does; tracking c = (1/N) Σ_i h_i² X_ii
(``memory`` in :func:`jacobian_moments`) changes the variance by < 1% at the paper's settings. And at finite width
the W averages have O(1/N) terms (Wick pairings for Gaussian W, Weingarten for Haar W), exact for gates independent
of W (checked against a synthetic ensemble); they grow like T²/N relative to the leading term, so the first-order
result holds only while it stays a modest correction (nvar can never exceed N − 1, while the N → ∞ result grows
without bound).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from rnnmf.errors import RnnmfError
from rnnmf.sim.montecarlo import cell_update, derive_seed

CELLS = ("minimal", "vanilla")
WEIGHTS = ("gaussian", "orthogonal")
#: s1, the first coefficient of the S-transform of W Wᵀ's spectrum (Pennington et al. 2018): τ((WWᵀ)²) = σ_w⁴(1 − s1)
S1 = {"gaussian": -1.0, "orthogonal": 0.0}


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
        _check_choice("weights", self.weights, WEIGHTS)
        for name in ("sigma_w", "sigma_v", "sigma_b", "R", "h0_var"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v >= 0):
                raise RnnmfError(f"{name}={v!r} is invalid; valid: a finite number >= 0")
        if not math.isfinite(self.mu_b):
            raise RnnmfError(f"mu_b={self.mu_b!r} is invalid; valid: a finite number")
        return self


def _draw_W(net: RandomRNN, n: int, gen: torch.Generator, dtype, device) -> torch.Tensor:
    if net.weights == "orthogonal":
        from rnnmf.nn.init import haar_orthogonal  # QR with the sign fix (Mezzadri 2007)

        return haar_orthogonal((n, n), gen).to(dtype).mul_(net.sigma_w)
    return torch.randn((n, n), generator=gen, dtype=dtype, device=device).mul_(net.sigma_w / math.sqrt(n))


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
        return torch.stack([torch.randn(shape, generator=g, dtype=dtype, device=device) for g in gens])

    if net.cell == "minimal":
        yield normal(n).mul_(math.sqrt(net.h0_var))
    else:
        yield torch.tanh(normal(n).mul_(math.sqrt(net.h0_var)).add_(net.mu_b))
    W = b = V = None
    for _ in range(steps):
        if W is None or not net.tied:
            W = torch.stack([_draw_W(net, n, g, dtype, device) for g in gens])
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
        mj = (m.sum() - m) / (k - 1)  # the k delete-one estimates of every statistic
        pj = (p.sum() - p) / (k - 1)
        jack = (mj, pj, pj - mj**2, (pj - mj**2) / mj**2)
        se = [float(math.sqrt((k - 1) / k * np.sum((x - x.mean()) ** 2))) for x in jack]
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


# ---------------------------------------------------------------------------------------------------- the theory
def jacobian_moments(alpha2, alpha4, beta2, beta4, gamma, sigma_w2: float, weights: str, T: int,
                     N: int | None = None, memory: dict | None = None):
    """Mean and second moment of the eigenvalues of JJᵀ, J = J_T ⋯ J_1, J_t = D_a + D_b W_t, untied weights.

    Iterates the (m, p, d) recursion of the module docstring from X₀ = I; ``N`` = None is the N → ∞ limit, an
    integer adds the exact O(1/N) terms of the W average (Wick pairings for Gaussian W, Weingarten for Haar W), still
    treating a, b as independent of W (the mean-field assumption). Every moment may be a scalar or a sequence over
    t = 1..T (the minimalRNN's β4 changes while E[h⁴] relaxes). Returns (mean, m2): arrays for t = 0..T; mean is
    E[τ(JJᵀ)] = χ₁ᵗ at any N, m2 is E[τ((JJᵀ)²)].

    ``memory`` (the minimalRNN): b_i = σ'(e_i)(h_i − x̃_i) involves h_i, which remembers unit i's past gates, and so
    does X_ii; the coupling term (1/N) Σ_i a_i² b_i² X_ii is then E[σ²σ'²] (c + R m) with c = (1/N) Σ_i h_i² X_ii
    tracked as c' = E[u⁴] c + E[u²(1 − u)²] R m + σ_w² m H_t from c = Q* at t = 0 (keys "s2sp2", "u4", "u2v2", "H",
    "Q", "R"; see :func:`minimal_theory`). Without it the coupling is γ m, as for a, b independent of X.
    """
    _check_choice("weights", weights, WEIGHTS)
    T = int(T)
    inv = 0.0 if N is None else 1.0 / N
    gaussian = weights == "gaussian"

    def at(v, t):
        v = np.asarray(v, dtype=float)
        return float(v) if v.ndim == 0 else float(v[t - 1])

    mean = np.ones(T + 1)
    m2 = np.ones(T + 1)
    p, d, mm = 1.0, 1.0, 1.0  # τ(X²), (1/N) Σ X_ii², E[τ(X)²]
    c = memory["Q"] if memory else 0.0  # (1/N) Σ h_i² X_ii
    w2, w4 = sigma_w2, sigma_w2**2
    for t in range(1, T + 1):
        a2, a4, b2, b4, g = (at(v, t) for v in (alpha2, alpha4, beta2, beta4, gamma))
        chi = a2 + w2 * b2
        m = mean[t - 1]
        # τ(X) (1/N) Σ_i a_i² b_i² X_ii, the coupling of the gates to the diagonal of X
        Gm = memory["s2sp2"] * (c + memory["R"] * m) * m if memory else g * mm
        # τ(P²) + 2τ(PS) + 2τ(QQᵀ) + 2τ(Q²) + τ(S²), with P = D_a X D_a, Q = D_b W X D_a, S = D_b W X Wᵀ D_b
        common = a4 * d + a2**2 * (p - d) + 2 * w2 * Gm + 2 * w2 * a2 * b2 * p + 2 * w2 * g * p * inv
        if gaussian:  # E[(WXWᵀ)_ij²] = σ_w⁴ (δ_ij (m² + 2p/N) + p/N)
            S2 = w4 * (b4 * mm + b2**2 * p) + w4 * (2 * b4 - b2**2) * p * inv
            d_fluct = 2 * w4 * b4 * p * inv
        else:  # Haar: E[(OXOᵀ)_ii²] = m² + 2(p − m²)/(N + 2), Σ_j (OXOᵀ)_ij² = (X²)_ii
            S2 = w4 * (b4 * mm + b2**2 * (p - mm)) + 2 * w4 * (b4 - b2**2) * (p - mm) * inv
            d_fluct = 2 * w4 * b4 * (p - mm) * inv
        p_new = common + S2
        d_new = a4 * d + 2 * w2 * Gm + w4 * b4 * mm + 4 * w2 * g * p * inv + d_fluct
        mm = chi**2 * mm + ((a4 - a2**2) * d + w4 * (b4 - b2**2) * mm + 2 * w2 * (g - a2 * b2) * mm) * inv
        if memory:
            c = memory["u4"] * c + memory["u2v2"] * memory["R"] * m + w2 * m * at(memory["H"], t)
        p, d = p_new, d_new
        mean[t] = chi * mean[t - 1]
        m2[t] = p
    return mean, m2


@dataclass
class JacobianTheory:
    """Theory curves for t = 0..T (arrays of length T + 1) and their ingredients, for one untied ensemble.

    mean = χ₁ᵗ; m2 and var = m2 − mean² from :func:`jacobian_moments` (at width N, or N → ∞ when N is None);
    var_free = the free-probability product of the same one-step factors (normalised variances add:
    var/mean² = Σ_t v_t/χ₁²), i.e. what an S-transform argument gives with corrected one-step moments; eq12 = eq. 12
    as printed (the "m2" reading), eq12_centered = eq12 − χ₁^{2t} (the "variance" reading). The last three are N → ∞.
    """

    chi_1: float
    N: int | None
    mean: np.ndarray
    m2: np.ndarray
    var: np.ndarray
    var_free: np.ndarray
    eq12: np.ndarray
    eq12_centered: np.ndarray
    ingredients: dict

    @property
    def nvar(self) -> np.ndarray:
        """var/mean², the scale-free spread of the spectrum."""
        return self.var / self.mean**2

    @property
    def slope(self) -> float:
        """Growth of var/mean² in the last step (at χ₁ = 1 and N → ∞: the asymptotic slope of var against T)."""
        r = self.var / self.mean**2
        return float(r[-1] - r[-2])


def _eq12(chi, mu1, mu2, s1sq, s2sq, s1, t):
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        return chi ** (2 * t) * (1.0 + t * (2.0 * (mu1 - s1) * mu2 + s1sq + s2sq) / chi**2)


def _finish(chi, alpha2, alpha4, beta2, beta4, gamma, sw2, weights, T, N, paper, ingredients,
            memory=None) -> JacobianTheory:
    t = np.arange(T + 1)
    s1 = S1[weights]
    mean, m2 = jacobian_moments(alpha2, alpha4, beta2, beta4, gamma, sw2, weights, T, N, memory)
    b2 = np.broadcast_to(np.asarray(beta2, float), (T,))
    b4 = np.broadcast_to(np.asarray(beta4, float), (T,))
    # the one-step variance of J_t J_tᵀ (the recursion's p − χ₁² from X = I, m = p = d = 1)
    v = (alpha4 - alpha2**2) + sw2**2 * (b4 - (1.0 + s1) * b2**2) + 2 * sw2 * gamma
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        var_free = mean**2 * np.concatenate([[0.0], np.cumsum(v) / chi**2])
        eq12 = _eq12(chi, *paper, s1, t)
        centered = eq12 - chi ** (2 * t)
    return JacobianTheory(chi_1=float(chi), N=N, mean=mean, m2=m2, var=m2 - mean**2, var_free=var_free, eq12=eq12,
                          eq12_centered=centered, ingredients=ingredients)


def minimal_theory(sigma_w: float, sigma_v: float, R: float, mu_b: float, T: int, weights: str = "gaussian",
                   sigma_b: float = 0.0, N: int | None = None, Q_star: float | None = None,
                   unit_memory: bool = True) -> JacobianTheory:
    """Spectral moments of JJᵀ for the untied minimalRNN at its fixed point (Sec. 3.2.2), t = 0..T.

    Ingredients at e ~ N(μ_b, q*): α2 = μ1 = E[σ²], α4 = E[σ⁴], β2 = E[σ'²](Q* + R) (so μ2 = σ_w² β2),
    β4_t = E[σ'⁴](E[h⁴]_{t−1} + 6 Q* R + 3 R²), γ = E[σ² σ'²](Q* + R); see the module docstring. ``Q_star``: the
    fixed point the networks start at (default: ``rnnmf.theory.minimal.Q_star``, the smallest one; pass Algorithm
    1's Q* where the Q map has several).
    """
    from rnnmf.theory import minimal as mt
    from rnnmf.theory.gaussian import expect_1d, sigmoid_parts

    if Q_star is None:
        Q, q = mt.Q_star(sigma_w, sigma_v, R, mu_b, sigma_b)
    else:
        Q, q = Q_star, sigma_w**2 * Q_star + sigma_v**2 * R + sigma_b**2

    def f(u):
        s, sb, sp, _ = sigmoid_parts(u)
        s2, sp2 = s * s, sp * sp
        return s2, s2 * s2, sp2, sp2 * sp2, s2 * sp2, s2 * sb * sb, (sb * sb) ** 2, s * sb * sp2, sb * sb * sp2

    a2, a4, e_sp2, e_sp4, e_s2sp2, e_u2v2, e_v4, e_uvsp2, e_v2sp2 = (float(v) for v in expect_1d(f, q, mu_b))
    sw2 = sigma_w**2
    K4 = np.empty(T)  # E[h⁴] entering step t: Gaussian h⁰, then the gated mixture relaxes
    k4 = 3.0 * Q * Q
    for i in range(T):
        K4[i] = k4
        k4 = a4 * k4 + 6.0 * e_u2v2 * Q * R + 3.0 * e_v4 * R * R
    beta2 = e_sp2 * (Q + R)
    beta4 = e_sp4 * (K4 + 6.0 * Q * R + 3.0 * R * R)
    gamma = e_s2sp2 * (Q + R)
    # E[h'² σ'(e)² (h − x̃)²] with h' = u h + (1 − u) x̃: how the new X_ii (through b²) and the new h_i² co-vary
    H = e_s2sp2 * K4 + Q * R * (e_s2sp2 - 4.0 * e_uvsp2 + e_v2sp2) + 3.0 * R * R * e_v2sp2
    memory = {"s2sp2": e_s2sp2, "u4": a4, "u2v2": e_u2v2, "H": H, "Q": Q, "R": R} if unit_memory else None
    chi = a2 + sw2 * beta2
    mu2 = sw2 * beta2
    paper = (a2, mu2, a4 - a2**2, sw2**2 * (Q * Q + R * R) * e_sp4 - mu2**2)  # (μ1, μ2, σ1², σ2²) as printed
    ingredients = {"Q_star": float(Q), "q_star": float(q), "mu1": a2, "mu2": mu2, "sigma1_sq": paper[2],
                   "sigma2_sq": paper[3], "alpha4": a4, "gamma": gamma, "beta2": beta2,
                   "beta4_first": float(beta4[0]) if T else float("nan"),
                   "beta4_stationary": e_sp4 * (k4 + 6.0 * Q * R + 3.0 * R * R), "E_h4_stationary": float(k4),
                   "E_sp4": e_sp4}
    return _finish(chi, a2, a4, beta2, beta4, gamma, sw2, weights, T, N, paper, ingredients, memory)


def vanilla_theory(sigma_w: float, sigma_v: float, R: float, T: int, weights: str = "gaussian", sigma_b: float = 0.0,
                   mu_b: float = 0.0, N: int | None = None) -> JacobianTheory:
    """Spectral moments of JJᵀ for the untied vanilla RNN at q*, t = 0..T: the feed-forward result of Pennington,
    Schoenholz & Ganguli (2017) with D = φ'(e): var/mean² = T (E[φ'⁴]/E[φ'²]² − 1 − s1), mean = χ₁ᵗ, χ₁ = σ_w² E[φ'²].

    eq12/eq12_centered apply eq. 12 with μ1 = σ1² = 0, μ2 = χ₁ and σ2² = σ_w⁴ E[φ'⁴] − χ₁² (the vanilla reading).
    """
    from rnnmf.theory import vanilla as vt
    from rnnmf.theory.gaussian import TANH_POLE, expect_1d, tanh_prime

    q = float(vt.q_star(sigma_w, sigma_v, R, sigma_b, mu_b))

    def f(u):
        tp2 = tanh_prime(u) ** 2
        return tp2, tp2 * tp2

    b2, b4 = (float(v) for v in expect_1d(f, q, mu_b, pole=TANH_POLE))
    sw2 = sigma_w**2
    chi = sw2 * b2
    paper = (0.0, chi, 0.0, sw2**2 * b4 - chi**2)
    ingredients = {"q_star": q, "mu1": 0.0, "mu2": chi, "sigma1_sq": 0.0, "sigma2_sq": paper[3], "beta2": b2,
                   "beta4_first": b4, "beta4_stationary": b4}
    return _finish(chi, 0.0, 0.0, b2, b4, 0.0, sw2, weights, T, N, paper, ingredients)
