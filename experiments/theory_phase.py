"""`rnnmf theory phase`: tau and chi_1 over a 2-D grid of two hyper-parameters (the theory behind Fig. 1e and Fig. 2).

Writes ``phase.csv`` (tidy: one row per grid point) and ``phase.png/pdf`` (log10 tau with the chi_1 = 1 contour).
The map is one vectorised call to :func:`rnnmf.theory.phase_map`, so it is recomputed rather than resumed.
"""

from __future__ import annotations

import time

import numpy as np
from omegaconf import OmegaConf

from experiments.figures import draw
from experiments.schema import Int, Num, OneOf, check_memory
from rnnmf.errors import RnnmfError
from rnnmf.io import write_text_atomic
from rnnmf.theory.phase import KEYS, PARAMS, phase_map


def _fixed(cfg) -> dict:
    fixed = OmegaConf.to_container(cfg.fixed, resolve=True)
    valid = PARAMS[cfg.cell]
    return {k: v for k, v in fixed.items() if k in valid and k not in (cfg.x.name, cfg.y.name)}


_AXIS = OneOf(values=tuple(dict.fromkeys([*PARAMS["vanilla"], *PARAMS["minimal"]])))
SCHEMA = {
    "cell": OneOf(values=tuple(PARAMS)),
    "x.name": _AXIS, "y.name": _AXIS,
    "x.start": Num(), "x.stop": Num(), "y.start": Num(), "y.stop": Num(),
    "num": Int(min=2),
    "sigma12": Num(min=-1.0, max=1.0),
    "fixed.sigma_w": Num(min=0.0), "fixed.sigma_v": Num(min=0.0), "fixed.sigma_b": Num(min=0.0),
    "fixed.mu_b": Num(), "fixed.R": Num(gt=0.0),
}
#: bytes per grid point of one phase_map call: ~40 float64 arrays over the grid (inputs, the fixed points, the
#: moments and the outputs), measured as 2-3 kB per point with the lattice chunks, with a margin
BYTES_PER_POINT = 4096


def validate(cfg) -> None:
    """Beyond SCHEMA: the axes of this cell, the numerical domain at the grid's corners, the memory of the grid."""
    for axis in (cfg.x, cfg.y):
        if axis.name not in PARAMS[cfg.cell]:
            raise RnnmfError(f"unknown axis {axis.name!r} for cell {cfg.cell!r}; valid: {', '.join(PARAMS[cfg.cell])}")
    check_memory(cfg.num**2 * BYTES_PER_POINT, f"a {cfg.num} x {cfg.num} grid (num={cfg.num})", "num")
    # the library checks ranges and the numerical domain (negative sigma's, |Sigma12| > 1, R <= 0, q* beyond what
    # the quadrature resolves) on a 2 x 2 corner grid, cheaply: the domain's bound grows towards the corners
    try:
        phase_map(cfg.cell, cfg.x.name, [cfg.x.start, cfg.x.stop], cfg.y.name, [cfg.y.start, cfg.y.stop],
                  fixed=_fixed(cfg), sigma12=cfg.sigma12)
    except RnnmfError as exc:  # say which keys the grid's corners came from
        raise RnnmfError(f"the grid {cfg.x.name} = x.start..x.stop = {cfg.x.start}..{cfg.x.stop}, {cfg.y.name} = "
                         f"y.start..y.stop = {cfg.y.start}..{cfg.y.stop}: {exc}") from None


def run(cfg, out_dir):
    xs = np.linspace(cfg.x.start, cfg.x.stop, cfg.num)
    ys = np.linspace(cfg.y.start, cfg.y.stop, cfg.num)
    t0 = time.time()
    maps = phase_map(cfg.cell, cfg.x.name, xs, cfg.y.name, ys, fixed=_fixed(cfg), sigma12=cfg.sigma12)
    seconds = time.time() - t0
    import pandas as pd

    table = pd.DataFrame({"cell": cfg.cell, "sigma12": cfg.sigma12, "x_name": cfg.x.name, "y_name": cfg.y.name,
                          "x": maps[cfg.x.name].ravel(), "y": maps[cfg.y.name].ravel(),
                          **{k: maps[k].ravel() for k in KEYS}})
    write_text_atomic(out_dir / "phase.csv", table.to_csv(index=False))
    draw("theory_phase", out_dir)
    tau = maps["tau"]
    finite = np.isfinite(tau)
    return {"grid": f"{cfg.num} x {cfg.num}", "seconds": round(seconds, 2),
            "tau_max_finite": float(tau[finite].max()) if finite.any() else None,
            "fraction_tau_infinite": float(1 - finite.mean()),
            "chi_1_range": [float(maps["chi_1"].min()), float(maps["chi_1"].max())]}
