"""Mean-field theory of the vanilla RNN (Sec. 3.1, eq. 1-4), phi = tanh, untied weights.

Pre-activations e = W h + V x + b with W_ij ~ N(0, sigma_w^2/N), V_ij ~ N(0, sigma_v^2/M), b_i ~ N(mu_b, sigma_b^2).
The bias is one vector shared by both inputs of a network, so sigma_b^2 enters the off-diagonal of eq. 2 as well
as the diagonal (the paper prints sigma_b^2 I; DESIGN.md): with R^t = R Sigma^t,

    q*     = sigma_w^2 E[phi(u)^2] + sigma_v^2 R + sigma_b^2,                  u ~ N(mu_b, q*)  (eq. 2, diagonal)
    q* c'  = sigma_w^2 E[phi(u1) phi(u2)] + sigma_v^2 R Sigma12 + sigma_b^2,  corr(u1, u2) = c  (eq. 2, off-diag.)
    chi_c* = sigma_w^2 E[phi'(u1) phi'(u2)] at c = c*                                            (eq. 4)

All sigma's are standard deviations.  Every function broadcasts over its hyper-parameters (one call for a whole
grid) and returns Python floats for scalar inputs; everything after (sigma_w, sigma_v, R) is passed by keyword.
"""

from __future__ import annotations

import numpy as np

from rnnmf.theory import _validate as validate
from rnnmf.theory._common import timescale
from rnnmf.theory._roots import stable_crossing
from rnnmf.theory.gaussian import TANH_POLE, expect_1d, tanh_pair_moments, tanh_parts

__all__ = ["q_star", "c_map", "c_trajectory", "c_star", "chi_c_star", "chi_1", "tau", "summary"]


# --- internals on flat float arrays ------------------------------------------------------------------------------


def _moments(q, mu):
    """E[phi], E[phi'], E[phi^2], E[phi'^2] and dE[phi^2]/dq = E[phi'^2 + phi phi''] (heat equation) at q."""

    def f(u):
        t, tp, tpp = tanh_parts(u)
        return t, tp, t * t, tp * tp, tp * tp + t * tpp

    return expect_1d(f, q, mu, pole=TANH_POLE)


def _q_star(sw2, v, mu):
    """Fixed point of q -> sigma_w^2 E[phi^2] + v (v = sigma_v^2 R + sigma_b^2).

    Bracket: 0 <= phi^2 <= 1 gives q* in [v, v + sigma_w^2] with G = map - q >= 0 at v and < 0 at v + sigma_w^2.
    When v = 0 and mu_b = 0, q = 0 is itself a fixed point (phi odd): it is the answer if sigma_w <= 1 and is
    deflated otherwise, so the search finds the non-trivial (stable) one.  Otherwise a scan (sigma_w <= 10,
    |mu_b| <= 3, several v) found exactly one crossing: unlike the minimalRNN's Q map, this one has no multiple roots.
    """
    q = np.array(v, dtype=float)
    live = np.flatnonzero(sw2 > 0)
    if live.size == 0:
        return q
    s, vv, m = sw2[live], v[live], mu[live]

    def gfun(x, idx):
        _, _, p2, _, dp2 = _moments(x, m[idx])
        return s[idx] * p2 + vv[idx] - x, s[idx] * dp2 - 1.0

    root_lo = (vv == 0) & (m == 0)
    q[live] = stable_crossing(gfun, vv, vv + s, root_lo, np.zeros(live.size, bool), xfloor=0.0)  # relative tol
    return q


def _pair(q, c, mu, e_tp):
    """(E[phi(u1) phi(u2)], E[phi'(u1) phi'(u2)]) at correlation c, from the tanh kernel; phi' = 1 - tanh^2."""
    (pp, _), (_, tpt2) = tanh_pair_moments(lambda u: tanh_parts(u)[:2], q, c, mu, scale=1.0)
    return pp, e_tp - tpt2


