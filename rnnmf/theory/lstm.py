"""Mean-field theory of torch's ``nn.LSTM`` with untied weights (docs/gated-mean-field.md, sec. 3, eq. 16-25).

    i, f, o = sigma(W_k x + U_k h + b_k),  g = tanh(W_g x + U_g h + b_g),  c' = f * c + i * g,  h' = o * tanh(c').

With fresh weights every step the four gate pre-activations of a unit are Gaussian with variances
q_k = sigma_w_k^2 Q + sigma_v_k^2 R + sigma_b_k^2 (Q = E[h^2]) and independent of that unit's (c, h) (eq. 5, 16), so
c follows the scalar random affine recursion c' = f c + xi, xi = i g, with i.i.d. coefficients (eq. 17), and
Q' = E[o^2] E[tanh^2 c'].  Its stationary law is not Gaussian, and it is computed here without sampling, exactly up to
quadrature: the characteristic function of the centred c obeys phi(s) = phi_xi(s) E_f[e^{is(f-1)mu} phi(f s)]
(eq. 18), solved as one linear system on a Chebyshev grid in s, and E[tanh^2 c] = 1 - E[sech^2 c] is one integral of
phi against the Fourier transform of sech^2 (eq. 19).  chi_1, the per-step growth of the mean squared singular value
of the (c, h) Jacobian product, is the leading eigenvalue of the linear map of the tangent moments
(psi(s) = E[dc^2 e^{isc}], E[dh^2]) (eq. 21-23), and tau at Sigma12 = 1 is -1/log chi_1 in the ordered phase.

Two inputs need the joint law of (c_a, c_b) (eq. 25): it is evolved by population dynamics, P scalar unit pairs whose
gates are drawn from the exact Gaussian pair law given the population's second moments, i.e. the untied network at
width P; statistical error ~1/sqrt(P), stated with each result.  c is the hidden-state cosine Q12 / Q.

Hyper-parameters are keyword arguments (``rnnmf.theory.gated``): R, sigma_w, sigma_v, sigma_b or per gate
sigma_w_i, ..., mu_i, mu_f, mu_g, mu_o.  Functions loop over points (~0.1-0.3 s each for the deterministic part).
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import numpy as np

from rnnmf.errors import RnnmfError
from rnnmf.theory import _validate as V
from rnnmf.theory._common import timescale
from rnnmf.theory._roots import brent
from rnnmf.theory.gated import GATES, as_float_dict, gate_var, resolve
from rnnmf.theory.gaussian import SIGMOID_POLE, TANH_POLE, lattice, order_for, sigmoid_parts, tanh_prime

__all__ = ["fixed_point", "diagonal", "chi_1", "jacobian_mean", "one_step_metric", "stationary_sample", "c_trajectory",
           "c_star", "tau", "summary"]

K_LAW, HALF_WIDTH_LAW = 0.7, 7.0  # gate lattices: trapezoid error ~exp(-2 pi^2 / k) ~ 6e-13, tails ~3e-12
S_MAX = 22.0  # the sech^2 and sech^4 kernels are < 1e-12 beyond s = 22
S_SPREAD = 12.0  # and a law of standard deviation sd has |phi| ~ exp(-72) beyond s = 12 / sd when near Gaussian
W_MIN = 1e-18  # lattice nodes of smaller weight are dropped


def _dot(a, w):
    """a @ w over the last axis without BLAS: a threaded OpenBLAS gemv took 28 ms on this loaded 2-core machine where
    einsum took 0.14 ms."""
    return np.einsum("...j,j->...", a, w)


def _solve(A: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Gaussian elimination with partial pivoting, one vectorised row update per pivot: no LAPACK, whose threaded
    OpenBLAS spent 80 ms on a 90 x 90 complex solve under load (median 0.1 ms, spikes to 0.25 s)."""
    A = np.array(A, dtype=complex)
    x = np.array(b, dtype=complex)
    n = A.shape[0]
    for k in range(n):
        piv = k + int(np.argmax(np.abs(A[k:, k])))
        if piv != k:
            A[[k, piv]] = A[[piv, k]]
            x[[k, piv]] = x[[piv, k]]
        factor = A[k + 1:, k] / A[k, k]
        A[k + 1:, k:] -= factor[:, None] * A[k, k:]
        x[k + 1:] -= factor * x[k]
    for k in range(n - 1, -1, -1):
        x[k] = (x[k] - _dot(A[k, k + 1:], x[k + 1:])) / A[k, k]
    return x


# --- Chebyshev grid in s ---------------------------------------------------------------------------------------


def _chebyshev(n: int, S: float):
    """Chebyshev-Lobatto nodes s_j = S (1 + cos(pi j / n)) / 2 (s_0 = S, s_n = 0), the differentiation matrix,
    barycentric weights and Clenshaw-Curtis weights for the integral over [0, S]."""
    x, D, bary, w = _chebyshev_unit(n)
    return S * (1.0 + x) / 2.0, D * (2.0 / S), bary, w * (S / 2.0)


