"""Critical initialisation (chi_1 = 1): Algorithm 1 for the minimalRNN, and its analogue for the vanilla RNN.

Both take the desired pre-activation variance q* and return the weight/bias variances (squares of the standard
deviations used by ``rnnmf.nn`` initialisers).  Infeasible requests (sigma_v^2 < 0) raise ``InfeasibleError``
when ``check=True``, whose message gives the smallest feasible q* at that mu_b; with ``check=False`` (grids) the
raw values come back, NaN-free, and ``feasible`` says where they are usable.  An unstable Q* (|dQ'/dQ| >= 1 at
the Q* of Algorithm 1, which happens: e.g. q* = 2, mu_b = 3.4, R = 0.46) is never an error: it is reported in
``Q_star_stable``, and callers decide.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from rnnmf.errors import InfeasibleError, RnnmfError
from rnnmf.theory import _validate as validate
from rnnmf.theory._roots import brent
from rnnmf.theory.minimal import _moments as _minimal_moments
from rnnmf.theory.minimal import _Q_stability
from rnnmf.theory.vanilla import _moments as _vanilla_moments

__all__ = ["CriticalInit", "GatedCriticalInit", "critical_gated", "critical_minimal", "critical_vanilla",
           "require_feasible", "smallest_feasible_q_star"]


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


def smallest_feasible_q_star(cell: str, *, mu_b: float) -> tuple[float | None, bool]:
    """(q_min, beyond): the smallest q* <= the domain's limit with sigma_v^2 >= 0 at this mu_b (None if there is
    none), and whether every scanned q* above it is feasible too.

    The sign of sigma_v^2 does not depend on R (Q* and sigma_v^2 R both scale with R). A geometric scan of 80 q*
    finds the first feasible one, bisection refines it to 0.1%. Used for the hint of an infeasible request.
    """
    limit = validate.Q_LIMIT[cell]
    qs = np.geomspace(1e-4, limit, 80)

    def sv2(q):
        q = np.asarray(q, dtype=float)
        mu = np.full_like(q, float(mu_b))
        if cell == "minimal":
            mom = _minimal_moments(q, mu)
            Q = mom["b"] / mom["one_minus_a"]  # at R = 1
            return q - Q * mom["one_minus_a"] / ((Q + 1.0) * mom["p2"])
        _, _, e_phi2, e_tp2, _ = _vanilla_moments(q, mu)
        return q - e_phi2 / e_tp2

    feasible = sv2(qs) >= 0
    ok = np.flatnonzero(feasible)
    if ok.size == 0:
        return None, False
    beyond = bool(feasible[ok[0]:].all())
    hi = float(qs[ok[0]])
    if ok[0] == 0:
        return hi, beyond
    lo = float(qs[ok[0] - 1])
    while hi / lo > 1.001:
        mid = math.sqrt(lo * hi)
        lo, hi = (lo, mid) if sv2(mid) >= 0 else (mid, hi)
    return hi, beyond


def require_feasible(cell: str, q_star: float, *, mu_b: float = 0.0, what: str = "") -> None:
    """Raise InfeasibleError unless a critical initialisation of ``cell`` exists at (q*, mu_b) for *some* R, which
    is then every R: the sign of sigma_v^2 does not depend on R. For jobs that measure R only once they train:
    they can refuse an impossible request before loading any data. ``what`` prefixes the message (config keys)."""
    prefix = f"{what}: " if what else ""
    try:
        sv2 = (critical_minimal(q_star, mu_b=mu_b, R=1.0, check=False) if cell == "minimal"
               else critical_vanilla(q_star, R=1.0, mu_b=mu_b, check=False)).sigma_v_sq
        _raise_infeasible(cell, sv2, q_star=q_star, mu_b=mu_b)
    except InfeasibleError as exc:
        text = str(exc).replace(": it needs sigma_v^2 =", " at any input moment R: it needs sigma_v^2 / R =")
        raise InfeasibleError(prefix + text) from None
    except RnnmfError as exc:  # outside the theory's domain
        raise RnnmfError(prefix + str(exc)) from None


def _raise_infeasible(cell: str, sv2, **inputs):
    bad = np.atleast_1d(sv2 < 0)
    if not bad.any():
        return
    i = int(np.flatnonzero(bad)[0])
    at = {k: float(np.atleast_1d(v)[i]) for k, v in inputs.items()}
    vals = ", ".join(f"{k}={v!r}" for k, v in at.items())
    extra = "" if bad.size == 1 else f" ({int(bad.sum())} of {bad.size} grid points infeasible; first shown)"
    q_min, beyond = smallest_feasible_q_star(cell, mu_b=at["mu_b"])
    if q_min is not None:
        hint = (f"at mu_b={at['mu_b']:g} (any R) q_star >= {q_min:.4g} is feasible" if beyond else
                f"at mu_b={at['mu_b']:g} (any R) the smallest feasible q_star is {q_min:.4g}")
        hint += ": a larger mu_b lowers that bound" if cell == "minimal" else ": mu_b nearer 0 lowers that bound"
    else:
        hint = (f"no q_star <= {validate.Q_LIMIT[cell]:g} is feasible at mu_b={at['mu_b']:g}; "
                + ("choose a larger mu_b" if cell == "minimal" else "choose mu_b nearer 0"))
    raise InfeasibleError(f"critical_{cell}: no critical initialisation for {vals}: it needs sigma_v^2 = "
                          f"{float(np.atleast_1d(sv2)[i]):.6g} < 0{extra}; {hint}")


def critical_minimal(q_star, *, mu_b, R, check: bool = True) -> CriticalInit:
    """Algorithm 1: (sigma_w^2, sigma_v^2, sigma_b^2 = 0) giving a minimalRNN pre-activation variance q* and chi_1 = 1.

    E[u^2] = E[sigma^2], E[(1-u)^2], Q* = R E[(1-u)^2] / (1 - E[u^2]) (eq. 7 at the fixed point),
    sigma_w^2 = (1 - E[u^2]) / ((Q* + R) E[u'^2]) (eq. 13: mu1 + mu2 = 1), sigma_v^2 = (q* - Q* sigma_w^2) / R.
    Also reports the stability of Q* under the Q map (SI D) and its timescale xi_Q.
    """
    p, shape, sc = validate.broadcast(domain="minimal", q_star=q_star, mu_b=mu_b, R=R)
    q, mu, R_ = p["q_star"], p["mu_b"], p["R"]
    mom = _minimal_moments(q, mu)
    Q = R_ * mom["b"] / mom["one_minus_a"]
    sw2 = mom["one_minus_a"] / ((Q + R_) * mom["p2"])
    sv2 = (q - Q * sw2) / R_
    if check:
        _raise_infeasible("minimal", sv2, q_star=q, mu_b=mu, R=R_)
    _, stable, xi = _Q_stability(Q, R_, sw2, mom)
    return CriticalInit(
        sigma_w_sq=validate.out(sw2, shape, sc),
        sigma_v_sq=validate.out(sv2, shape, sc),
        sigma_b_sq=validate.out(np.zeros_like(q), shape, sc),
        Q_star=validate.out(Q, shape, sc),
        Q_star_stable=validate.out(stable, shape, sc),
        xi_Q=validate.out(xi, shape, sc),
    )


def critical_vanilla(q_star, *, R, mu_b=0.0, check: bool = True) -> CriticalInit:
    """chi_1 = sigma_w^2 E[phi'(u)^2] = 1 at u ~ N(mu_b, q*) (eq. 4 at c = 1), sigma_b^2 = 0:

    sigma_w^2 = 1 / E[phi'^2],  sigma_v^2 = (q* - sigma_w^2 E[phi^2]) / R.
    With mu_b = 0 every q* > 0 is feasible; a bias mean needs a large enough q*.  (The q map is then always stable:
    its slope is 1 - 2 sigma_w^2 E[phi^2 phi'] < 1.)
    """
    p, shape, sc = validate.broadcast(domain="vanilla", q_star=q_star, R=R, mu_b=mu_b)
    q, mu, R_ = p["q_star"], p["mu_b"], p["R"]
    _, _, e_phi2, e_tp2, _ = _vanilla_moments(q, mu)
    sw2 = 1.0 / e_tp2
    sv2 = (q - sw2 * e_phi2) / R_
    if check:
        _raise_infeasible("vanilla", sv2, q_star=q, R=R_, mu_b=mu)
    return CriticalInit(
        sigma_w_sq=validate.out(sw2, shape, sc),
        sigma_v_sq=validate.out(sv2, shape, sc),
        sigma_b_sq=validate.out(np.zeros_like(q), shape, sc),
    )


# --- gated cells (torch's nn.GRU, nn.LSTM): docs/gated-mean-field.md, sec. 4, eq. 26 ---------------------------------

#: what ``critical_gated`` can solve for: a common scale of every recurrent weight, or the memory gate's bias mean
SOLVE_FOR = {"gru": ("sigma_w", "mu_z"), "lstm": ("sigma_w", "mu_f")}
SCALE_SCAN = 0.25 * 2.0 ** np.arange(9)  # 0.25 .. 64, stopped at the first crossing
BIAS_SCAN = np.arange(-6.0, 8.5, 1.0)


@dataclass(frozen=True)
class GatedCriticalInit:
    """A critical initialisation of a GRU or LSTM: every per-gate hyper-parameter (standard deviations, ``params``),
    the value solved for, and chi_1 and Q* there (eq. 26)."""

    cell: str
    R: float
    solve_for: str
    value: float
    params: dict
    chi_1: float
    Q_star: float
    calibration: object = None  # rnnmf.nn.gated.Calibration when init_critical(..., calibrate=True) measured the module


def _gated_chi_1(cell: str, R: float, params: dict, warm: dict | None = None) -> tuple[float, float]:
    """(chi_1, Q*) at one point; ``warm`` carries the last Q* of a search so the LSTM's Q* starts next to it."""
    from rnnmf.theory import gru, lstm
    from rnnmf.theory.gated import as_float_dict, resolve

    if cell == "gru":
        d = gru.diagonal(R=R, **params)
        return float(d["chi_1"]), float(d["Q_star"])
    pp = as_float_dict(resolve("lstm", R=R, **params)[0])
    law = lstm._fixed(pp, None if warm is None else warm.get("Q"))
    if warm is not None:
        warm["Q"] = law.Q
    return lstm._leading(lstm._tangent(pp, law)), float(law.Q)


def critical_gated(cell: str, *, R: float, solve_for: str = "sigma_w", **params) -> GatedCriticalInit:
    """chi_1 = 1 for a GRU or LSTM (eq. 26), solving for one free parameter given all the others:

    - ``solve_for="sigma_w"``: a common factor on every recurrent weight scale (per-gate ``sigma_w_k`` given are kept
      in proportion; unset ones are 1 before scaling).  chi_1 is E[z^2] (GRU) or E[f^2] (LSTM) < 1 at sigma_w = 0 and
      grows without bound, so this is feasible whenever the crossing lies in the scanned range.
    - ``solve_for="mu_z"`` (GRU) / ``"mu_f"`` (LSTM): the memory gate's bias mean, scanned over [-6, 8].  As that
      bias grows the cell copies its state and chi_1 -> 1 from below, so a crossing needs chi_1 > 1 somewhere: with
      too small recurrent weights there is none, and the error says so.

    The scan (sigma_w: 0.25 to 64 in factors of 2; biases: -6 to 8 in steps of 1) stops at the first
    crossing of chi_1 = 1, which Brent's method refines to |chi_1 - 1| < 1e-10.  Raises
    InfeasibleError (naming the inputs, the largest chi_1 found and what helps) when there is none.
    """
    from rnnmf.theory.gated import check_cell

    check_cell(cell)
    if solve_for not in SOLVE_FOR[cell]:
        raise RnnmfError(f"solve_for={solve_for!r} is invalid for cell {cell!r}; valid: {', '.join(SOLVE_FOR[cell])}")
    R = float(validate.check("R", R))
    if solve_for in params:
        raise RnnmfError(f"{solve_for} is what critical_gated solves for; do not also give it")
    shared_w = params.pop("sigma_w", None)
    gates = {"gru": ("r", "z", "n"), "lstm": ("i", "f", "g", "o")}[cell]
    if solve_for == "sigma_w":
        base = {g: float(params.pop(f"sigma_w_{g}", None) or (shared_w if shared_w is not None else 1.0))
                for g in gates}

        def build(x):
            return {**params, **{f"sigma_w_{g}": x * base[g] for g in gates}}

        scan = SCALE_SCAN
        if cell == "lstm":  # one law per trial point instead of a fixed-point search (lstm.critical_scale)
            from rnnmf.theory import lstm
            from rnnmf.theory.gated import as_float_dict, resolve

            fast = lstm.critical_scale(as_float_dict(resolve("lstm", R=R, **build(1.0))[0]), float(scan[-1]))
            if fast is not None:
                x, chi, law = fast
                return GatedCriticalInit(cell, R, solve_for, float(x), build(x), float(chi), float(law.Q))
    else:
        if shared_w is not None:
            params["sigma_w"] = shared_w

        def build(x):
            return {**params, solve_for: x}

        scan = BIAS_SCAN

    warm: dict = {}

    def excess(x):
        return _gated_chi_1(cell, R, build(x), warm)[0] - 1.0

    values: list[float] = []
    for k, x in enumerate(scan):  # stop at the first crossing: large scales cost large lattices
        values.append(excess(x))
        if k and (values[-2] < 0) != (values[-1] < 0) or values[-1] == 0.0:
            lo, hi = (scan[k - 1], x) if k else (x, x)
            x = x if values[-1] == 0.0 else brent(excess, lo, hi, xtol=1e-14, rtol=1e-13)
            chi, Q = _gated_chi_1(cell, R, build(x), warm)
            return GatedCriticalInit(cell, R, solve_for, float(x), build(x), chi, Q)
    scan = scan[: len(values)]
    worst = int(np.argmax(values))
    given = ", ".join(f"{k}={v!r}" for k, v in sorted(params.items()))
    if solve_for == "sigma_w":
        hint = "larger input weights (sigma_v) or smaller memory-gate bias (chi_1 stayed below 1)" \
            if max(values) < 0 else "smaller recurrent weights are outside the scan; lower the gate biases"
        where = f"sigma_w in [{scan[0]:g}, {scan[-1]:g}]"
    else:
        hint = "a larger sigma_w (chi_1 < 1 at every bias: the cell is ordered)" if max(values) < 0 else \
            "a smaller sigma_w (chi_1 > 1 at every bias: the cell is chaotic)"
        where = f"{solve_for} in [{scan[0]:g}, {scan[-1]:g}]"
    raise InfeasibleError(
        f"critical_gated({cell}): chi_1 = 1 has no solution for {where} with R={R!r}"
        f"{', ' + given if given else ''}: chi_1 ranges up to {values[worst] + 1.0:.4g} (at {scan[worst]:.3g}); "
        f"choose {hint}")
