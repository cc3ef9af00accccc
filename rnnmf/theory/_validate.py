"""Input validation for every public entry point of ``rnnmf.theory`` (the one place that raises RnnmfError).

Each check names the offending value and what is valid, in one line, as the CLI prints ``str(error)``.

Besides the range of each value, the **numerical domain**: the quadrature lattice of ``rnnmf.theory.gaussian`` needs
a spacing ~ 1/sqrt(q) (the pole of tanh or sigma is at distance ~1/sqrt(q) in z), so a 2-D expectation costs ~q
lattice nodes, and a c* search evaluates dozens of them. Inputs that let the pre-activation variance q* exceed
``Q_LIMIT`` are refused, with the limit in the message, rather than computed for minutes with gigabytes (issue 14:
sigma_w = 1e6 ran for over 10 minutes and grew past 6 GB). The limits keep one calculator call well under a second:
on a shared 2-core CPU the slowest (mu_b, Sigma12) of a scan took 0.3-0.7 s at the vanilla limit (q* = 1,000; its
tanh has the nearer pole) and 0.3 s at the minimalRNN's (q* = 2,500), against 2.3 s at q* = 4,000. They are far
beyond the paper's ranges (sigma_w <= 10: q* ~ 100). Bias means beyond ``MU_B_LIMIT`` saturate every gate to all
printed digits (e^-100 ~ 4e-44) and, near |mu_b| ~ 745, underflow the gates' complements to zero, where the Q map of
the minimalRNN has no isolated fixed point; they are refused too.
"""

from __future__ import annotations

import numpy as np

from rnnmf.errors import RnnmfError

#: the largest pre-activation variance q* each cell's theory computes (see the module docstring); a calculator call
#: at the limit takes well under a second
Q_LIMIT = {"vanilla": 1000.0, "minimal": 2500.0}
#: the largest |mu_b| (see the module docstring)
MU_B_LIMIT = 100.0
#: the smallest q* of a critical vanilla RNN: at mu_b = 0, sigma_v^2 R = q* - E[phi^2]/E[phi'^2] = (4/3) q*^3 + ...
#: is a difference of two numbers ~q*, which keeps 1e-4 relative accuracy down to q* = 1e-6 and none below 1e-8
Q_STAR_MIN = {"vanilla": 1e-6, "minimal": 0.0}
#: the a-priori bound on q* in terms of the inputs: tanh^2 <= 1 (eq. 2); Q* < R (eq. 24)
_Q_BOUND_TEXT = {"vanilla": "sigma_w^2 + sigma_v^2 R + sigma_b^2", "minimal": "(sigma_w^2 + sigma_v^2) R + sigma_b^2"}

# name -> (test on a float array, description of the valid values)
_RULES = {
    "sigma_w": (lambda v: v >= 0, "a standard deviation >= 0"),
    "sigma_v": (lambda v: v >= 0, "a standard deviation >= 0"),
    "sigma_b": (lambda v: v >= 0, "a standard deviation >= 0"),
    "R": (lambda v: v > 0, "an input second moment > 0"),
    "mu_b": (lambda v: np.ones_like(v, dtype=bool), "any finite bias mean"),
    "sigma12": (lambda v: np.abs(v) <= 1, "an input cosine similarity in [-1, 1]"),
    "c0": (lambda v: np.abs(v) <= 1, "a cosine similarity in [-1, 1]"),
    "C0": (lambda v: np.abs(v) <= 1, "a cosine similarity in [-1, 1]"),
    "c": (lambda v: np.abs(v) <= 1, "a cosine similarity in [-1, 1]"),
    "q_star": (lambda v: v > 0, "a pre-activation variance > 0"),
    "T": (lambda v: v >= 0, "a number of time steps >= 0"),
    "s1": (lambda v: np.ones_like(v, dtype=bool), "any finite number (-1 Gaussian W, 0 orthogonal W)"),
}


