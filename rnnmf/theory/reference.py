"""Slow, point-by-point reference implementations with adaptive ``scipy.integrate.quad`` and ``scipy.optimize.brentq``.

Independent of ``gaussian.py``'s lattice rules: used by the tests to check every integral and fixed point, and by
``bench.py`` as the baseline the vectorised code is timed against.  Scalars only.

Integrals are split at the centre of the steep sigmoid/tanh transition (u = 0, i.e. z = -mu_b / sqrt(q)) so the
adaptive rule sees the feature; 2-D integrals are nested ``quad`` calls (what ``dblquad`` does), with the inner
break points placed where u2 = 0 for the current z1.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import integrate, optimize

from rnnmf.theory.gaussian import sigmoid, sigmoid_prime, tanh_prime

SQRT_2PI = math.sqrt(2.0 * math.pi)
EPSREL = 1e-13
Z_MAX = 14.0  # beyond |z| = 14 the normal density is < 1e-42


def _pieces(center: float, width: float) -> list[float]:
    pts = {-Z_MAX, Z_MAX}
    for p in (center - width, center, center + width):
        if -Z_MAX < p < Z_MAX:
            pts.add(p)
    return sorted(pts)


def _quad(fun, center, width, epsrel=EPSREL):
    pts = _pieces(center, width)
    return sum(
        integrate.quad(fun, lo, hi, epsabs=0.0, epsrel=epsrel, limit=400)[0]
        for lo, hi in zip(pts[:-1], pts[1:], strict=True)
    )


def quad_1d(f, q: float, mu_b: float = 0.0, epsrel: float = EPSREL) -> float:
    """E[f(sqrt(q) z + mu_b)] by adaptive quadrature."""
    sq = math.sqrt(q)
    if sq == 0.0:
        return float(f(np.float64(mu_b)))

    def integrand(z):
        return f(sq * z + mu_b) * math.exp(-0.5 * z * z) / SQRT_2PI

    return _quad(integrand, -mu_b / sq, 3.0 / sq, epsrel)


def quad_2d(f, g, q: float, c: float, mu_b: float = 0.0, epsrel: float = EPSREL) -> float:
    """E[f(u1) g(u2)], u1 = sqrt(q) z1 + mu_b, u2 = sqrt(q)(c z1 + sqrt(1 - c^2) y) + mu_b, by nested quad."""
    sq = math.sqrt(q)
    s = math.sqrt(max(0.0, (1.0 - c) * (1.0 + c)))
    if s * sq < 1e-12:  # |c| = 1: u2 = c (u1 - mu_b) + mu_b exactly
        return quad_1d(lambda u: f(u) * g(c * (u - mu_b) + mu_b), q, mu_b, epsrel)

    def inner(z1):
        m = sq * c * z1 + mu_b
        b = sq * s

        def h(y):
            return g(m + b * y) * math.exp(-0.5 * y * y) / SQRT_2PI

        return _quad(h, -m / b, 3.0 / b, epsrel)

    def outer(z1):
        return f(sq * z1 + mu_b) * math.exp(-0.5 * z1 * z1) / SQRT_2PI * inner(z1)

    return _quad(outer, -mu_b / sq, 3.0 / sq, epsrel)


def _sig(u):
    return float(sigmoid(u))


def _sigbar(u):
    return float(sigmoid(-u))


def _sigp(u):
    return float(sigmoid_prime(u))


# --- minimalRNN --------------------------------------------------------------------------------------------------


def minimal_Q_star(sigma_w, sigma_v, R, mu_b, sigma_b=0.0, xtol=1e-15):
    """(Q*, q*) by brentq on G(Q) = R b(q) - Q (1 - a(q)): the smallest root, after a geometric scan of (0, R]."""
    sw2, v = sigma_w**2, sigma_v**2 * R + sigma_b**2

    def G(Q):
        q = sw2 * Q + v
        b = quad_1d(lambda u: _sigbar(u) ** 2, q, mu_b)
        one_minus_a = quad_1d(lambda u: _sigbar(u) * (1.0 + _sig(u)), q, mu_b)  # 1 - s^2 without cancellation
        return R * b - Q * one_minus_a

    grid = R * np.geomspace(1e-6, 1.0, 61)
    lo = 0.0
    for Q in grid:
        if G(Q) <= 0:
            Q = optimize.brentq(G, lo, Q, xtol=xtol, rtol=4 * np.finfo(float).eps)
            return Q, sw2 * Q + v
        lo = Q
    raise AssertionError("G(R) < 0 always; unreachable")


def minimal_chi_1(sigma_w, sigma_v, R, mu_b, sigma_b=0.0):
    Q, q = minimal_Q_star(sigma_w, sigma_v, R, mu_b, sigma_b)
    a = quad_1d(lambda u: _sig(u) ** 2, q, mu_b)
    p2 = quad_1d(lambda u: _sigp(u) ** 2, q, mu_b)
    return a + sigma_w**2 * (Q + R) * p2


def _minimal_G(c, q, Q, sw2, sv2, R, sb2, mu, S):
    A = quad_2d(_sig, _sig, q, c, mu)
    B = quad_2d(_sigbar, _sigbar, q, c, mu)
    rho = R * S / q
    return c * A + sw2 * rho * B + (sv2 * rho + sb2 / q) * (1.0 - A) - c


def minimal_c_star(sigma_w, sigma_v, R, mu_b, sigma_b=0.0, sigma12=0.0, xtol=1e-13):
    """c* by brentq: bracket [c(Q12 = 0), 1) for Sigma12 >= 0; for Sigma12 = 1 the root c = 1 is divided out."""
    sw2, sv2, sb2 = sigma_w**2, sigma_v**2, sigma_b**2
    Q, q = minimal_Q_star(sigma_w, sigma_v, R, mu_b, sigma_b)
    S = sigma12
    lo = (sv2 * R * S + sb2) / q
    if S == 0:
        return lo, (Q, q)
    if S == 1:
        if minimal_chi_1(sigma_w, sigma_v, R, mu_b, sigma_b) <= 1:
            return 1.0, (Q, q)

        def H(c):
            return _minimal_G(c, q, Q, sw2, sv2, R, sb2, mu_b, S) / (1.0 - c)

        return optimize.brentq(H, lo, 1.0 - 1e-9, xtol=xtol), (Q, q)
    return optimize.brentq(lambda c: _minimal_G(c, q, Q, sw2, sv2, R, sb2, mu_b, S), lo, 1.0, xtol=xtol), (Q, q)


def minimal_chi_c_star(sigma_w, sigma_v, R, mu_b, sigma_b=0.0, sigma12=0.0):
    """Eq. 9 with the shared-bias term, from quad_2d at (q*, c*)."""
    c, (Q, q) = minimal_c_star(sigma_w, sigma_v, R, mu_b, sigma_b, sigma12)
    A = quad_2d(_sig, _sig, q, c, mu_b)
    D = quad_2d(_sigp, _sigp, q, c, mu_b)
    return A + (q * c + (sigma_w**2 - sigma_v**2) * R * sigma12 - sigma_b**2) * D


def minimal_tau(sigma_w, sigma_v, R, mu_b, sigma_b=0.0, sigma12=0.0):
    chi = minimal_chi_c_star(sigma_w, sigma_v, R, mu_b, sigma_b, sigma12)
    return math.inf if chi >= 1 else -1.0 / math.log(abs(chi))


# --- vanilla RNN -------------------------------------------------------------------------------------------------


def vanilla_q_star(sigma_w, sigma_v, R, sigma_b=0.0, mu_b=0.0, xtol=1e-15):
    """q* by brentq on [v, v + sigma_w^2] (v = sigma_v^2 R + sigma_b^2); needs v > 0 or mu_b != 0."""
    sw2, v = sigma_w**2, sigma_v**2 * R + sigma_b**2

    def G(q):
        return sw2 * quad_1d(lambda u: math.tanh(u) ** 2, q, mu_b) + v - q

    return optimize.brentq(G, v, v + sw2, xtol=xtol, rtol=4 * np.finfo(float).eps)


def vanilla_c_star(sigma_w, sigma_v, R, sigma_b=0.0, mu_b=0.0, sigma12=0.0, xtol=1e-13):
    """c* by brentq on [0, 1] for Sigma12 in [0, 1]; known roots at c = 0 (odd map) or c = 1 are divided out."""
    sw2 = sigma_w**2
    q = vanilla_q_star(sigma_w, sigma_v, R, sigma_b, mu_b)

    def G(c):
        pp = quad_2d(math.tanh, math.tanh, q, c, mu_b)
        return (sw2 * pp + sigma_v**2 * R * sigma12 + sigma_b**2) / q - c

    tp = lambda u: float(tanh_prime(u))  # noqa: E731
    root_hi = sigma_v == 0 or sigma12 == 1
    if root_hi and sw2 * quad_1d(lambda u: tp(u) ** 2, q, mu_b) <= 1:
        return 1.0, q
    root_lo = (mu_b == 0 or sw2 == 0) and sigma_b == 0 and (sigma_v == 0 or sigma12 == 0)
    if root_lo and sw2 * quad_1d(tp, q, mu_b) ** 2 <= 1:
        return 0.0, q
    lo, hi = (1e-9 if root_lo else 0.0), (1.0 - 1e-9 if root_hi else 1.0)
    return optimize.brentq(
        lambda c: G(c) / (c if root_lo else 1.0) / (1.0 - c if root_hi else 1.0), lo, hi, xtol=xtol
    ), q


def vanilla_chi_c_star(sigma_w, sigma_v, R, sigma_b=0.0, mu_b=0.0, sigma12=0.0):
    c, q = vanilla_c_star(sigma_w, sigma_v, R, sigma_b, mu_b, sigma12)
    tp = lambda u: float(tanh_prime(u))  # noqa: E731
    return sigma_w**2 * quad_2d(tp, tp, q, c, mu_b)


def vanilla_tau(sigma_w, sigma_v, R, sigma_b=0.0, mu_b=0.0, sigma12=0.0):
    chi = vanilla_chi_c_star(sigma_w, sigma_v, R, sigma_b, mu_b, sigma12)
    return math.inf if chi >= 1 else -1.0 / math.log(chi)
