"""Input validation for every public entry point of ``rnnmf.theory`` (the one place that raises RnnmfError).

Each check names the offending value and what is valid, in one line, as the CLI prints ``str(error)``.
"""

from __future__ import annotations

import numpy as np

from rnnmf.errors import RnnmfError

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


def broadcast(**values):
    """Check each named value, broadcast them together; returns (dict of flat arrays, shape, all_scalar)."""
    arrays = {k: check(k, v) for k, v in values.items()}
    try:
        shape = np.broadcast_shapes(*(a.shape for a in arrays.values()))
    except ValueError:
        shapes = ", ".join(f"{k}{a.shape}" for k, a in arrays.items())
        raise RnnmfError(f"hyper-parameter arrays do not broadcast together: {shapes}") from None
    flat = {k: np.broadcast_to(a, shape).ravel().copy() for k, a in arrays.items()}
    return flat, shape, all(a.ndim == 0 for a in arrays.values())


def broadcast_schedule(schedule, **values):
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