@functools.cache
def _chebyshev_unit(n: int):
    """The same on [-1, 1] (cached per order: a search asks for the same few orders again and again)."""
    j = np.arange(n + 1)
    x = np.cos(np.pi * j / n)
    c = np.where((j == 0) | (j == n), 2.0, 1.0) * (-1.0) ** j
    X = x[:, None] - x[None, :]
    D = np.outer(c, 1.0 / c) / (X + np.eye(n + 1))
    D -= np.diag(D.sum(axis=1))
    bary = (-1.0) ** j * np.where((j == 0) | (j == n), 0.5, 1.0)
    theta = np.pi * j / n
    w = np.zeros(n + 1)
    v = np.ones(n - 1)
    if n % 2 == 0:
        w[0] = w[n] = 1.0 / (n * n - 1)
        for k in range(1, n // 2):
            v -= 2.0 * np.cos(2 * k * theta[1:-1]) / (4 * k * k - 1)
        v -= np.cos(n * theta[1:-1]) / (n * n - 1)
    else:
        w[0] = w[n] = 1.0 / (n * n)
        for k in range(1, (n - 1) // 2 + 1):
            v -= 2.0 * np.cos(2 * k * theta[1:-1]) / (4 * k * k - 1)
    w[1:-1] = 2.0 * v / n
    for a in (x, D, bary, w):
        a.setflags(write=False)
    return x, D, bary, w


def _interp(s, bary, t):
    """Barycentric interpolation matrices: values at the nodes s -> values at points t (shape (..., m)).

    Four passes over the (..., m) array; a point on a node (only t = 0 = s_n in practice) gives an infinite term, and
    its row is replaced by the node's indicator."""
    M = np.subtract.outer(t, s)
    with np.errstate(divide="ignore", invalid="ignore"):
        np.divide(bary, M, out=M)
        total = M.sum(axis=-1, keepdims=True)
        M *= 1.0 / total
    bad = ~np.isfinite(total[..., 0])
    if bad.any():
        M[bad] = np.asarray(t)[bad][:, None] == s
    return M


def _kernel2(s):
    """Fourier transform of sech^2: pi s / sinh(pi s / 2) (2 at s = 0)."""
    s = np.asarray(s, dtype=float)
    safe = np.where(s > 0, s, 1.0)
    return np.where(s > 0, np.pi * safe / np.sinh(np.pi * safe / 2), 2.0)


def _kernel4(s):
    """Fourier transform of sech^4: pi s (4 + s^2) / (6 sinh(pi s / 2)) (4/3 at s = 0)."""
    s = np.asarray(s, dtype=float)
    safe = np.where(s > 0, s, 1.0)
    return np.where(s > 0, np.pi * safe * (4 + safe * safe) / (6 * np.sinh(np.pi * safe / 2)), 4.0 / 3.0)


# --- the stationary law of c (eq. 17-20) -------------------------------------------------------------------------


def _nodes(q: float, mu: float, pole: float):
    """Lattice nodes a = mu + sqrt(q) z and weights for one gate, nodes of negligible weight dropped."""
    z, w = lattice(int(order_for(q * (math.pi / pole) ** 2, K_LAW, HALF_WIDTH_LAW)), HALF_WIDTH_LAW)
    keep = w > W_MIN
    return mu + math.sqrt(q) * z[keep], w[keep]


class Law(NamedTuple):
    """The stationary law of c at one point: centred characteristic function phi on the grid s, and the pieces of the
    tangent map (eq. 22)."""

    Q: float
    mu: float  # E[c]
    sd: float  # standard deviation of c
    s: np.ndarray
    D: np.ndarray
    cw: np.ndarray
    phi: np.ndarray  # E[exp(i s (c - mu))]
    phi_xi: np.ndarray
    kappa_xi: np.ndarray  # E[(sigma_w_i^2 g^2 sigma'(a_i)^2 + sigma_w_g^2 i^2 tanh'(a_g)^2) e^{i s xi}]
    A: np.ndarray  # sum_f w e^{is(f-1)mu} I(f): the map phi -> E_f[e^{is(f-1)mu} phi(f s)]
    A2: np.ndarray  # the same weighted by f^2
    Ap: np.ndarray  # weighted by sigma'(a_f)^2
    tanh2: float  # E[tanh^2 c]


def _law(p: dict, Q: float, tangent: bool = True) -> Law:
    """Solve eq. 18 for the stationary law of c when E[h^2] = Q (p: one point's hyper-parameters as floats).
    ``tangent=False`` skips the pieces only the tangent map needs (kappa_xi, A2, Ap are then None).

    xi = i g with i and g independent, so phi_xi(s) = E_i[phi_g(s i)] with phi_g(u) = E[e^{iu g}] a 1-D transform:
    phi_g is computed on the Chebyshev grid and interpolated at the points s i (|g| < 1 makes it band-limited, so the
    interpolant is exact to rounding at the grid sizes used), n_i + n_g exponentials per node instead of n_i n_g.
    """
    a_f, w_f = _nodes(gate_var(p, "f", Q), p["mu_f"], SIGMOID_POLE)
    a_i, w_i = _nodes(gate_var(p, "i", Q), p["mu_i"], SIGMOID_POLE)
    a_g, w_g = _nodes(gate_var(p, "g", Q), p["mu_g"], TANH_POLE)
    f, _, fp, _ = sigmoid_parts(a_f)
    i, _, ip, _ = sigmoid_parts(a_i)
    g, gp = np.tanh(a_g), tanh_prime(a_g)
    Ef, Ef2 = _dot(f, w_f), _dot(f * f, w_f)
    Exi, Exi2 = _dot(i, w_i) * _dot(g, w_g), _dot(i * i, w_i) * _dot(g * g, w_g)
    mu = Exi / (1.0 - Ef)  # eq. 17 at stationarity
    var = max((Exi2 + 2.0 * Ef * Exi * mu) / (1.0 - Ef2) - mu * mu, 0.0)
    sd = math.sqrt(var)
    S = min(S_MAX, S_SPREAD / max(sd, 1e-12))
    n = int(np.clip(math.ceil(1.3 * (8.0 * sd + 1.0) * S / 2.0) + 24, 48, 600))  # resolves e^{is(c - mu)} to 8 sd
    s, D, bary, cw = _chebyshev(n, S)
    E_g = np.exp(1j * np.outer(s, g))  # e^{i s g} on the grid
    w_is = (w_i, w_i * ip * ip, w_i * i * i) if tangent else (w_i,)
    P = _contract(np.stack(w_is)[:, :, None], _interp(s, bary, np.outer(s, i)))  # E_i[w(i) phi(s i)] as matrices
    phi_xi = _dot(P[0], _dot(E_g, w_g))
    # f-average: phi -> E_f[w(f) e^{is(f - 1) mu} phi(f s)], w = 1, f^2, sigma'(a_f)^2
    phase = np.exp(1j * np.outer(f - 1.0, s) * mu)  # (k, j)
    w_fs = (w_f, w_f * f * f, w_f * fp * fp) if tangent else (w_f,)
    A_all = _contract(np.stack(w_fs)[:, :, None] * phase, _interp(s, bary, np.outer(s, f)))
    A = A_all[0]
    kappa_xi = A2 = Ap = None
    if tangent:
        kappa_xi = (p["sigma_w_i"] ** 2 * _dot(P[1], _dot(E_g, w_g * g * g))
                    + p["sigma_w_g"] ** 2 * _dot(P[2], _dot(E_g, w_g * gp * gp)))
        A2, Ap = A_all[1], A_all[2]
    system = np.eye(n + 1) - phi_xi[:, None] * A
    system[n] = 0.0
    system[n, n] = 1.0  # phi(0) = 1 replaces the trivial equation at s = 0
    rhs = np.zeros(n + 1, dtype=complex)
    rhs[n] = 1.0
    phi = _solve(system, rhs)
    tanh2 = 1.0 - float(_dot(np.real(np.exp(1j * s * mu) * phi) * _kernel2(s), cw)) / np.pi  # eq. 19
    return Law(Q, mu, sd, s, D, cw, phi, phi_xi, kappa_xi, A, A2, Ap, tanh2)


def _contract(weights: np.ndarray, M: np.ndarray) -> np.ndarray:
    """sum_k weights[q, k, j] M[j, k, m] -> (q, j, m): weighted sums over the gate nodes k of the interpolation
    matrices M (real, laid out (node s_j, gate node k, grid node m)), with real or complex weights (broadcast over j),
    as batched real matrix products."""
    Wt = np.moveaxis(weights, 2, 0)  # (j or 1, q, k)
    out = np.matmul(Wt.real, M) + 1j * np.matmul(Wt.imag, M) if np.iscomplexobj(Wt) else np.matmul(Wt, M)
    return out.transpose(1, 0, 2)


def _o_moments(p: dict, Q: float):
    a, w = _nodes(gate_var(p, "o", Q), p["mu_o"], SIGMOID_POLE)
    o, _, op, _ = sigmoid_parts(a)
    return _dot(o * o, w), _dot(op * op, w)


SCAN = (0.0, 1e-8, 1e-6, 1e-4, 1e-3, 1e-2, 0.05, 0.15, 0.35, 0.7, 1.0)


_CACHE: dict = {}
CACHE_SIZE = 64


def _fixed(p: dict, guess: float | None = None) -> Law:
    """Q* = E[o^2] E[tanh^2 c] (eq. 17 at stationarity): the smallest root of G(Q) = Q' - Q in [0, 1], bracketed by a
    scan and refined by Brent's method; Q* = 0 where G <= 0 on the whole scan (no input, no bias).  With a ``guess``
    (a nearby solution, e.g. the previous point of a search) secant steps from it are tried first.  Results are
    memoised by the hyper-parameters (a job asks for the same point's law many times)."""
    key = _key(p)
    if key not in _CACHE:
        _remember(p, _solve_fixed(p, guess))
    return _CACHE[key]


def _key(p: dict) -> tuple:
    return tuple(sorted((k, v) for k, v in p.items() if k != "sigma12"))


def _remember(p: dict, law: Law) -> None:
    if len(_CACHE) >= CACHE_SIZE:
        _CACHE.pop(next(iter(_CACHE)))
    _CACHE[_key(p)] = law


def _solve_fixed(p: dict, guess: float | None) -> Law:
    def G(Q):
        return _o_moments(p, Q)[0] * _law(p, Q, tangent=False).tanh2 - Q

    if guess is not None and guess > 0:
        x0, x1 = guess, guess * (1 + 1e-3)
        g0, g1 = G(x0), G(x1)
        for _ in range(30):
            if g1 == g0:
                break
            x0, x1, g0 = x1, x1 - g1 * (x1 - x0) / (g1 - g0), g1
            if not 0.0 < x1 <= 1.0:
                break
            g1 = G(x1)
            if abs(x1 - x0) <= 1e-14 * x1:
                return _law(p, x1)
    values = [G(Q) for Q in SCAN]
    for lo, hi, g_lo, g_hi in zip(SCAN[:-1], SCAN[1:], values[:-1], values[1:], strict=True):
        if g_lo > 0 >= g_hi:
            Q = hi if g_hi == 0 else brent(G, lo, hi, xtol=1e-15, rtol=1e-13)
            return _law(p, Q)
    return _law(p, 0.0)


def _smallest_root(p: dict, Q: float) -> bool:
    """Whether Q is the fixed point reached from h = 0 at ``p``: G(Q') = Q'' - Q' > 0 at every scan point below it
    (the check ``_solve_fixed``'s scan makes, without its refinement)."""
    below = [x for x in SCAN if x < Q * (1.0 - 1e-6)]
    return all(_o_moments(p, x)[0] * _law(p, x, tangent=False).tanh2 - x > 0 for x in below)


#: the recurrent field variances A = sigma_w^2 Q* scanned by ``critical_scale``: from A = 1/4 by factors of 4 towards
#: the crossing (up where chi_1 < 1 there, down where it is > 1), to A = 1e-5 at the least
FIELD_START, FIELD_STEP, FIELD_STEPS, FIELD_MIN = 0.25, 4.0, 12, 1e-5


def critical_scale(p: dict, scale_max: float):
    """chi_1 = 1 solved for a common factor x on every recurrent scale (``p``: one point, sigma_w_k the unscaled base;
    docs/gated-mean-field.md eq. 26), or None when the shortcut does not apply (the caller then searches in x).

    The law of c and E[o^2] depend on the scale only through the recurrent field variance A = x^2 Q* (eq. 4), so in
    terms of A each trial point is one solution of eq. 18, with Q* = E[o^2] E[tanh^2 c] and x^2 = A / Q* following
    directly: no fixed-point search inside the root search.  The crossing of chi_1 = 1 nearest A = 1/4 on a scan in
    factors of 4 is refined by Brent's method; the answer is kept only if its Q* is the fixed point reached from
    h = 0 at that x.  Returns (x, chi_1, law at Q*)."""

    def at(A):
        law = _law(p, A)
        Q = _o_moments(p, A)[0] * law.tanh2
        if not Q > 0:
            return None
        x = math.sqrt(A / Q)
        px = {**p, **{f"sigma_w_{k}": x * p[f"sigma_w_{k}"] for k in GATES["lstm"]}}
        law = law._replace(Q=Q, kappa_xi=x * x * law.kappa_xi)  # kappa_xi carries sigma_w_i^2, sigma_w_g^2
        return _leading(_tangent(px, law)) - 1.0, x, px, law

    prev = None
    first = at(FIELD_START)
    if first is None:
        return None
    step = FIELD_STEP if first[0] < 0 else 1.0 / FIELD_STEP  # towards the crossing
    for k in range(FIELD_STEPS):
        A = FIELD_START * step ** k
        cur = first if k == 0 else at(A)
        if cur is None or cur[1] > scale_max or A < FIELD_MIN:
            return None
        if prev is not None and (prev[1][0] < 0) != (cur[0] < 0):
            lo, hi = sorted((prev[0], A))
            A_root = brent(lambda a: at(a)[0], lo, hi, xtol=1e-15, rtol=1e-13)
            excess, x, px, law = at(A_root)
            if not _smallest_root(px, law.Q):
                return None
            _remember(px, law)  # what _fixed would find at this scale
            return x, excess + 1.0, law
        if cur[0] == 0.0:
            return cur[1], 1.0, cur[3]
        prev = (float(A), cur)
    return None


# --- the tangent map and chi_1 (eq. 21-24) -----------------------------------------------------------------------


def _tangent(p: dict, law: Law) -> np.ndarray:
    """The real matrix of one step of (Re psi, Im psi, P_h) -> its successor, psi(s) = E[dc^2 e^{is(c - mu)}] on the
    grid and P_h = E[dh^2] (eq. 22).  ``P_h`` drives fresh Gaussian gate perturbations W_k dh; dc keeps its unit's
    memory through f, hence psi rather than E[dc^2] alone."""
    s, phi, mu = law.s, law.phi, law.mu
    d1 = _dot(law.D, phi)
    chi2 = -_dot(law.D, d1) - 2j * mu * d1 + mu * mu * phi  # E[c^2 e^{iu(c - mu)}] on the grid
    Eo2, Eop2 = _o_moments(p, law.Q)
    u = p["sigma_w_f"] ** 2 * law.phi_xi * _dot(law.Ap, chi2) + _dot(law.A, phi) * law.kappa_xi
    B = law.phi_xi[:, None] * law.A2
    m = s.size
    M = np.zeros((2 * m + 1, 2 * m + 1))
    M[:m, :m], M[:m, m:2 * m] = B.real, -B.imag
    M[m:2 * m, :m], M[m:2 * m, m:2 * m] = B.imag, B.real
    M[:m, -1], M[m:2 * m, -1] = u.real, u.imag
    k4 = law.cw * _kernel4(s) / np.pi  # E[sech^4(c) dc^2] = (1/pi) int Re[e^{is mu} psi] k4 (eq. 20)
    kr, ki = k4 * np.cos(s * mu), -k4 * np.sin(s * mu)
    M[-1, :] = Eo2 * (_dot(M[:m, :].T, kr) + _dot(M[m:2 * m, :].T, ki))
    M[-1, -1] += p["sigma_w_o"] ** 2 * Eop2 * law.tanh2
    return M


POWER_TOL, POWER_SWEEP, POWER_SQUARINGS = 1e-14, 30, 40


def _leading(M: np.ndarray) -> float:
    """The Perron eigenvalue of the (positive) tangent map (:func:`_perron`)."""
    return _perron(M)[0]


def _perron(M: np.ndarray) -> tuple[float, np.ndarray]:
    """(Perron eigenvalue, its unit eigenvector) of the positive tangent map, by power iteration on einsum products
    (a threaded LAPACK eigvals of this 200 x 200 matrix took 1-2.5 s on the loaded 2-core machine, and the map is
    positive: its leading eigenvalue is real and simple).  Where the second eigenvalue is close in modulus
    (|l2/l1| > 0.99 near a fixed point of slow memory took thousands of steps), the iteration switches to
    B = M^(2^k) by repeated squaring, after every ``POWER_SWEEP`` steps without convergence.  The estimate is the
    Rayleigh quotient of M itself at the current vector, converged when it changes by < 1e-14 relative."""
    x = np.ones(M.shape[0]) / math.sqrt(M.shape[0])
    B = M
    lam = math.nan
    for _ in range(POWER_SQUARINGS + 1):
        for _ in range(POWER_SWEEP):
            y = _dot(B, x)
            norm = float(np.sqrt(_dot(y, y)))
            if norm == 0.0:
                return 0.0, x
            x = y / norm
            new = float(_dot(_dot(M, x), x))
            if abs(new - lam) <= POWER_TOL * abs(new):
                return new, x
            lam = new
        B = np.einsum("ij,jk->ik", B, B)
        B /= np.abs(B).max()
    return lam, x


def _jacobian_mean(M: np.ndarray, law: Law, T: int) -> np.ndarray:
    """E[tr(J J^T)] / (2N) for J = d(c^t, h^t)/d(c^0, h^0), t = 0..T, from a stationary start (eq. 24): half the
    growth from an isotropic dc^0 (psi = phi, P_h = 0) plus half from an isotropic dh^0 (psi = 0, P_h = 1)."""
    m = law.s.size
    zero = m - 1  # the node s = 0: psi(0) = E[dc^2]
    start_c = np.concatenate([law.phi.real, law.phi.imag, [0.0]])
    start_h = np.zeros(2 * m + 1)
    start_h[-1] = 1.0
    out = np.empty(T + 1)
    x, y = start_c, start_h
    for t in range(T + 1):
        out[t] = 0.5 * (x[zero] + x[-1] + y[zero] + y[-1])
        x, y = _dot(M, x), _dot(M, y)
    return out


# --- population dynamics of the pair law (eq. 25) ------------------------------------------------------------------


def _quantiles(law: Law, u: np.ndarray) -> np.ndarray:
    """Inverse CDF of the stationary law at the uniforms u, from the density (1/pi) int Re[phi(s) e^{-is x}] ds."""
    half = 8.0 * law.sd + 1.0
    x = np.linspace(-half, half, 4001)
    dens = _dot(np.real(np.exp(-1j * np.outer(x, law.s)) * law.phi), law.cw) / np.pi
    dens = np.clip(dens, 0.0, None)
    cdf = np.concatenate([[0.0], np.cumsum(0.5 * (dens[1:] + dens[:-1]) * np.diff(x))])
    cdf /= cdf[-1]
    keep = np.concatenate([[True], np.diff(cdf) > 0])
    return law.mu + np.interp(u, cdf[keep], x[keep])


def _population_run(p: dict, law: Law, schedule, P: int, seed: int, start: str = "same") -> np.ndarray:
    """c^t = Q12 / sqrt(Q_a Q_b) for each Sigma12^t of ``schedule`` (see :func:`_population`)."""
    steps = _population(p, law, P, seed, start)
    next(steps)
    return np.array([steps.send(float(S)) for S in schedule])


def _sigmoid(x):
    return 0.5 + 0.5 * np.tanh(0.5 * x)


def _population(p: dict, law: Law, P: int, seed: int, start: str, groups: int = 0):
    """Evolve P unit pairs (c_a, c_b) from the stationary law (eq. 25): a generator that takes Sigma12^t by ``send``
    and answers c^t (with ``groups`` > 0: (c^t, the cosines of ``groups`` interleaved groups of units, unit j in
    group j mod groups, over the first P - P mod groups units); the groups only read the population, they do not
    change it).

    ``start``: "same" (both inputs from one state, c^0 = 1) or "independent" (the b state an independent draw from the
    same law).  The gates of step t are drawn from the exact Gaussian pair law given the population's (Q_a, Q_b, Q12),
    the inputs' R and Sigma12^t (eq. 4) and the shared bias, as in the untied network at width P.
    """
    rng = np.random.default_rng(int(seed))
    c_a = _quantiles(law, (np.arange(P) + 0.5) / P)  # stratified: a low-noise stationary start
    c_b = c_a.copy() if start == "same" else rng.permutation(c_a)
    q_o = gate_var(p, "o", law.Q)
    def output_gate():
        return _sigmoid(p["mu_o"] + math.sqrt(q_o) * rng.standard_normal(P))

    h_a = output_gate() * np.tanh(c_a)
    h_b = h_a.copy() if start == "same" else output_gate() * np.tanh(c_b)
    # gate constants in torch's order i, f, g, o; sigma(u) = (1 + tanh(u / 2)) / 2, so one tanh serves every gate
    gates = GATES["lstm"]
    mu = np.array([p[f"mu_{k}"] for k in gates])[:, None]
    sw2, sv2, sb2 = (np.array([p[f"{n}_{k}"] ** 2 for k in gates]) for n in ("sigma_w", "sigma_v", "sigma_b"))
    scale = np.array([0.5, 0.5, 1.0, 0.5])[:, None]
    offset = np.array([0.5, 0.5, 0.0, 0.5])[:, None]
    R = p["R"]
    S = yield
    while True:
        Qa, Qb, Q12 = _dot(h_a, h_a) / P, _dot(h_b, h_b) / P, _dot(h_b, h_a) / P
        caa, cbb, cab = sw2 * Qa + sv2 * R + sb2, sw2 * Qb + sv2 * R + sb2, sw2 * Q12 + sv2 * R * S + sb2
        l11 = np.sqrt(np.maximum(caa, 0.0))
        l21 = np.divide(cab, l11, out=np.zeros(4), where=l11 > 0)
        l22 = np.sqrt(np.maximum(cbb - l21 * l21, 0.0))
        z = rng.standard_normal((2, 4, P))  # one call: drawing the normals is most of the population's cost
        t_a = np.tanh(scale * (mu + l11[:, None] * z[0]))
        t_b = np.tanh(scale * (mu + l21[:, None] * z[0] + l22[:, None] * z[1]))
        act_a, act_b = offset + scale * t_a, offset + scale * t_b  # i, f, o: sigma; g: tanh
        c_a = act_a[1] * c_a + act_a[0] * act_a[2]
        c_b = act_b[1] * c_b + act_b[0] * act_b[2]
        h_a, h_b = act_a[3] * np.tanh(c_a), act_b[3] * np.tanh(c_b)
        den = math.sqrt(_dot(h_a, h_a) * _dot(h_b, h_b))
        c = float(_dot(h_a, h_b)) / den if den > 0 else 1.0
        if groups:
            g_a, g_b = (h[:P - P % groups].reshape(-1, groups) for h in (h_a, h_b))
            aa, bb, ab = (np.einsum("ij,ij->j", x, y) for x, y in ((g_a, g_a), (g_b, g_b), (g_a, g_b)))
            c = c, ab / np.sqrt(np.maximum(aa * bb, 1e-300))
        S = yield c


POPULATION = 1 << 16  # default population: statistical error of c* ~1e-3 (reported as c_star_se)
CHUNK_STEPS = 20
#: c_star_se is the spread of c* over this many interleaved groups of the population, divided by sqrt(groups)
SE_GROUPS = 16


def _pair_fixed(p: dict, law: Law, chi1: float, S: float, P: int, seed: int, max_steps: int):
    """(c*, chi_c*, standard error of c*) at constant Sigma12 from the population started at c^0 = 1 (at Sigma12 = 1,
    in the chaotic phase, from independent states).

    Steps are taken in chunks of 20 until the means of the last two chunks agree within their noise (or
    ``max_steps``); c* is the last chunk's mean and chi_c* the decay rate of a least-squares fit of log|c^t - c*|
    over the steps where that distance exceeds 4 noise standard deviations (the Monte Carlo's estimator).

    The standard error is the spread of the same last-chunk mean over ``SE_GROUPS`` interleaved groups of units,
    divided by sqrt(SE_GROUPS) (docs/gated-mean-field.md, eq. 25): c^t of one population is correlated from step to
    step (each unit's cell state keeps its memory through f, and a fluctuation of the population's Q12 feeds the next
    step's gates), so the step-to-step scatter of the last chunk over sqrt(20) understated the seed-to-seed spread
    of c* 1.3-4 times; a group's chunk mean carries all of that correlation, and the groups are independent given the
    population's moments.
    """
    if S == 1.0 and chi1 <= 1.0:
        return 1.0, chi1, 0.0
    # identical inputs keep identical states identical forever (c = 1 is an exact, here unstable, fixed point): the
    # chaotic phase at Sigma12 = 1 is approached from independent states instead
    groups = SE_GROUPS if P >= 4 * SE_GROUPS else 0
    steps = _population(p, law, P, seed, "independent" if S == 1.0 else "same", groups)
    next(steps)
    c: list[float] = []
    per_group: list[np.ndarray] = []
    while len(c) < max_steps:
        for _ in range(CHUNK_STEPS):
            out = steps.send(S)
            c.append(out[0] if groups else out)
            if groups:
                per_group.append(out[1])
        if len(c) >= 3 * CHUNK_STEPS:
            last, prev = np.array(c[-CHUNK_STEPS:]), np.array(c[-2 * CHUNK_STEPS:-CHUNK_STEPS])
            noise = max(float(last.std(ddof=1)), 1e-12)
            if abs(last.mean() - prev.mean()) < 2.0 * noise / math.sqrt(CHUNK_STEPS) + 1e-12:
                break
    traj = np.array(c)
    tail = traj[-CHUNK_STEPS:]
    c_star, noise = float(tail.mean()), float(tail.std(ddof=1))
    eps = np.abs(traj - c_star)
    above = eps > 4.0 * noise + 1e-12
    first_below = int(np.argmin(above)) if not above.all() else above.size
    t = np.arange(first_below, dtype=float)
    if first_below >= 3:
        chi = float(math.exp(np.polyfit(t, np.log(eps[:first_below]), 1)[0]))
    else:  # the population reached c* within noise in a step or two: a fast decay, chi_c* ~ 0
        chi = 0.0
    if groups:
        se = float(np.mean(per_group[-CHUNK_STEPS:], axis=0).std(ddof=1)) / math.sqrt(groups)
    else:  # too few units to group: the step-to-step scatter (an underestimate, see above)
        se = noise / math.sqrt(CHUNK_STEPS)
    return c_star, chi, se


# --- public API ----------------------------------------------------------------------------------------------------


class FixedPoint(NamedTuple):
    Q_star: float  # E[h^2]
    E_c: float  # E[c], the mean of the cell state
    sd_c: float  # its standard deviation


def _points(**params):
    return resolve("lstm", **params)


def _each(p: dict):
    for i in range(p["R"].size):
        yield i, as_float_dict(p, i)


def fixed_point(**params):
    """(Q*, E[c], sd(c)) at the stationary law (eq. 17-19); broadcasts over arrays of hyper-parameters."""
    p, shape, sc = _points(**params)
    out = np.empty((3, p["R"].size))
    for i, pp in _each(p):
        law = _fixed(pp)
        out[:, i] = law.Q, law.mu, law.sd
    return FixedPoint(*(V.out(o, shape, sc) for o in out))


def diagonal(**params) -> dict:
    """{Q_star, chi_1} (eq. 17-23) in one pass per point; broadcasts over arrays of hyper-parameters (a loop)."""
    p, shape, sc = _points(**params)
    Q, chi = np.empty(p["R"].size), np.empty(p["R"].size)
    for i, pp in _each(p):
        law = _fixed(pp)
        Q[i], chi[i] = law.Q, _leading(_tangent(pp, law))
    return {"Q_star": V.out(Q, shape, sc), "chi_1": V.out(chi, shape, sc)}


def chi_1(**params):
    """chi_1 (eq. 23): the per-step growth factor of E[|J v|^2] for the (c, h) Jacobian product at stationarity, the
    leading eigenvalue of the tangent map; gradients through T steps scale as chi_1^T."""
    p, shape, sc = _points(**params)
    out = np.empty(p["R"].size)
    for i, pp in _each(p):
        law = _fixed(pp)
        out[i] = _leading(_tangent(pp, law))
    return V.out(out, shape, sc)


def jacobian_mean(T: int, **params) -> np.ndarray:
    """The mean eigenvalue of J J^T, J = d(c^t, h^t)/d(c^0, h^0) over the 2N-dimensional state, for t = 0..T at
    stationarity (eq. 24).  Scalar hyper-parameters; returns an array of length T + 1 (it grows like chi_1^t)."""
    p, shape, _ = _points(**params)
    if shape != ():
        raise RnnmfError(f"jacobian_mean takes scalar hyper-parameters; got arrays of shape {shape}")
    pp = as_float_dict(p)
    law = _fixed(pp)
    return _jacobian_mean(_tangent(pp, law), law, int(T))


class OneStepMetric(NamedTuple):
    """The metric in which one LSTM step multiplies mean squared tangent norms by exactly chi_1 (eq. 27).

    A tangent (dc, dh) of the 2N-dimensional state is measured by (1/N) sum_i w(c_i) dc_i^2 + w_h dh_i^2, with w the
    left Perron eigenvector of the tangent map; ``w(c)`` evaluates it at cell states c.  ``chi_1`` is the eigenvalue,
    ``plain`` the unweighted one-step mean squared singular value (1/2N) tr J J^T at stationarity (eq. 24, t = 1)."""

    chi_1: float
    w_h: float
    mu: float
    s: np.ndarray
    l_re: np.ndarray
    l_im: np.ndarray
    plain: float

    def w(self, c):
        """w(c) = sum_j l_re,j cos(s_j (c - E[c])) + l_im,j sin(s_j (c - E[c])) (the functional on psi, eq. 27)."""
        arg = np.multiply.outer(np.asarray(c, dtype=float) - self.mu, self.s)
        return np.cos(arg) @ self.l_re + np.sin(arg) @ self.l_im


def one_step_metric(**params) -> OneStepMetric:
    """The chi_1-consistent one-step metric of the LSTM at stationarity (eq. 27); scalar hyper-parameters.

    With weights W = diag(w(c_i), w_h) before the step and W' = diag(w(c_i'), w_h) after it, the one-step mean
    squared singular value of W'^(1/2) J W^(-1/2) is chi_1 in the untied limit, for any stationary state: the
    weighted norm is the left eigenvector of the linear map of tangent moments (eq. 22), so it grows by exactly its
    eigenvalue in one step.  For the GRU the tangent state is one number and the metric is the plain one."""
    p, shape, _ = _points(**params)
    if shape != ():
        raise RnnmfError(f"one_step_metric takes scalar hyper-parameters; got arrays of shape {shape}")
    pp = as_float_dict(p)
    law = _fixed(pp)
    M = _tangent(pp, law)
    lam, left = _perron(np.ascontiguousarray(M.T))
    m = law.s.size
    left = left / left[-1]  # w_h = 1
    plain = float(_jacobian_mean(M, law, 1)[1])
    return OneStepMetric(lam, 1.0, law.mu, law.s, left[:m], left[m:2 * m], plain)


def stationary_sample(u, **params) -> np.ndarray:
    """Cell states with the stationary law of c (inverse CDF at the uniforms ``u``), for starting a simulation at the
    fixed point.  Scalar hyper-parameters."""
    p, shape, _ = _points(**params)
    if shape != ():
        raise RnnmfError(f"stationary_sample takes scalar hyper-parameters; got arrays of shape {shape}")
    return _quantiles(_fixed(as_float_dict(p)), np.asarray(u, dtype=float))


def c_trajectory(sigma12_schedule, start: str = "same", population: int = POPULATION, seed: int = 0, **params):
    """c^1..c^T (hidden-state cosine) for inputs with cosines Sigma12^t, from the stationary law with c^0 = 1
    (``start="same"``) or independent states (``"independent"``), by population dynamics of ``population`` unit
    pairs (eq. 25).  Scalar hyper-parameters; returns an array of shape (T,)."""
    if start not in ("same", "independent"):
        raise RnnmfError(f"start={start!r} is invalid; valid: same, independent")
    sched = np.atleast_1d(V.check("sigma12", sigma12_schedule)).astype(float)
    p, shape, _ = _points(**params)
    if shape != ():
        raise RnnmfError(f"c_trajectory takes scalar hyper-parameters; got arrays of shape {shape}")
    pp = as_float_dict(p)
    return _population_run(pp, _fixed(pp), sched, int(population), int(seed), start)


def c_star(population: int = POPULATION, seed: int = 0, max_steps: int = 2000, **params):
    """c* at constant Sigma12 (``sigma12``, default 1): 1 in the ordered phase at Sigma12 = 1, else from the
    population (statistical error ~1/sqrt(population))."""
    return summary(population=population, seed=seed, max_steps=max_steps, **params)["c_star"]


def tau(population: int = POPULATION, seed: int = 0, max_steps: int = 2000, **params):
    """tau = -1/log chi_c*: -1/log chi_1 at Sigma12 = 1 in the ordered phase (eq. 23), else the population's rate."""
    return summary(population=population, seed=seed, max_steps=max_steps, **params)["tau"]


SUMMARY_KEYS = ("Q_star", "E_c", "sd_c", "E_f", "chi_1", "c_star", "chi_c_star", "tau", "c_star_se")


def summary(population: int = POPULATION, seed: int = 0, max_steps: int = 2000, **params) -> dict:
    """Everything the CLI prints for an LSTM (keys ``SUMMARY_KEYS``); Sigma12 (``sigma12``) defaults to 1.

    c_star_se is the population's statistical error of c* (0 where c* = 1 is exact)."""
    if params.get("sigma12") is None:
        params["sigma12"] = 1.0
    p, shape, sc = _points(**params)
    out = {k: np.empty(p["R"].size) for k in SUMMARY_KEYS}
    for i, pp in _each(p):
        law = _fixed(pp)
        chi1 = _leading(_tangent(pp, law))
        a_f, w_f = _nodes(gate_var(pp, "f", law.Q), pp["mu_f"], SIGMOID_POLE)
        c, chi, se = _pair_fixed(pp, law, chi1, pp["sigma12"], int(population), int(seed), int(max_steps))
        for k, v in (("Q_star", law.Q), ("E_c", law.mu), ("sd_c", law.sd), ("E_f", w_f @ sigmoid_parts(a_f)[0]),
                     ("chi_1", chi1), ("c_star", c), ("chi_c_star", chi), ("c_star_se", se)):
            out[k][i] = v
    out["tau"] = timescale(out["chi_c_star"])
    return {k: V.out(v, shape, sc) for k, v in out.items()}
