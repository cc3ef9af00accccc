"""Critical initialisation (chi_1 = 1): Algorithm 1 for the minimalRNN, and its analogue for the vanilla RNN.

Both take the desired pre-activation variance q* and return the weight/bias variances (squares of the standard
deviations used by ``rnnmf.nn`` initialisers).  Infeasible requests (sigma_v^2 < 0) raise ``InfeasibleError``
when ``check=True``; with ``check=False`` (grids) the raw values come back, NaN-free, and ``feasible`` says
where they are usable.  An unstable Q* (|dQ'/dQ| >= 1 at the Q* of Algorithm 1, which happens: e.g. q* = 2,
mu_b = 3.4, R = 0.46) is never an error: it is reported in ``Q_star_stable``, and callers decide.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rnnmf.errors import InfeasibleError
from rnnmf.theory import _validate as V
from rnnmf.theory._common import timescale
from rnnmf.theory.minimal import _moments as _minimal_moments
from rnnmf.theory.minimal import _Q_slope
from rnnmf.theory.vanilla import _moments as _vanilla_moments

__all__ = ["CriticalInit", "critical_minimal", "critical_vanilla"]


@dataclass(frozen=True)
class CriticalInit:
    """Variances (not standard deviations) of W, V and b for a critical initialisation."""

    sigma_w_sq: float | np.ndarray
    sigma_v_sq: float | np.ndarray
    sigma_b_sq: float | np.ndarray
    Q_star: float | np.ndarray | None = None  # minimalRNN only: E[h^2] at the fixed point (initialise h^0 with it)
    Q_star_stable: bool | np.ndarray | None = None  # minimalRNN only: |dQ'/dQ| < 1 at Q*
    xi_Q: float | np.ndarray | None = None  # minimalRNN only: timescale of Q^t -> Q* (inf if unstable)

    @property
    def feasible(self):
        """True where sigma_v^2 >= 0, i.e. the request can be realised."""
        f = np.asarray(self.sigma_v_sq) >= 0
        return bool(f) if f.ndim == 0 else f


def _raise_infeasible(name, sv2, hint, **inputs):
    bad = np.atleast_1d(sv2 < 0)
    if not bad.any():
        return
    i = int(np.flatnonzero(bad)[0])
    vals = ", ".join(f"{k}={float(np.atleast_1d(v)[i])!r}" for k, v in inputs.items())
    extra = "" if bad.size == 1 else f" ({int(bad.sum())} of {bad.size} grid points infeasible; first shown)"
    raise InfeasibleError(
        f"{name}: no critical initialisation for {vals}: it needs sigma_v^2 = {float(np.atleast_1d(sv2)[i]):.6g} < 0"
        f"{extra}; choose {hint}, or pass check=False to get a feasibility mask"
    )


def critical_minimal(q_star, mu_b, R, *, check: bool = True) -> CriticalInit:
    """Algorithm 1: (sigma_w^2, sigma_v^2, sigma_b^2 = 0) giving a minimalRNN pre-activation variance q* and chi_1 = 1.

    E[u^2] = E[sigma^2], E[(1-u)^2], Q* = R E[(1-u)^2] / (1 - E[u^2]) (eq. 7 at the fixed point),
    sigma_w^2 = (1 - E[u^2]) / ((Q* + R) E[u'^2]) (eq. 13: mu1 + mu2 = 1), sigma_v^2 = (q* - Q* sigma_w^2) / R.
    Also reports the stability of Q* under the Q map (SI D) and its timescale xi_Q.
    """
    p, shape, sc = V.broadcast(q_star=q_star, mu_b=mu_b, R=R)
    q, mu, R_ = p["q_star"], p["mu_b"], p["R"]
    mom = _minimal_moments(q, mu)
    Q = R_ * mom["b"] / mom["one_minus_a"]
    sw2 = mom["one_minus_a"] / ((Q + R_) * mom["p2"])
    sv2 = (q - Q * sw2) / R_
    if check:
        # sigma_v^2 grows with mu_b everywhere, with q* only away from mu_b ~ 0 (tests/theory/test_theory_critical.py)
        _raise_infeasible("critical_minimal", sv2, "a larger mu_b (with mu_b >= 1.5 a larger q_star helps too)",
                          q_star=q, mu_b=mu, R=R_)
    slope = _Q_slope(Q, R_, sw2, mom)
    return CriticalInit(
        sigma_w_sq=V.out(sw2, shape, sc),
        sigma_v_sq=V.out(sv2, shape, sc),
        sigma_b_sq=V.out(np.zeros_like(q), shape, sc),
        Q_star=V.out(Q, shape, sc),
        Q_star_stable=V.out(np.abs(slope) < 1.0, shape, sc),
        xi_Q=V.out(timescale(np.abs(slope)), shape, sc),
    )


def critical_vanilla(q_star, R, mu_b=0.0, *, check: bool = True) -> CriticalInit:
    """chi_1 = sigma_w^2 E[phi'(u)^2] = 1 at u ~ N(mu_b, q*) (eq. 4 at c = 1), sigma_b^2 = 0:

    sigma_w^2 = 1 / E[phi'^2],  sigma_v^2 = (q* - sigma_w^2 E[phi^2]) / R.
    With mu_b = 0 every q* > 0 is feasible; a bias mean needs a large enough q*.  (The q map is then always stable:
    its slope is 1 - 2 sigma_w^2 E[phi^2 phi'] < 1.)
    """
    p, shape, sc = V.broadcast(q_star=q_star, R=R, mu_b=mu_b)
    q, mu, R_ = p["q_star"], p["mu_b"], p["R"]
    _, _, e_phi2, e_tp2, _ = _vanilla_moments(q, mu)
    sw2 = 1.0 / e_tp2
    sv2 = (q - sw2 * e_phi2) / R_
    if check:
        # sigma_v^2 grows with q* and falls with |mu_b| (a bias mean saturates tanh)
        _raise_infeasible("critical_vanilla", sv2, "a larger q_star or mu_b nearer 0", q_star=q, R=R_, mu_b=mu)
    return CriticalInit(
        sigma_w_sq=V.out(sw2, shape, sc),
        sigma_v_sq=V.out(sv2, shape, sc),
        sigma_b_sq=V.out(np.zeros_like(q), shape, sc),
    )