def _c_star(q, sw2, sv2, R, sb2, mu, S, e_tp):
    """Stable fixed point of the c map at q = q* (see _roots.stable_crossing for the bracketing logic).

    The map F(c) = (sigma_w^2 E[phi phi](c) + sigma_v^2 R S + sigma_b^2) / q* is increasing (F' = chi(c) > 0), so
    iterating from c = 1 descends to the largest stable fixed point: that is the c* returned.  Brackets:
    S >= 0: [0, 1], with F(0) >= 0 because E[phi(u1)phi(u2)] = E[phi]^2 >= 0 at c = 0 and F(1) <= 1;
    S < 0: [-1, 1].  c = 1 is a fixed point exactly when sigma_v^2 R (1 - S) = 0 (Sec. 3.1) and is then the
    answer iff chi_1 <= 1 (ordered phase); else it is deflated and the stable root below it is found.
    """
    c = np.ones_like(q)
    live = np.flatnonzero(q > 0)  # q* = 0 only for a dead network (no input, no bias, sigma_w <= 1): c* := 1
    if live.size == 0:
        return c
    qq, s, v, r, b, m, sig = (a[live] for a in (q, sw2, sv2, R, sb2, mu, S))
    etp = e_tp[live]
    lo = np.where(sig >= 0, 0.0, -1.0)
    odd = ((m == 0) | (s == 0)) & (b == 0)  # the map is odd in c around 0
    root_lo = np.where(sig >= 0, odd & ((v == 0) | (sig == 0)), odd & ((v == 0) | (sig == -1)))
    root_hi = (v == 0) | (sig == 1)

    def gfun(x, idx):
        pp, dd = _pair(qq[idx], x, m[idx], etp[idx])
        return (s[idx] * pp + v[idx] * r[idx] * sig[idx] + b[idx]) / qq[idx] - x, s[idx] * dd - 1.0

    c[live] = stable_crossing(gfun, lo, np.ones(live.size), root_lo, root_hi)
    return c


def _solve(sigma_w, sigma_v, R, sigma_b, mu_b, sigma12):
    """Everything on flat arrays: q*, c*, chi_c*, chi_1."""
    sw2, sv2, sb2 = sigma_w**2, sigma_v**2, sigma_b**2
    q = _q_star(sw2, sv2 * R + sb2, mu_b)
    _, e_tp, _, e_tp2, _ = _moments(q, mu_b)
    c = _c_star(q, sw2, sv2, R, sb2, mu_b, sigma12, e_tp)
    _, dd = _pair(q, c, mu_b, e_tp)
    return {"q_star": q, "c_star": c, "chi_c_star": sw2 * dd, "chi_1": sw2 * e_tp2}


# --- public API --------------------------------------------------------------------------------------------------


def q_star(sigma_w, sigma_v, R, *, sigma_b=0.0, mu_b=0.0):
    """q*: the stable fixed point of the diagonal of eq. 2, q = sigma_w^2 E[phi^2] + sigma_v^2 R + sigma_b^2."""
    p, shape, sc = validate.broadcast(domain="vanilla", sigma_w=sigma_w, sigma_v=sigma_v, R=R, sigma_b=sigma_b,
                                      mu_b=mu_b)
    q = _q_star(p["sigma_w"] ** 2, p["sigma_v"] ** 2 * p["R"] + p["sigma_b"] ** 2, p["mu_b"])
    return validate.out(q, shape, sc)


def c_map(c, sigma_w, sigma_v, R, *, sigma_b=0.0, mu_b=0.0, sigma12=0.0):
    """One step of eq. 2's off-diagonal at q = q*: c -> (sigma_w^2 E[phi phi](c) + sigma_v^2 R S12 + sigma_b^2) / q*."""
    p, shape, sc = validate.broadcast(
        domain="vanilla", c=c, sigma_w=sigma_w, sigma_v=sigma_v, R=R, sigma_b=sigma_b, mu_b=mu_b, sigma12=sigma12
    )
    sw2, sv2, sb2 = p["sigma_w"] ** 2, p["sigma_v"] ** 2, p["sigma_b"] ** 2
    q = _q_star(sw2, sv2 * p["R"] + sb2, p["mu_b"])
    e_tp = _moments(q, p["mu_b"])[1]
    pp, _ = _pair(q, p["c"], p["mu_b"], e_tp)
    with np.errstate(invalid="ignore", divide="ignore"):
        cn = np.where(q > 0, (sw2 * pp + sv2 * p["R"] * p["sigma12"] + sb2) / q, 1.0)
    return validate.out(cn, shape, sc)