def _rule(name: str):
    """The rule for ``name``; per-gate names of the gated cells (sigma_w_z, mu_f, ...) follow their prefix."""
    if name in _RULES:
        return _RULES[name]
    if name.startswith(("sigma_w_", "sigma_v_", "sigma_b_")):
        return _RULES["sigma_w"]
    if name.startswith("mu_"):
        return _RULES["mu_b"]
    raise KeyError(name)


def _fmt(v) -> str:
    return repr(float(v)) if np.ndim(v) == 0 else f"array of shape {np.shape(v)}"


def check(name: str, value) -> np.ndarray:
    """Return ``value`` as a float64 array after checking it is finite and valid for ``name``."""
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise RnnmfError(f"{name} must be a number or an array of numbers; got {value!r}") from None
    test, valid = _rule(name)
    bad = np.atleast_1d(~np.isfinite(arr))
    bad[~bad] = ~test(np.atleast_1d(arr)[~bad])
    if bad.any():
        first = np.atleast_1d(arr)[bad][0]
        where = ""
        if arr.ndim:
            at = np.argwhere(bad.reshape(arr.shape))[0].tolist()
            where = f" ({int(bad.sum())} of {arr.size} entries invalid, first at {at})"
        raise RnnmfError(f"{name} must be {valid}; got {float(first)!r}{where}")
    return arr


def _first_bad(bad, arrays: dict, names) -> str:
    i = int(np.flatnonzero(bad)[0])
    where = f" ({int(bad.sum())} of {bad.size} points outside; first shown)" if bad.size > 1 else ""
    return ", ".join(f"{k}={float(arrays[k][i])!r}" for k in names if k in arrays) + where


def q_bound(cell: str, sigma_w=0.0, sigma_v=0.0, R=1.0, sigma_b=0.0):
    """An upper bound on q* from the inputs alone: sigma_w^2 + sigma_v^2 R + sigma_b^2 for the vanilla RNN
    (tanh^2 <= 1 in eq. 2), (sigma_w^2 + sigma_v^2) R + sigma_b^2 for the minimalRNN (Q* < R, eq. 24)."""
    with np.errstate(over="ignore", invalid="ignore"):
        sw2, sv2, sb2 = (np.asarray(x, dtype=float) ** 2 for x in (sigma_w, sigma_v, sigma_b))
        R = np.asarray(R, dtype=float)
        return sw2 + sv2 * R + sb2 if cell == "vanilla" else (sw2 + sv2) * R + sb2


def check_domain(cell: str, **values) -> None:
    """Refuse inputs outside the numerically supported domain of ``cell``'s theory (see the module docstring).

    ``values`` may hold sigma_w, sigma_v, R, sigma_b, mu_b (broadcastable arrays or scalars; missing ones count as 0,
    R as 1), or q_star (the critical-initialisation calculators, which take q* itself).
    """
    arrays = {k: np.atleast_1d(np.asarray(v, dtype=float)) for k, v in values.items()}
    limit = Q_LIMIT[cell]
    if "mu_b" in arrays:
        mu = arrays["mu_b"]
        bad = np.abs(mu) > MU_B_LIMIT
        if bad.any():
            raise RnnmfError(f"mu_b={float(mu[bad][0])!r} is outside the supported domain |mu_b| <= {MU_B_LIMIT:g} "
                             "(beyond it every gate saturates to all printed digits); valid: a bias mean in "
                             f"[-{MU_B_LIMIT:g}, {MU_B_LIMIT:g}]")
    if "q_star" in arrays:
        q = arrays["q_star"]
        low = q < Q_STAR_MIN[cell]
        if low.any():
            raise RnnmfError(f"q_star={float(q[low][0])!r} is outside the supported domain of the {cell} theory; "
                             f"valid: q_star >= {Q_STAR_MIN[cell]:g} (below it sigma_v^2 ~ (4/3) q*^3 / R is lost "
                             "to rounding)")
        bad = q > limit
        if bad.any():
            raise RnnmfError(f"q_star={float(q[bad][0])!r} is outside the supported domain of the {cell} theory; "
                             f"valid: q_star <= {limit:g} (the quadrature's cost grows with q*)")
        return
    names = [k for k in ("sigma_w", "sigma_v", "R", "sigma_b") if k in arrays]
    if not names:
        return
    parts = {k: arrays.get(k, np.zeros(1) if k != "R" else np.ones(1)) for k in ("sigma_w", "sigma_v", "R", "sigma_b")}
    full = dict(zip(parts, np.broadcast_arrays(*parts.values()), strict=True))
    bound = q_bound(cell, **{k: v.ravel() for k, v in full.items()})
    bad = ~(bound <= limit)
    if bad.any():
        first = float(bound[bad][0])
        raise RnnmfError(
            f"{_first_bad(bad, {k: v.ravel() for k, v in full.items()}, names)}: q* can reach "
            f"{_Q_BOUND_TEXT[cell]} = {first:.8g}, outside the supported domain of the {cell} theory; valid: "
            f"{_Q_BOUND_TEXT[cell]} <= {limit:g} (the quadrature's cost grows with q*)")


