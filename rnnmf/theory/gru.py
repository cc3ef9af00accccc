"""Mean-field theory of torch's ``nn.GRU`` with untied weights (docs/gated-mean-field.md, sec. 2, eq. 5-15).

    r = sigma(W_ir x + W_hr h + b_r),  z = sigma(W_iz x + W_hz h + b_z),  n = tanh(W_in x + b_in + r * (W_hn h + b_hn)),
    h' = (1 - z) * n + z * h.

With fresh weights every step, each unit's gates are independent of that unit's own h (eq. 5), so the state closes on
its first two moments, m = E[h] and Q = E[h^2], and for two inputs on Q12 = E[h_a h_b] (eq. 6, 7, 10):

    m'    = (1 - E[z]) E[n] + E[z] m
    Q'    = E[(1 - z)^2] E[n^2] + 2 E[z (1 - z)] E[n] m + E[z^2] Q
    Q12'  = E[(1 - z_a)(1 - z_b)] E[n_a n_b] + 2 E[(1 - z_a) z_b] E[n] m + E[z_a z_b] Q12

The candidate's pre-activation p = A + r B (A = W_in x + b_in, B = W_hn h + b_hn) is Gaussian given r, so E[n], E[n^2]
are nested 1-D integrals (eq. 8) and E[n_a n_b] a 2-D integral over the reset pair of a 2-D one (eq. 11).  All of this
is exact in the untied limit N -> infinity; nothing is approximated but the quadrature.  The correlation is the state
cosine c = Q12 / Q* at the diagonal fixed point (eq. 12); chi_1 is the mean squared singular value of dh'/dh (eq. 14),
which equals the slope of the c map at c = 1, Sigma12 = 1 (eq. 15).

Hyper-parameters are keyword arguments (``rnnmf.theory.gated``): R, sigma_w, sigma_v, sigma_b (every gate) or per gate
sigma_w_r, ..., mu_r, mu_z, mu_n, mu_hn, sigma_b_hn.  Diagonal quantities broadcast over arrays of hyper-parameters;
the pair quantities (c_star, chi_c_star, tau at Sigma12 < 1 or in the chaotic phase) loop over points (~0.3 s each).
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import numpy as np

from rnnmf.theory import _validate as V
from rnnmf.theory._common import timescale
from rnnmf.theory._roots import brent, newton_bracketed
from rnnmf.theory.gated import gate_cov, gate_var, resolve
from rnnmf.theory.gaussian import (
    HALF_WIDTH_1D,
    K_1D,
    SIGMOID_POLE,
    TANH_POLE,
    expect_1d,
    expect_nested,
    lattice,
    order_for,
    sigmoid,
    sigmoid_parts,
    tanh_pair_moments,
    tanh_prime,
)

__all__ = ["FixedPoint", "fixed_point", "diagonal", "chi_1", "c_map", "c_trajectory", "c_star", "chi_c_star", "tau",
           "summary"]


class FixedPoint(NamedTuple):
    Q_star: float | np.ndarray  # E[h^2] at the fixed point
    m_star: float | np.ndarray  # E[h] at the fixed point (= E[n])


# --- the diagonal (one input): eq. 6-9 ---------------------------------------------------------------------------

SCAN_K, SCAN_HALF_WIDTH = 0.8, 9.0  # a cheaper rule for the scan that brackets Q*; the root is refined at full accuracy
N_SCAN = 24


def _recurrent_var_n(p, Q):
    """Var(B), B = W_hn h + b_hn: sigma_w_n^2 Q + sigma_b_hn^2."""
    return p["sigma_w_n"] ** 2 * Q + p["sigma_b_hn"] ** 2


def _moments(Q, p, k=K_1D, half_width=HALF_WIDTH_1D) -> dict:
    """Every one-input expectation at E[h^2] = Q (flat arrays).

    Candidate (eq. 8): given a_r, p ~ N(mu_n + r mu_hn, vA + r^2 vB), so E[n], E[n^2], E[r^2 tanh'(p)^2] and
    E[sigma'(a_r)^2 tanh'(p)^2 B^2] are nested 1-D integrals; E[B^2 | a_r, p] is the conditional second moment of the
    Gaussian pair (p, B) (eq. 14).  Update gate: E[z], E[1 - z], E[z^2], E[(1 - z)^2], E[z (1 - z)], E[sigma'(a_z)^2].
    """
    vA, vB = gate_var(p, "n", Q), _recurrent_var_n(p, Q)

    def f(a, u, vA, vB, mn, mhn):
        r, _, rp, _ = sigmoid_parts(a)
        m = mn + r * mhn
        var = vA + r * r * vB
        pre = m + np.sqrt(var) * u
        t = np.tanh(pre)
        tp2 = tanh_prime(pre) ** 2
        safe = np.where(var > 0, var, 1.0)
        cond_B2 = vA * vB / safe + (mhn + (r * vB / safe) * (pre - m)) ** 2
        return t, t * t, r * r * tp2, rp * rp * tp2 * cond_B2

    En, En2, Er2t2, Esp2t2B2 = expect_nested(
        f, gate_var(p, "r", Q), p["mu_r"], vA + vB, dict(vA=vA, vB=vB, mn=p["mu_n"], mhn=p["mu_hn"]),
        pole=SIGMOID_POLE, inner_pole=TANH_POLE, k=k, half_width=half_width)

    def g(u):
        s, sb, sp, _ = sigmoid_parts(u)
        return s, sb, s * s, sb * sb, s * sb, sp * sp

    Ez, Ezb, Ez2, Ezb2, Ezzb, Ezp2 = expect_1d(g, gate_var(p, "z", Q), p["mu_z"], k=k, half_width=half_width)
    return dict(En=En, En2=En2, Er2t2=Er2t2, Esp2t2B2=Esp2t2B2, Ez=Ez, Ezb=Ezb, Ez2=Ez2, Ezb2=Ezb2, Ezzb=Ezzb,
                Ezp2=Ezp2)


def _G(Q, p, **rule):
    """G(Q) = Q' - Q at m = E[n] (eq. 9); 1 - E[z^2] = E[1 - z] + E[z (1 - z)] is formed without cancellation."""
    d = _moments(Q, p, **rule)
    return d["Ezb2"] * d["En2"] + 2.0 * d["Ezzb"] * d["En"] ** 2 - (d["Ezb"] + d["Ezzb"]) * Q


def _sub(p: dict, idx) -> dict:
    return {k: v[idx] for k, v in p.items()}


def _diag(p: dict):
    """(Q*, moments at Q*): the smallest root of G on [0, 1], the fixed point reached from h^0 = 0 (eq. 9).

    |h| <= 1 keeps Q in [0, 1]; G(0) >= 0 and G(1) <= 0 (eq. 9).  G is scanned on [0] + a geometric grid with a
    cheaper rule, and the first sign change from + to - is refined by a bracketed Newton search at full accuracy
    (finite-difference slope).  Where G <= 0 on the whole scan (no input, no bias: h = 0 is itself stable) Q* = 0.
    """
    size = p["R"].size
    grid = np.concatenate([[0.0], np.geomspace(1e-9, 1.0, N_SCAN - 1)])
    big = {k: np.repeat(v, grid.size) for k, v in p.items()}
    g = _G(np.tile(grid, size), big, k=SCAN_K, half_width=SCAN_HALF_WIDTH).reshape(size, grid.size)
    pos = g > 0
    # first index j >= 1 with g[j] <= 0 after a positive value
    after = pos[:, :-1] & ~pos[:, 1:]
    has = after.any(axis=1)
    j = np.argmax(after, axis=1) + 1
    lo = np.where(has, grid[j - 1], 0.0)
    hi = np.where(has, grid[j], 0.0)
    Q = np.zeros(size)
    live = np.flatnonzero(has)
    if live.size:
        pl = _sub(p, live)
        lo_l, hi_l = lo[live], hi[live]
        # the cheap scan can mislead by its rule error: verify the bracket at full accuracy, widen where it fails
        lo_l = np.where(_G(lo_l, pl) > 0, lo_l, 0.0)
        hi_l = np.where(_G(hi_l, pl) < 0, hi_l, 1.0)

        def fun(x, idx):
            sub = _sub(pl, idx)
            h = 1e-7 * np.maximum(x, 1e-6)
            g0 = _G(x, sub)
            return g0, (_G(x + h, sub) - g0) / h

        Q[live] = newton_bracketed(fun, lo_l, hi_l, xtol=1e-13, xfloor=0.0)
    return Q, _moments(Q, p)


def _chi_1(p, Q, d):
    """chi_1 = E[z^2] + sigma_w_z^2 E[sigma'(a_z)^2] E[(h - n)^2] + (1 - z)^2 terms (eq. 14); also 1 - chi_1."""
    Eh_n2 = Q - 2.0 * d["En"] ** 2 + d["En2"]  # E[(h - n)^2] with h independent of n and m = E[n]
    rest = (p["sigma_w_z"] ** 2 * d["Ezp2"] * Eh_n2
            + d["Ezb2"] * (p["sigma_w_n"] ** 2 * d["Er2t2"] + p["sigma_w_r"] ** 2 * d["Esp2t2B2"]))
    return d["Ez2"] + rest, d["Ezb"] + d["Ezzb"] - rest


def _stable(p, Q, d):
    """|eigenvalues| < 1 of the 2x2 Jacobian of the (m, Q) map at the fixed point (eq. 6-7, derivatives in Q by
    finite differences): whether the diagonal fixed point attracts."""
    h = 1e-6 * np.maximum(Q, 1e-4)
    up = _moments(Q + h, p)
    m = d["En"]

    def maps(e, Qv):
        return (1 - e["Ez"]) * e["En"] + e["Ez"] * m, e["Ezb2"] * e["En2"] + 2 * e["Ezzb"] * e["En"] * m + e["Ez2"] * Qv

    m0, q0 = maps(d, Q)
    m1, q1 = maps(up, Q + h)
    a, b = d["Ez"], (m1 - m0) / h
    c, e = 2.0 * d["Ezzb"] * d["En"], (q1 - q0) / h
    tr, det = a + e, a * e - b * c
    disc = tr * tr / 4 - det
    root = np.sqrt(np.abs(disc))
    radius = np.where(disc >= 0, np.maximum(np.abs(tr / 2 + root), np.abs(tr / 2 - root)), np.sqrt(np.abs(det)))
    return radius < 1.0


# --- two inputs: eq. 10-12 ---------------------------------------------------------------------------------------

K_PAIR, HALF_WIDTH_PAIR = 0.8, 7.0  # E[n_a n_b] to ~1e-9 (measured against k = 0.4; k = 0.6 took 3x as long)
PAIR_CHUNK = 1 << 21  # lattice values per temporary of the 4-D pair integral (16 MB)
#: the rule of ``c_trajectory``: E[n_a n_b] to ~1e-7 (measured at sigma_w = 4 and 6), 2.5-3x cheaper; trajectories are
#: compared with Monte Carlo at the 1e-2 level, while c* and chi_c* (a finite difference) keep the accurate rule
K_PAIR_FAST, HALF_WIDTH_PAIR_FAST = 1.0, 6.5


def _nn_pair(Q, Q12, S, p, fast: bool = False):
    """E[n_a n_b] (eq. 11): the reset pair (a_ra, a_rb) on a 2-D lattice; given it, (p_a, p_b) are Gaussian with
    means mu_n + r mu_hn, variances vA + r^2 vB and covariance cA + r_a r_b cB, on an inner 2-D lattice."""
    q_r = gate_var(p, "r", Q)
    with np.errstate(invalid="ignore", divide="ignore"):
        c_r = np.clip(np.where(q_r > 0, gate_cov(p, "r", Q12, S) / q_r, 1.0), -1.0, 1.0)
    vA, cA = gate_var(p, "n", Q), gate_cov(p, "n", Q12, S)
    vB, cB = _recurrent_var_n(p, Q), p["sigma_w_n"] ** 2 * Q12 + p["sigma_b_hn"] ** 2
    k_rule, hw = (K_PAIR_FAST, HALF_WIDTH_PAIR_FAST) if fast else (K_PAIR, HALF_WIDTH_PAIR)
    out = np.empty(Q.size)
    for i in range(Q.size):
        qr, cr = float(q_r[i]), float(c_r[i])
        z, wz = lattice(int(order_for(qr, k_rule, hw)), hw)
        y, wy = lattice(int(order_for(qr * (1 - cr) * (1 + cr), k_rule, hw)), hw)
        sq = np.sqrt(qr)
        r_a = sigmoid(p["mu_r"][i] + sq * z)[:, None]
        r_b = sigmoid(p["mu_r"][i] + sq * (cr * z[:, None] + np.sqrt((1 - cr) * (1 + cr)) * y[None, :]))
        m_a, m_b = p["mu_n"][i] + r_a * p["mu_hn"][i], p["mu_n"][i] + r_b * p["mu_hn"][i]
        V_a, V_b = vA[i] + r_a * r_a * vB[i], vA[i] + r_b * r_b * vB[i]
        den = np.sqrt(V_a * V_b)
        with np.errstate(invalid="ignore", divide="ignore"):
            rho = np.clip(np.where(den > 0, (cA[i] + r_a * r_b * cB[i]) / den, 0.0), -1.0, 1.0)
        n3 = int(order_for(4.0 * V_a.max(), k_rule, hw))  # tanh: q_eff = q (pi / (pi/2))^2
        n4 = int(order_for(4.0 * (V_b * (1 - rho) * (1 + rho)).max(), k_rule, hw))
        u, wu = lattice(n3, hw)
        v, wv = lattice(n4, hw)
        t_a = np.tanh(m_a[..., None] + np.sqrt(V_a)[..., None] * u)  # (n1, 1, n3)
        sb, s_perp = np.sqrt(V_b)[..., None, None], np.sqrt(V_b * (1 - rho) * (1 + rho))[..., None, None]
        total = 0.0
        rows = max(1, PAIR_CHUNK // (y.size * n3 * n4))  # bound the 4-D temporary (large sigma_w)
        for lo in range(0, z.size, rows):
            sl = slice(lo, lo + rows)
            pb = m_b[sl, :, None, None] + sb[sl] * rho[sl, :, None, None] * u[:, None] + s_perp[sl] * v
            inner = np.einsum("...j,j->...", np.tanh(pb), wv)  # (rows, n2, n3); einsum: no threaded BLAS
            total += float(np.einsum("ijk,k,j,i->", t_a[sl] * inner, wu, wy, wz[sl]))
        out[i] = total
    return out


def _z_pair(Q, Q12, S, p, d):
    """(E[z_a z_b], E[(1 - z_a)(1 - z_b)]) from the tanh kernel, sigma(u) = (1 + tanh(u/2)) / 2."""
    q_z = gate_var(p, "z", Q)
    with np.errstate(invalid="ignore", divide="ignore"):
        c_z = np.clip(np.where(q_z > 0, gate_cov(p, "z", Q12, S) / q_z, 1.0), -1.0, 1.0)
    (st, sbt), _ = tanh_pair_moments(lambda u: sigmoid_parts(u)[:2], q_z, c_z, p["mu_z"], scale=0.5)
    return 0.5 * (d["Ez"] + st), 0.5 * (d["Ezb"] - sbt)


def _pair_map(Q12, S, p, Q, d, fast: bool = False):
    """Q12' of eq. 10 at the diagonal fixed point (m = E[n])."""
    A, B = _z_pair(Q, Q12, S, p, d)
    Enn = _nn_pair(Q, Q12, S, p, fast)
    return B * Enn + 2.0 * (d["Ezb"] - B) * d["En"] ** 2 + A * Q12


def _c_next(c, S, p, Q, d, fast: bool = False):
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(Q > 0, _pair_map(c * Q, S, p, Q, d, fast) / np.where(Q > 0, Q, 1.0), 1.0)


FD_C = 1e-5  # step of the finite differences in c (the pair quadrature is accurate to ~1e-11)


def _slope(c, S, p, Q, d):
    """dc'/dc by second-order finite differences that never step above c = 1."""
    h = FD_C
    up = c + h <= 1.0
    f0 = _c_next(c, S, p, Q, d)
    fm = _c_next(np.maximum(c - h, -1.0), S, p, Q, d)
    out = np.empty_like(c)
    if up.any():
        fp = _c_next(np.where(up, c + h, c), S, p, Q, d)
        out = np.where(up, (fp - fm) / (2 * h), out)
    if (~up).any():
        fm2 = _c_next(np.maximum(c - 2 * h, -1.0), S, p, Q, d)
        out = np.where(up, out, (3 * f0 - 4 * fm + fm2) / (2 * h))
    return out, f0


def _c_excess(x, S, p, Q, d, chi1):
    """F(x) - x at one point; at Sigma12 = 1 divided by 1 - x, with the exact limit 1 - chi_1 at x = 1 (eq. 15)."""
    if S[0] == 1 and x == 1.0:
        return 1.0 - chi1
    g = float(_c_next(np.array([x]), S, p, Q, d)[0]) - x
    return g / (1.0 - x) if S[0] == 1 else g


def _c_star(S, p, Q, d, chi1):
    """Stable fixed point of the c map (eq. 12).  Sigma12 >= 0: F(0) >= 0 (positively correlated pairs) and
    F(1) <= 1, bracket [0, 1]; Sigma12 < 0: [-1, 1].  c = 1 is a root iff Sigma12 = 1 (all pairs coincide) and is c*
    iff chi_1 <= 1; otherwise it is divided out, K(c) = (F(c) - c) / (1 - c) with the exact limit K(1) = 1 - chi_1
    (eq. 15), and the crossing below it is found.

    Brent's method on the map alone (point by point: the pair integral loops over points anyway) needs ~10
    evaluations of the 4-D pair integral for |c - c*| < 1e-10; the bracketed Newton search of ``_roots`` took ~50,
    three per step for its finite-difference slope."""
    c = np.ones(Q.size)
    ordered = (S == 1) & (chi1 <= 1)
    for i in np.flatnonzero((Q > 0) & ~ordered):
        lo = 0.0 if S[i] >= 0 else -1.0
        G = functools.partial(_c_excess, S=S[i:i + 1], p=_sub(p, slice(i, i + 1)), Q=Q[i:i + 1],
                              d=_sub(d, slice(i, i + 1)), chi1=float(chi1[i]))
        g_lo, g_hi = G(lo), G(1.0)
        if g_lo <= 0.0:  # c* at the end of the bracket (the map's rule error, or an exact root there)
            c[i] = lo
        elif g_hi >= 0.0:
            c[i] = 1.0
        else:
            c[i] = brent(G, lo, 1.0, xtol=1e-12, rtol=4 * np.finfo(float).eps)
    return c


# --- the solver on flat arrays -------------------------------------------------------------------------------------


def _solve(p: dict, with_c: bool = True) -> dict:
    Q, d = _diag(p)
    chi1, one_minus = _chi_1(p, Q, d)
    res = {"Q_star": Q, "m_star": d["En"], "Q_star_stable": _stable(p, Q, d), "E_z": d["Ez"], "chi_1": chi1,
           "one_minus_chi_1": one_minus, "_moments": d}
    if with_c:
        S = p["sigma12"]
        c = _c_star(S, p, Q, d, chi1)
        chi = np.array(chi1, dtype=float)
        om = np.array(one_minus, dtype=float)
        other = np.flatnonzero(~((S == 1) & (c == 1)))  # elsewhere chi_c* = chi_1 exactly (eq. 15)
        if other.size:
            sl = _sub(p, other)
            chi[other] = _slope(c[other], S[other], sl, Q[other], _sub(d, other))[0]
            om[other] = 1.0 - chi[other]
        res.update(c_star=c, chi_c_star=chi, tau=timescale(chi, om))
    return res


def _run(keys, sigma12_default=None, with_c=True, **kw):
    if with_c and kw.get("sigma12") is None:
        kw["sigma12"] = sigma12_default
    p, shape, sc = resolve("gru", **kw)
    res = _solve(p, with_c)
    return {k: V.out(res[k], shape, sc) for k in keys}


# --- public API ----------------------------------------------------------------------------------------------------


def fixed_point(**params) -> FixedPoint:
    """(Q*, m*): the fixed point of eq. 6-7 reached from h^0 = 0; m* = E[n] at Q* (eq. 9)."""
    out = _run(("Q_star", "m_star"), with_c=False, **params)
    return FixedPoint(out["Q_star"], out["m_star"])


def diagonal(**params) -> dict:
    """{Q_star, chi_1} (eq. 9, 14) in one vectorised pass."""
    return _run(("Q_star", "chi_1"), with_c=False, **params)


def chi_1(**params):
    """chi_1 (eq. 14): the mean squared singular value of J = dh'/dh at the fixed point, and the slope of the c map
    at c = 1 when Sigma12 = 1 (eq. 15).  Gradients through T steps scale as chi_1^T."""
    return _run(("chi_1",), with_c=False, **params)["chi_1"]


def c_map(c, **params):
    """One step c -> c' of the state-cosine map at the diagonal fixed point, Sigma12 = ``sigma12`` (eq. 10, 12)."""
    sigma12 = params.pop("sigma12", 1.0)
    p, shape, sc = resolve("gru", sigma12=sigma12, **params)
    cc = np.broadcast_to(V.check("c", c), shape).ravel()
    Q, d = _diag(p)
    return V.out(_c_next(cc, p["sigma12"], p, Q, d), shape, sc)


def c_trajectory(sigma12_schedule, c0=1.0, **params):
    """c^1..c^T for inputs with cosines Sigma12^1..Sigma12^T, from c^0 = ``c0`` at the diagonal fixed point.

    Iterates Q12 with eq. 10 (c^t = Q12^t / Q*); ``c0`` is the initial state cosine Q12^0 / Q*.  Hyper-parameters
    must be scalars here (one network setting); returns an array of shape (T,).  Uses the cheaper pair rule
    (``K_PAIR_FAST``: c^t to ~1e-7).
    """
    sched = np.atleast_1d(V.check("sigma12", sigma12_schedule)).astype(float)
    p, shape, _ = resolve("gru", **params)
    if shape != ():
        from rnnmf.errors import RnnmfError

        raise RnnmfError(f"c_trajectory takes scalar hyper-parameters; got arrays of shape {shape}")
    Q, d = _diag(p)
    c = np.array([float(V.check("c0", c0))])
    out = np.empty(sched.size)
    for t, S in enumerate(sched):
        c = np.clip(_c_next(c, np.array([S]), p, Q, d, fast=True), -1.0, 1.0)
        out[t] = c[0]
    return out


def c_star(**params):
    """c*: the stable fixed point of the c map for constant Sigma12 (``sigma12``, default 1) (eq. 12)."""
    return _run(("c_star",), 1.0, **params)["c_star"]


def chi_c_star(**params):
    """chi_c* = dc'/dc at c* (eq. 12): chi_1 at c* = 1, Sigma12 = 1 (eq. 15), else finite differences of the map."""
    return _run(("chi_c_star",), 1.0, **params)["chi_c_star"]


def tau(**params):
    """tau = -1 / log chi_c* (+inf where chi_c* >= 1): the timescale of c^t -> c* at constant Sigma12 (default 1)."""
    return _run(("tau",), 1.0, **params)["tau"]


SUMMARY_KEYS = ("Q_star", "m_star", "Q_star_stable", "E_z", "chi_1", "c_star", "chi_c_star", "tau")


def summary(**params) -> dict:
    """Everything the CLI prints for a GRU (keys ``SUMMARY_KEYS``); Sigma12 (``sigma12``) defaults to 1."""
    return _run(SUMMARY_KEYS, 1.0, **params)
