"""Spectral moments of JJᵀ for random untied RNNs (Sec. 3.2.2, eq. 11-13), against which ``rnnmf.sim.jacobian``
measures exact Jacobians.

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

from dataclasses import dataclass

import numpy as np

from rnnmf.errors import RnnmfError
from rnnmf.theory import minimal, vanilla
from rnnmf.theory.gaussian import TANH_POLE, expect_1d, sigmoid_parts, tanh_prime

__all__ = ["S1", "JacobianTheory", "jacobian_moments", "minimal_theory", "vanilla_theory"]

#: s1, the first coefficient of the S-transform of W Wᵀ's spectrum (Pennington et al. 2018): τ((WWᵀ)²) = σ_w⁴(1 − s1)
S1 = {"gaussian": -1.0, "orthogonal": 0.0}


def jacobian_moments(alpha2, alpha4, beta2, beta4, gamma, *, sigma_w2: float, weights: str, T: int,
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
    if weights not in S1:
        raise RnnmfError(f"weights={weights!r} is invalid; valid: {', '.join(S1)}")
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


def _finish(chi, alpha2, alpha4, beta2, beta4, gamma, sw2, weights, T, N, paper, ingredients,
            memory=None) -> JacobianTheory:
    t = np.arange(T + 1)
    s1 = S1[weights]
    mean, m2 = jacobian_moments(alpha2, alpha4, beta2, beta4, gamma, sigma_w2=sw2, weights=weights, T=T, N=N,
                                memory=memory)
    b2 = np.broadcast_to(np.asarray(beta2, float), (T,))
    b4 = np.broadcast_to(np.asarray(beta4, float), (T,))
    # the one-step variance of J_t J_tᵀ (the recursion's p − χ₁² from X = I, m = p = d = 1)
    v = (alpha4 - alpha2**2) + sw2**2 * (b4 - (1.0 + s1) * b2**2) + 2 * sw2 * gamma
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        var_free = mean**2 * np.concatenate([[0.0], np.cumsum(v) / chi**2])
        mu1, mu2, sigma1_sq, sigma2_sq = paper
        eq12 = minimal.eq12(chi, mu1=mu1, mu2=mu2, sigma1_sq=sigma1_sq, sigma2_sq=sigma2_sq, T=t, s1=s1)
        centered = eq12 - chi ** (2 * t)
    return JacobianTheory(chi_1=float(chi), N=N, mean=mean, m2=m2, var=m2 - mean**2, var_free=var_free, eq12=eq12,
                          eq12_centered=centered, ingredients=ingredients)


def minimal_theory(sigma_w: float, sigma_v: float, R: float, *, mu_b: float, T: int, weights: str = "gaussian",
                   sigma_b: float = 0.0, N: int | None = None, Q_star: float | None = None,
                   unit_memory: bool = True) -> JacobianTheory:
    """Spectral moments of JJᵀ for the untied minimalRNN at its fixed point (Sec. 3.2.2), t = 0..T.

    Ingredients at e ~ N(μ_b, q*): α2 = μ1 = E[σ²], α4 = E[σ⁴], β2 = E[σ'²](Q* + R) (so μ2 = σ_w² β2),
    β4_t = E[σ'⁴](E[h⁴]_{t−1} + 6 Q* R + 3 R²), γ = E[σ² σ'²](Q* + R); see the module docstring. ``Q_star``: the
    fixed point the networks start at (default: ``rnnmf.theory.minimal.Q_star``, the smallest one; pass Algorithm
    1's Q* where the Q map has several).
    """
    if Q_star is None:
        Q, q = minimal.Q_star(sigma_w, sigma_v, R, mu_b=mu_b, sigma_b=sigma_b)
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


def vanilla_theory(sigma_w: float, sigma_v: float, R: float, *, T: int, weights: str = "gaussian",
                   sigma_b: float = 0.0, mu_b: float = 0.0, N: int | None = None) -> JacobianTheory:
    """Spectral moments of JJᵀ for the untied vanilla RNN at q*, t = 0..T: the feed-forward result of Pennington,
    Schoenholz & Ganguli (2017) with D = φ'(e): var/mean² = T (E[φ'⁴]/E[φ'²]² − 1 − s1), mean = χ₁ᵗ, χ₁ = σ_w² E[φ'²].

    eq12/eq12_centered apply eq. 12 with μ1 = σ1² = 0, μ2 = χ₁ and σ2² = σ_w⁴ E[φ'⁴] − χ₁² (the vanilla reading).
    """
    q = float(vanilla.q_star(sigma_w, sigma_v, R, sigma_b=sigma_b, mu_b=mu_b))

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