def broadcast(domain: str | None = None, **values):
    """Check each named value, broadcast them together; returns (dict of flat arrays, shape, all_scalar).

    ``domain`` ("vanilla" or "minimal") also checks the numerically supported domain of that cell's theory.
    """
    arrays = {k: check(k, v) for k, v in values.items()}
    try:
        shape = np.broadcast_shapes(*(a.shape for a in arrays.values()))
    except ValueError:
        shapes = ", ".join(f"{k}{a.shape}" for k, a in arrays.items())
        raise RnnmfError(f"hyper-parameter arrays do not broadcast together: {shapes}") from None
    if domain is not None:
        check_domain(domain, **{k: a for k, a in arrays.items() if k in _DOMAIN_KEYS})
    flat = {k: np.broadcast_to(a, shape).ravel().copy() for k, a in arrays.items()}
    return flat, shape, all(a.ndim == 0 for a in arrays.values())


_DOMAIN_KEYS = ("sigma_w", "sigma_v", "R", "sigma_b", "mu_b", "q_star")


def broadcast_schedule(schedule, domain: str | None = None, **values):
    """Like broadcast, plus a Sigma12 schedule with time on axis 0; returns (flat dict, schedule (T, size), shape)."""
    sched = check("sigma12", schedule)
    if sched.ndim == 0:
        sched = sched[None]
    if sched.shape[0] == 0:
        raise RnnmfError("sigma12 schedule must have at least one time step; got an empty sequence")
    arrays = {k: check(k, v) for k, v in values.items()}
    try:
        shape = np.broadcast_shapes(*(a.shape for a in arrays.values()), sched.shape[1:])
    except ValueError:
        shapes = ", ".join(f"{k}{a.shape}" for k, a in arrays.items())
        raise RnnmfError(
            f"hyper-parameter arrays do not broadcast with the schedule's trailing shape {sched.shape[1:]}: {shapes}"
        ) from None
    if domain is not None:
        check_domain(domain, **{k: a for k, a in arrays.items() if k in _DOMAIN_KEYS})
    flat = {k: np.broadcast_to(a, shape).ravel().copy() for k, a in arrays.items()}
    tail = sched.shape[1:]
    steps = sched.reshape(sched.shape[:1] + (1,) * (len(shape) - len(tail)) + tail)  # align tails with shape
    steps = np.broadcast_to(steps, (sched.shape[0], *shape))
    return flat, steps.reshape(sched.shape[0], -1), shape


def out(x, shape, scalar: bool):
    """Reshape a flat result; scalars in give Python floats (or bools) out."""
    x = np.asarray(x).reshape(shape)
    if scalar:
        return x.item()
    return x