def c_trajectory(sigma12_schedule, sigma_w, sigma_v, R, *, sigma_b=0.0, mu_b=0.0, c0=1.0):
    """c^1..c^T from iterating eq. 2's off-diagonal at q = q* with input cosines Sigma12^t (time on axis 0).

    c^t = (sigma_w^2 E[phi phi](c^{t-1}) + sigma_v^2 R Sigma12^t + sigma_b^2) / q*, starting from c^0 = c0.
    Returns an array of shape (T, *broadcast(hyper-parameters, schedule.shape[1:])).
    """
    p, sched, shape = validate.broadcast_schedule(
        sigma12_schedule, domain="vanilla", c0=c0, sigma_w=sigma_w, sigma_v=sigma_v, R=R, sigma_b=sigma_b, mu_b=mu_b
    )
    sw2, sv2, sb2 = p["sigma_w"] ** 2, p["sigma_v"] ** 2, p["sigma_b"] ** 2
    q = _q_star(sw2, sv2 * p["R"] + sb2, p["mu_b"])
    e_tp = _moments(q, p["mu_b"])[1]
    c = p["c0"]
    traj = np.empty(sched.shape)
    for t, s in enumerate(sched):
        pp, _ = _pair(q, c, p["mu_b"], e_tp)
        with np.errstate(invalid="ignore", divide="ignore"):
            c = np.clip(np.where(q > 0, (sw2 * pp + sv2 * p["R"] * s + sb2) / q, 1.0), -1.0, 1.0)
        traj[t] = c
    return traj.reshape(sched.shape[0], *shape)


def _public(sigma_w, sigma_v, R, sigma_b, mu_b, sigma12):
    p, shape, sc = validate.broadcast(
        domain="vanilla", sigma_w=sigma_w, sigma_v=sigma_v, R=R, sigma_b=sigma_b, mu_b=mu_b, sigma12=sigma12
    )
    res = _solve(p["sigma_w"], p["sigma_v"], p["R"], p["sigma_b"], p["mu_b"], p["sigma12"])
    res["tau"] = timescale(res["chi_c_star"])
    return {k: validate.out(v, shape, sc) for k, v in res.items()}


def c_star(sigma_w, sigma_v, R, *, sigma_b=0.0, mu_b=0.0, sigma12=0.0):
    """c*: the stable fixed point of the c map for a constant input cosine Sigma12 (Sec. 3.1).

    Sigma12 = 1: c* = 1 in the ordered phase (chi_1 <= 1), the stable root below 1 in the chaotic phase.
    Sigma12 < 1: the unique stable root below 1 (inputs destroy the ordered phase).
    """
    return _public(sigma_w, sigma_v, R, sigma_b, mu_b, sigma12)["c_star"]


def chi_c_star(sigma_w, sigma_v, R, *, sigma_b=0.0, mu_b=0.0, sigma12=0.0):
    """chi_c* = sigma_w^2 E[phi'(u1) phi'(u2)] at (q*, c*) (eq. 4): the slope of the c map at c*."""
    return _public(sigma_w, sigma_v, R, sigma_b, mu_b, sigma12)["chi_c_star"]


def chi_1(sigma_w, sigma_v, R, *, sigma_b=0.0, mu_b=0.0):
    """chi_1 = sigma_w^2 E[phi'(u)^2] at q*: chi at c = 1, Sigma12 = 1 (the order-to-chaos boundary is chi_1 = 1)."""
    p, shape, sc = validate.broadcast(domain="vanilla", sigma_w=sigma_w, sigma_v=sigma_v, R=R, sigma_b=sigma_b,
                                      mu_b=mu_b)
    sw2 = p["sigma_w"] ** 2
    q = _q_star(sw2, p["sigma_v"] ** 2 * p["R"] + p["sigma_b"] ** 2, p["mu_b"])
    return validate.out(sw2 * _moments(q, p["mu_b"])[3], shape, sc)


def tau(sigma_w, sigma_v, R, *, sigma_b=0.0, mu_b=0.0, sigma12=0.0):
    """tau = -1 / log chi_c* (Sec. 3.1): the memory timescale; +inf where chi_c* >= 1."""
    return _public(sigma_w, sigma_v, R, sigma_b, mu_b, sigma12)["tau"]


def summary(sigma_w, sigma_v, R, *, sigma_b=0.0, mu_b=0.0, sigma12=0.0) -> dict:
    """Everything the CLI prints for a vanilla RNN: keys q_star, c_star, chi_c_star, chi_1, tau."""
    return _public(sigma_w, sigma_v, R, sigma_b, mu_b, sigma12)
