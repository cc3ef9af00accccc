"""Phase maps: tau, chi_1, chi_c*, c*, q* over a grid of any two hyper-parameters, in one vectorised call."""

from __future__ import annotations

import numpy as np

from rnnmf.errors import RnnmfError
from rnnmf.theory import _validate as validate
from rnnmf.theory import minimal, vanilla
from rnnmf.theory._common import timescale

CELLS = ("vanilla", "minimal")
PARAMS = {
    "vanilla": {"sigma_w": None, "sigma_v": None, "R": None, "sigma_b": 0.0, "mu_b": 0.0, "sigma12": None},
    "minimal": {"sigma_w": None, "sigma_v": None, "R": None, "mu_b": None, "sigma_b": 0.0, "sigma12": None},
}
KEYS = ("tau", "chi_1", "chi_c_star", "c_star", "q_star")


def phase_map(cell: str, x_name: str, x_values, y_name: str, y_values, *, fixed: dict, sigma12=0.0) -> dict:
    """Evaluate the mean-field quantities on the grid x_values (columns) by y_values (rows).

    ``fixed`` gives the remaining hyper-parameters (sigma_w, sigma_v, R, mu_b, sigma_b; sigma_b and, for the vanilla
    cell, mu_b default to 0).  ``sigma12`` (the constant input cosine) may itself be one of the two axes.
    Returns a dict of 2-D arrays of shape (len(y_values), len(x_values)): keys ``KEYS`` plus ``x_name`` and
    ``y_name`` (the meshgrid of the axes), ready for ``pcolormesh(d[x_name], d[y_name], d["tau"])``.
    """
    if cell not in PARAMS:
        raise RnnmfError(f"unknown cell {cell!r}; valid cells: {', '.join(CELLS)}")
    names = PARAMS[cell]
    for axis in (x_name, y_name):
        if axis not in names:
            raise RnnmfError(f"unknown axis {axis!r} for cell {cell!r}; valid: {', '.join(names)}")
    if x_name == y_name:
        raise RnnmfError(f"x_name and y_name must differ; both are {x_name!r}")
    unknown = set(fixed) - set(names)
    if unknown:
        raise RnnmfError(f"unknown fixed parameter(s) {sorted(unknown)} for cell {cell!r}; valid: {', '.join(names)}")
    clash = {x_name, y_name} & set(fixed)
    if clash:
        raise RnnmfError(f"{sorted(clash)} given both as an axis and in fixed; give each parameter once")
    xs = validate.check(x_name, x_values).ravel()
    ys = validate.check(y_name, y_values).ravel()
    X, Y = np.meshgrid(xs, ys)
    params = dict(names)
    params["sigma12"] = sigma12
    params.update(fixed)
    params[x_name], params[y_name] = X, Y
    missing = [k for k, v in params.items() if v is None]
    if missing:
        raise RnnmfError(f"phase_map for cell {cell!r} needs a value for {', '.join(missing)} in fixed")

    p, shape, _ = validate.broadcast(domain=cell, **params)  # flat arrays over the grid
    if cell == "vanilla":
        r = vanilla._solve(p["sigma_w"], p["sigma_v"], p["R"], p["sigma_b"], p["mu_b"], p["sigma12"])
        r["tau"] = timescale(r["chi_c_star"])
    else:
        r = minimal._solve(p["sigma_w"], p["sigma_v"], p["R"], p["mu_b"], p["sigma_b"], p["sigma12"])
    out = {k: np.asarray(r[k]).reshape(shape) for k in KEYS}
    out[x_name], out[y_name] = X, Y
    return out
