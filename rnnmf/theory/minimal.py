"""Mean-field theory of the minimalRNN (Sec. 3.2, eq. 5-13; SI B-E), sigma = logistic sigmoid, untied weights.

    e = W h + V x~ + b,  u = sigma(e),  h' = u * h + (1 - u) * x~,
    W_ij ~ N(0, sigma_w^2/N), V_ij ~ N(0, sigma_v^2/N), b_i ~ N(mu_b, sigma_b^2) shared by both inputs,
    inputs x~ with second moment R and cosine Sigma12^t.

Second moments (eq. 6-7, 17, 21-22, 37-38), Q = E[h^2], Q12 = E[h_1 h_2], q = Var(e):

    q        = sigma_w^2 Q + sigma_v^2 R + sigma_b^2
    Q'       = Q E[sigma(u)^2] + R E[(1 - sigma(u))^2]                          u ~ N(mu_b, q)
    q c      = sigma_w^2 Q12 + sigma_v^2 R Sigma12 + sigma_b^2                  (shared bias: sigma_b^2 off-diagonal)
    Q12'     = Q12 E[sigma(u1) sigma(u2)] + R Sigma12 E[(1 - sigma(u1))(1 - sigma(u2))],   corr(u1, u2) = c

All sigma's are standard deviations.  Functions broadcast over hyper-parameters; scalars in give floats out.
Everything after (sigma_w, sigma_v, R) is passed by keyword: the vanilla RNN's functions order sigma_b and mu_b the
other way round, so a positional call would silently swap them.

Notation in the code: a = E[sigma^2], b = E[(1-sigma)^2], A(c) = E[sigma(u1) sigma(u2)], B(c) = E[(1-sigma)(1-sigma)],
D(c) = E[sigma'(u1) sigma'(u2)]; 1 - a and 1 - A are always formed without cancellation (they vanish as mu_b grows).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from rnnmf.theory import _validate as validate
from rnnmf.theory._common import timescale
from rnnmf.theory._roots import stable_crossing
from rnnmf.theory.gaussian import expect_1d, sigmoid_parts, tanh_pair_moments

__all__ = [
    "DiagonalFixedPoint",
    "Q_star",
    "q_star",
    "Q_map_slope",
    "xi_Q",
    "Q_star_stable",
    "c_map",
    "c_trajectory",
    "c_star",
    "chi_c_star",
    "chi_1",
    "tau",
    "mu1",
    "mu2",
    "sigma1_sq",
    "sigma2_sq",
    "eq12",
    "m2_JJT",
    "var_JJT",
    "var_JJT_centered",
    "summary",
]


class DiagonalFixedPoint(NamedTuple):
    Q_star: float | np.ndarray  # E[h^2] at the fixed point
    q_star: float | np.ndarray  # Var(e) = sigma_w^2 Q* + sigma_v^2 R + sigma_b^2


# --- internals on flat float arrays ------------------------------------------------------------------------------

_M = ("m", "mbar", "a", "b", "p", "p2", "p4", "s4", "spp_s", "spp_sb")


def _moments(q, mu) -> dict:
    """One 1-D pass: E[sigma], E[1-sigma], a, b, E[sigma'], E[sigma'^2], E[sigma'^4], E[sigma^4], E[sigma'' sigma],
    E[sigma'' (1-sigma)] at variance q; plus 1 - a = E[1 - sigma] + E[sigma (1 - sigma)] without cancellation."""

    def f(u):
        s, sb, sp, spp = sigmoid_parts(u)
        s2, sp2 = s * s, sp * sp
        return s, sb, s2, sb * sb, sp, sp2, sp2 * sp2, s2 * s2, spp * s, spp * sb

    mom = dict(zip(_M, expect_1d(f, q, mu), strict=True))
    mom["one_minus_a"] = mom["mbar"] + mom["p"]
    return mom


def _Q_slope(Q, R, sw2, mom):
    """dQ'/dQ at (Q, q) with dq/dQ = sigma_w^2 (SI D, eq. 32 corrected).

    d/dQ [Q a(q) + R b(q)] = a + sigma_w^2 (Q da/dq + R db/dq), and by the heat equation dE[f(u)]/dq = E[f''(u)]/2,
        slope = E[sigma^2] + sigma_w^2 E[(Q + R) sigma'^2 + sigma'' (Q sigma - R (1 - sigma))],
    which equals the form E[sigma^2] + (sigma_w^2 / sqrt q) E[z sigma'(zeta) ((Q + R) sigma(zeta) - R)] by
    Gaussian integration by parts (tested); this form needs no division by sqrt(q).
    """
    return mom["a"] + sw2 * ((Q + R) * mom["p2"] + Q * mom["spp_s"] - R * mom["spp_sb"])


def _Q_stability(Q, R, sw2, mom):
    """(slope, stable, xi_Q) of the Q map at Q*, with 1 - slope formed without cancellation.

    At large mu_b, E[sigma^2] -> 1 and the slope is 1 - O(e^-mu_b): formed as a float it rounds to 1 beyond
    mu_b ~ 37, which would call a stable Q* unstable; 1 - slope = (1 - a) - sigma_w^2 (...) keeps its digits.
    """
    rest = sw2 * ((Q + R) * mom["p2"] + Q * mom["spp_s"] - R * mom["spp_sb"])
    slope = mom["a"] + rest
    one_minus = mom["one_minus_a"] - rest
    stable = (one_minus > 0) & (slope > -1.0)
    omega = np.where(slope >= 0, one_minus, 1.0 - np.abs(slope))  # 1 - |slope|, for xi_Q = -1/log|slope|
    return slope, stable, timescale(np.abs(slope), omega)


N_SCAN = 32  # geometric scan points for the smallest root of the Q map
SCAN_K = 0.8  # a cheaper rule is enough to see the sign of G; the bracket is then verified at full accuracy


def _G_Q(Q, sw2, v, R, mu, k=None):
    """G(Q) = R b(q) - Q (1 - a(q)) = Q' - Q at q = sigma_w^2 Q + v (eq. 21-22)."""

    def f(u):
        _, sb, sp, _ = sigmoid_parts(u)
        return sb * sb, sb, sp

    q = sw2 * Q + v
    b, mbar, p = expect_1d(f, q, mu) if k is None else expect_1d(f, q, mu, k=k, half_width=9.0)
    return R * b - Q * (mbar + p)


def _diag(sw2, v, R, mu):
    """(Q*, q*, 1-D moments at q*) with v = sigma_v^2 R + sigma_b^2.

    G(Q) = Q' - Q is positive at Q = 0 (G = R b > 0) and, since (1 - s)^2 <= 1 - s^2, negative at Q = R
    (G = -2 R E[sigma (1 - sigma)]), so fixed points lie in (0, R) (eq. 24: SI C made quantitative).  There can be
    three of them (stable, unstable, stable; e.g. sigma_w = 10, mu_b = 6, sigma_v = 1.39, R = 0.46, the setting of
    Fig. 2g-h).  Q* here is the smallest one: the fixed point the Q dynamics reach from h^0 = 0, and, being the
    first crossing of G from + to -, a stable one.  It is located by scanning G on a geometric grid of Q in
    [1e-6 R, R] and refining the first sign change with a bracketed Newton search; a pair of roots closer than
    the scan spacing (a factor 1.56 in Q, i.e. right at a fold) can be missed, and the next stable root is taken.
    """
    grid = R[:, None] * np.geomspace(1e-6, 1.0, N_SCAN)[None, :]
    g = _G_Q(grid, sw2[:, None], v[:, None], R[:, None], mu[:, None], k=SCAN_K)
    j = np.argmax(g <= 0, axis=1)  # first non-positive scan value; the last one (Q = R) always is
    rows = np.arange(R.size)
    lo = np.where(j > 0, grid[rows, np.maximum(j - 1, 0)], 0.0)
    hi = grid[rows, j]
    # verify the bracket at full accuracy; fall back to the always-valid (0, R] where the cheap scan misled
    hi = np.where(_G_Q(hi, sw2, v, R, mu) < 0, hi, R)
    lo = np.where((lo == 0) | (_G_Q(lo, sw2, v, R, mu) > 0), lo, 0.0)

    def gfun(Q, idx):
        m = _moments(sw2[idx] * Q + v[idx], mu[idx])
        return R[idx] * m["b"] - Q * m["one_minus_a"], _Q_slope(Q, R[idx], sw2[idx], m) - 1.0

    none = np.zeros(R.size, bool)
    Q = stable_crossing(gfun, lo, hi, none, none, xfloor=0.0)  # relative tolerance: Q* can be tiny
    q = sw2 * Q + v
    return Q, q, _moments(q, mu)


def _pair(q, c, mu, mom):
    """(A, 1 - A, B, D) at correlation c from one pass of the tanh kernel (sigma(u) = (1 + tanh(u/2)) / 2)."""
    (st, sbt, _), (_, _, spt2) = tanh_pair_moments(lambda u: sigmoid_parts(u)[:3], q, c, mu, scale=0.5)
    A = 0.5 * (mom["m"] + st)
    one_minus_A = mom["mbar"] + 0.5 * (mom["m"] - st)  # 1 - s1 s2 = (1 - s1) + s1 (1 - s2)
    B = 0.5 * (mom["mbar"] - sbt)
    D = 0.25 * (mom["p"] - spt2)
    return A, one_minus_A, B, D


def _sub(mom, idx):
    return {k: v[idx] for k, v in mom.items()}


def _G(c, q, Q, sw2, sv2, R, sb2, mu, S, mom):
    """G(c) = F(c) - c and G'(c) for the c map at the diagonal fixed point (eq. 8 with sigma_b, Q12 eliminated).

    With rho = R S / q*:  F(c) = c A + sigma_w^2 rho B + (sigma_v^2 rho + sigma_b^2 / q*) (1 - A), and by
    Price's theorem dA/dc = q* D, so F'(c) = A + (q* c + (sigma_w^2 - sigma_v^2) R S - sigma_b^2) D = chi(c).
    Returns (G, G', 1 - F') so that 1 - chi is also available without cancellation.
    """
    A, omA, B, D = _pair(q, c, mu, mom)
    rho = R * S / q
    G = -(c - sv2 * rho - sb2 / q) * omA + sw2 * rho * B
    lin = q * c + (sw2 - sv2) * R * S - sb2
    one_minus_chi = omA - lin * D
    return G, -one_minus_chi, one_minus_chi, A + lin * D


def _c_star(q, Q, sw2, sv2, R, sb2, mu, S, mom):
    """Stable fixed point c* of the c map for constant Sigma12 (see _roots.stable_crossing).

    In terms of Q12 the map is Q12 -> Q12 A + R S B with slope A + sigma_w^2 (Q12 + R S) D > 0 for Q12, S >= 0,
    and it maps |Q12| <= Q* into itself (Cauchy-Schwarz), so for S >= 0 the bracket is c in [c(Q12 = 0), 1]:
    G >= 0 at Q12 = 0 (Q12' = R S B >= 0), G(1) < 0 for S < 1.  On that range F is also convex (Mehler: A, B
    have non-negative power series in c >= 0), so exactly one crossing lies inside, the stable one.  Known roots:
    c = 1 when S = 1 (the answer iff chi_1 <= 1, else deflated); c = sigma_b^2/q* when S = 0 (then Q12* = 0, and
    it is always stable: F' = A < 1).  For S < 0 the bracket starts at Q12 = -Q*.
    """
    c = np.ones_like(q)
    zero = (S == 0) & (q > 0)
    c[zero] = sb2[zero] / q[zero]  # Q12* = 0; stable since F' = A < 1: no search needed (Fig. 2's setting)
    live = np.flatnonzero((q > 0) & ~zero)  # q* = 0 only when sigma_w = sigma_v = sigma_b = 0: nothing to correlate
    if live.size == 0:
        return c
    args = [a[live] for a in (q, Q, sw2, sv2, R, sb2, mu, S)]
    qq, QQ, s, v, r, b, m, sig = args
    mm = _sub(mom, live)
    lo = np.where(sig >= 0, v * r * sig + b, -s * QQ + v * r * sig + b) / qq

    def gfun(x, idx):
        g, dg, _, _ = _G(x, *(a[idx] for a in args), _sub(mm, idx))
        return g, dg

    c[live] = stable_crossing(gfun, np.minimum(lo, 1.0), np.ones(live.size), np.zeros(live.size, bool), sig == 1)
    return c


def _solve(sigma_w, sigma_v, R, mu_b, sigma_b, sigma12, with_c=True) -> dict:
    sw2, sv2, sb2 = sigma_w**2, sigma_v**2, sigma_b**2
    Q, q, mom = _diag(sw2, sv2 * R + sb2, R, mu_b)
    slope, stable, xi = _Q_stability(Q, R, sw2, mom)
    mu1 = mom["a"]
    mu2 = sw2 * (Q + R) * mom["p2"]
    res = {
        "Q_star": Q,
        "q_star": q,
        "Q_star_stable": stable,
        "xi_Q": xi,
        "Q_slope": slope,
        "chi_1": mu1 + mu2,
        "one_minus_chi_1": mom["one_minus_a"] - mu2,
        "mu1": mu1,
        "mu2": mu2,
        "sigma1_sq": mom["s4"] - mu1**2,
        "sigma2_sq": sw2**2 * (Q**2 + R**2) * mom["p4"] - mu2**2,
    }
    if with_c:
        c = _c_star(q, Q, sw2, sv2, R, sb2, mu_b, sigma12, mom)
        _, _, omc, chi = _G(c, q, Q, sw2, sv2, R, sb2, mu_b, sigma12, mom)
        res.update(c_star=c, chi_c_star=chi, tau=timescale(chi, omc))
    return res


def eq12(chi_1, *, mu1, mu2, sigma1_sq, sigma2_sq, T, s1):
    """Eq. 12 as printed: chi_1^{2T} (1 + T (2 (mu1 - s1) mu2 + sigma1^2 + sigma2^2) / chi_1^2), from its ingredients.

    The one implementation of eq. 12: ``m2_JJT`` evaluates it at the minimalRNN's fixed point, and
    ``rnnmf.theory.jacobian`` for either cell beside the derived moments.  Overflow gives inf, without a warning.
    """
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        return chi_1 ** (2 * T) * (1.0 + T * (2.0 * (mu1 - s1) * mu2 + sigma1_sq + sigma2_sq) / chi_1**2)


def _eq12_of(r, T, s1):
    """Eq. 12 from the results of ``_solve``."""
    return eq12(r["chi_1"], mu1=r["mu1"], mu2=r["mu2"], sigma1_sq=r["sigma1_sq"], sigma2_sq=r["sigma2_sq"], T=T, s1=s1)


# --- public API --------------------------------------------------------------------------------------------------


def _run(keys, with_c=True, **params):
    p, shape, sc = validate.broadcast(domain="minimal", **params)
    res = _solve(p["sigma_w"], p["sigma_v"], p["R"], p["mu_b"], p["sigma_b"], p.get("sigma12", 0.0 * p["R"]), with_c)
    out = {k: validate.out(res[k], shape, sc) for k in keys}
    return out, p, shape, sc


def Q_star(sigma_w, sigma_v, R, *, mu_b, sigma_b=0.0) -> DiagonalFixedPoint:
    """(Q*, q*): the fixed point of Q = Q E[sigma^2] + R E[(1 - sigma)^2], q = sigma_w^2 Q + sigma_v^2 R + sigma_b^2.

    Eq. 21-22 and 24; Q* lies in (0, R) (see ``_diag``).  Returns a named tuple (Q_star, q_star).
    """
    out, *_ = _run(("Q_star", "q_star"), False, sigma_w=sigma_w, sigma_v=sigma_v, R=R, mu_b=mu_b, sigma_b=sigma_b)
    return DiagonalFixedPoint(out["Q_star"], out["q_star"])


def q_star(sigma_w, sigma_v, R, *, mu_b, sigma_b=0.0):
    """q* = sigma_w^2 Q* + sigma_v^2 R + sigma_b^2 (eq. 22 at the fixed point)."""
    return Q_star(sigma_w, sigma_v, R, mu_b=mu_b, sigma_b=sigma_b).q_star


def Q_map_slope(sigma_w, sigma_v, R, *, mu_b, sigma_b=0.0):
    """dQ^t/dQ^{t-1} at Q*: E[sigma^2] + (sigma_w^2/sqrt q*) E[z sigma'(zeta) ((Q* + R) sigma(zeta) - R)].

    SI D, eq. 32, derived as d/dQ of the Q map with dq/dQ = sigma_w^2.  The printed eq. 30 carries R sqrt(q*)
    where R / sqrt(q*) belongs, and eq. 36 drops the factor z; eq. 32 is the consistent form.
    """
    out, *_ = _run(("Q_slope",), False, sigma_w=sigma_w, sigma_v=sigma_v, R=R, mu_b=mu_b, sigma_b=sigma_b)
    return out["Q_slope"]


def xi_Q(sigma_w, sigma_v, R, *, mu_b, sigma_b=0.0):
    """xi_Q = -1 / log|slope| (eq. 35-36): the timescale of |Q^t - Q*|; +inf where Q* is unstable (|slope| >= 1)."""
    out, *_ = _run(("xi_Q",), False, sigma_w=sigma_w, sigma_v=sigma_v, R=R, mu_b=mu_b, sigma_b=sigma_b)
    return out["xi_Q"]


def Q_star_stable(sigma_w, sigma_v, R, *, mu_b, sigma_b=0.0):
    """True where |dQ'/dQ| < 1 at Q*, i.e. the diagonal fixed point attracts."""
    out, *_ = _run(("Q_star_stable",), False, sigma_w=sigma_w, sigma_v=sigma_v, R=R, mu_b=mu_b, sigma_b=sigma_b)
    return out["Q_star_stable"]


def c_map(c, sigma_w, sigma_v, R, *, mu_b, sigma_b=0.0, sigma12=0.0):
    """One step c^{t-1} -> c^t of eq. 8 (generalised to sigma_b) at the diagonal fixed point, Sigma12 constant.

    c^t = [c + (sigma_w^2 - sigma_v^2) rho - sigma_b^2/q*] A(c) - 2 sigma_w^2 rho E[sigma] + sigma_w^2 rho
          + sigma_v^2 rho + sigma_b^2/q*,   rho = R Sigma12 / q*   (eq. 8 is the sigma_b = 0 case).
    """
    p, shape, sc = validate.broadcast(
        domain="minimal", c=c, sigma_w=sigma_w, sigma_v=sigma_v, R=R, mu_b=mu_b, sigma_b=sigma_b, sigma12=sigma12
    )
    sw2, sv2, sb2 = p["sigma_w"] ** 2, p["sigma_v"] ** 2, p["sigma_b"] ** 2
    Q, q, mom = _diag(sw2, sv2 * p["R"] + sb2, p["R"], p["mu_b"])
    g, *_ = _G(p["c"], q, Q, sw2, sv2, p["R"], sb2, p["mu_b"], p["sigma12"], mom)
    return validate.out(p["c"] + g, shape, sc)


def c_trajectory(sigma12_schedule, sigma_w, sigma_v, R, *, mu_b, sigma_b=0.0, C0=1.0):
    """c^1..c^T for inputs with cosines Sigma12^1..Sigma12^T (time on axis 0), at the diagonal fixed point.

    Iterates the 2x2 second moments (eq. 7, 37-38), which holds for any schedule:
        q12^t = sigma_w^2 Q12^{t-1} + sigma_v^2 R Sigma12^t + sigma_b^2,   c^t = q12^t / q*,
        Q12^t = Q12^{t-1} A(c^t) + R Sigma12^t B(c^t),
    from Q12^0 = C0 Q* (C0 = 1: both inputs enter one network with the same h^0, drawn at Q*).  With sigma_b = 0
    this is eq. 8 (tested).  Returns shape (T, *broadcast(hyper-parameters, schedule.shape[1:])).
    """
    p, sched, shape = validate.broadcast_schedule(
        sigma12_schedule, domain="minimal", C0=C0, sigma_w=sigma_w, sigma_v=sigma_v, R=R, mu_b=mu_b, sigma_b=sigma_b
    )
    sw2, sv2, sb2, R_, mu = p["sigma_w"] ** 2, p["sigma_v"] ** 2, p["sigma_b"] ** 2, p["R"], p["mu_b"]
    Q, q, mom = _diag(sw2, sv2 * R_ + sb2, R_, mu)
    Q12 = p["C0"] * Q
    traj = np.empty(sched.shape)
    for t, S in enumerate(sched):
        with np.errstate(invalid="ignore", divide="ignore"):
            c = np.where(q > 0, (sw2 * Q12 + sv2 * R_ * S + sb2) / q, 1.0)
        c = np.clip(c, -1.0, 1.0)
        A, _, B, _ = _pair(q, c, mu, mom)
        Q12 = Q12 * A + R_ * S * B
        traj[t] = c
    return traj.reshape(sched.shape[0], *shape)


def _c_quantity(key, sigma_w, sigma_v, R, mu_b, sigma_b, sigma12):
    out, *_ = _run((key,), sigma_w=sigma_w, sigma_v=sigma_v, R=R, mu_b=mu_b, sigma_b=sigma_b, sigma12=sigma12)
    return out[key]


def _diag_quantity(key, sigma_w, sigma_v, R, mu_b, sigma_b):
    out, *_ = _run((key,), False, sigma_w=sigma_w, sigma_v=sigma_v, R=R, mu_b=mu_b, sigma_b=sigma_b)
    return out[key]


def c_star(sigma_w, sigma_v, R, *, mu_b, sigma_b=0.0, sigma12=0.0):
    """c*: the stable fixed point of the c map for constant Sigma12 (eq. 8; SI E).

    Sigma12 = 1: c* = 1 in the ordered phase (chi_1 <= 1), else the stable root below 1.  Sigma12 = 0: Q12* = 0, so
    c* = sigma_b^2 / q*.  Otherwise the unique stable root below 1 (see ``_c_star`` for the bracketing argument).
    """
    return _c_quantity("c_star", sigma_w, sigma_v, R, mu_b, sigma_b, sigma12)


def chi_c_star(sigma_w, sigma_v, R, *, mu_b, sigma_b=0.0, sigma12=0.0):
    """chi_c* = E[s(u1) s(u2)] + (q* c* + (sigma_w^2 - sigma_v^2) R Sigma12 - sigma_b^2) E[s'(u1) s'(u2)].

    Eq. 9 generalised to a shared bias: the derivative of the c map at c* (dA/dc = q* D by Price's theorem);
    sigma_b = 0 gives eq. 9 as printed.  Checked against a finite difference of ``c_map``.
    """
    return _c_quantity("chi_c_star", sigma_w, sigma_v, R, mu_b, sigma_b, sigma12)


def tau(sigma_w, sigma_v, R, *, mu_b, sigma_b=0.0, sigma12=0.0):
    """tau = -1 / log chi_c* (Sec. 3.1-3.2), +inf where chi_c* >= 1; 1 - chi_c* is formed without cancellation."""
    return _c_quantity("tau", sigma_w, sigma_v, R, mu_b, sigma_b, sigma12)


def chi_1(sigma_w, sigma_v, R, *, mu_b, sigma_b=0.0):
    """chi_1 = mu1 + mu2 (eq. 13): chi at c = 1, Sigma12 = 1, and the mean squared singular value of J_t (eq. 11)."""
    return _diag_quantity("chi_1", sigma_w, sigma_v, R, mu_b, sigma_b)


def mu1(sigma_w, sigma_v, R, *, mu_b, sigma_b=0.0):
    """mu1 = E[sigma(sqrt(q*) z + mu_b)^2] (under eq. 13)."""
    return _diag_quantity("mu1", sigma_w, sigma_v, R, mu_b, sigma_b)


def mu2(sigma_w, sigma_v, R, *, mu_b, sigma_b=0.0):
    """mu2 = sigma_w^2 (Q* + R) E[sigma'(sqrt(q*) z + mu_b)^2] (under eq. 13)."""
    return _diag_quantity("mu2", sigma_w, sigma_v, R, mu_b, sigma_b)


def sigma1_sq(sigma_w, sigma_v, R, *, mu_b, sigma_b=0.0):
    """sigma1^2 = -mu1^2 + E[sigma^4] (under eq. 13)."""
    return _diag_quantity("sigma1_sq", sigma_w, sigma_v, R, mu_b, sigma_b)


def sigma2_sq(sigma_w, sigma_v, R, *, mu_b, sigma_b=0.0):
    """sigma2^2 = -mu2^2 + sigma_w^4 (Q*^2 + R^2) E[sigma'^4] (under eq. 13, as printed)."""
    return _diag_quantity("sigma2_sq", sigma_w, sigma_v, R, mu_b, sigma_b)


def m2_JJT(sigma_w, sigma_v, R, *, mu_b, T, s1=-1.0, sigma_b=0.0):
    """Eq. 12 as printed: chi_1^{2T} (1 + T (2 (mu1 - s1) mu2 + sigma1^2 + sigma2^2) / chi_1^2).

    s1 = -1 for Gaussian W, 0 for orthogonal W.  At T = 0 this is 1 although J = I has zero spectral variance, so
    the printed expression reads like the second moment of the spectrum of J J^T, not its variance.
    """
    p, shape, sc = validate.broadcast(
        domain="minimal", sigma_w=sigma_w, sigma_v=sigma_v, R=R, mu_b=mu_b, T=T, s1=s1, sigma_b=sigma_b
    )
    r = _solve(p["sigma_w"], p["sigma_v"], p["R"], p["mu_b"], p["sigma_b"], 0.0 * p["R"], with_c=False)
    return validate.out(_eq12_of(r, p["T"], p["s1"]), shape, sc)


def var_JJT(sigma_w, sigma_v, R, *, mu_b, T, s1=-1.0, sigma_b=0.0):
    """sigma^2_{JJ^T} of eq. 12 exactly as printed (= ``m2_JJT``); see ``var_JJT_centered`` for the other reading.

    At T = 0 the printed expression is 1 while J = I has zero spectral variance, so it may be the second moment
    m2 of the spectrum of J J^T; a measurement of the spectrum decides which reading is right.
    """
    return m2_JJT(sigma_w, sigma_v, R, mu_b=mu_b, T=T, s1=s1, sigma_b=sigma_b)


def var_JJT_centered(sigma_w, sigma_v, R, *, mu_b, T, s1=-1.0, sigma_b=0.0):
    """m2_JJT - chi_1^{2T}: the variance of the spectrum of J J^T if eq. 12 is its second moment (mean chi_1^T)."""
    p, shape, sc = validate.broadcast(
        domain="minimal", sigma_w=sigma_w, sigma_v=sigma_v, R=R, mu_b=mu_b, T=T, s1=s1, sigma_b=sigma_b
    )
    r = _solve(p["sigma_w"], p["sigma_v"], p["R"], p["mu_b"], p["sigma_b"], 0.0 * p["R"], with_c=False)
    chi1, T_ = r["chi_1"], p["T"]
    with np.errstate(over="ignore", invalid="ignore"):
        centered = chi1 ** (2 * T_) * T_ * (2.0 * (r["mu1"] - p["s1"]) * r["mu2"] + r["sigma1_sq"] + r["sigma2_sq"])
        centered = centered / chi1**2
    return validate.out(centered, shape, sc)


SUMMARY_KEYS = (
    "Q_star",
    "q_star",
    "Q_star_stable",
    "xi_Q",
    "c_star",
    "chi_c_star",
    "chi_1",
    "tau",
    "mu1",
    "mu2",
    "sigma1_sq",
    "sigma2_sq",
    "var_JJT",
)


def summary(sigma_w, sigma_v, R, *, mu_b, sigma_b=0.0, sigma12=0.0, s1=-1.0, T=100) -> dict:
    """Everything the CLI prints for a minimalRNN, computed once: keys ``SUMMARY_KEYS``."""
    p, shape, sc = validate.broadcast(
        domain="minimal", sigma_w=sigma_w, sigma_v=sigma_v, R=R, mu_b=mu_b, sigma_b=sigma_b, sigma12=sigma12, s1=s1, T=T
    )
    r = _solve(p["sigma_w"], p["sigma_v"], p["R"], p["mu_b"], p["sigma_b"], p["sigma12"])
    r["var_JJT"] = _eq12_of(r, p["T"], p["s1"])
    return {k: validate.out(r[k], shape, sc) for k in SUMMARY_KEYS}
