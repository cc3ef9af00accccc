"""Beyond the paper: `rnnmf theory phase --cell gru|lstm`, chi_1 and tau at Sigma12 = 1 over a 2-D grid.

The same CSV and figure as ``experiments.theory_phase`` (``phase.csv``, ``phase.png/pdf``: log10 tau with the
chi_1 = 1 contour, and chi_1), for torch's gated cells (docs/gated-mean-field.md). In the ordered phase c* = 1,
chi_c* = chi_1 and tau = -1/log chi_1 exactly (eq. 15, 23); in the chaotic phase (chi_1 > 1) c* < 1 needs the pair law
point by point, so c_star, chi_c_star and tau are left empty there. The q_star column holds the state's Q* = E[h^2].
"""

from __future__ import annotations

import time

import numpy as np
from omegaconf import OmegaConf

from experiments.figures import draw
from rnnmf.errors import RnnmfError
from rnnmf.io import write_text_atomic
from rnnmf.theory import gru, lstm
from rnnmf.theory._common import timescale
from rnnmf.theory.gated import CELLS, param_names, resolve
from rnnmf.theory.phase import KEYS

SHARED = ("R", "sigma_w", "sigma_v", "sigma_b")


def axes_valid(cell: str) -> tuple[str, ...]:
    return SHARED + param_names(cell)


def _fixed(cfg) -> dict:
    fixed = {**OmegaConf.to_container(cfg.fixed, resolve=True), **OmegaConf.to_container(cfg[cfg.cell], resolve=True)}
    return {k: v for k, v in fixed.items() if k not in (cfg.x.name, cfg.y.name)}


def _grid(cfg, num: int) -> dict:
    xs = np.linspace(cfg.x.start, cfg.x.stop, num)
    ys = np.linspace(cfg.y.start, cfg.y.stop, num)
    X, Y = np.meshgrid(xs, ys)
    kw = _fixed(cfg)
    kw[cfg.x.name], kw[cfg.y.name] = X, Y
    return kw


def validate(cfg) -> None:
    if cfg.cell not in CELLS:
        raise RnnmfError(f"unknown cell {cfg.cell!r} for job gated_phase; valid: {', '.join(CELLS)}")
    if cfg.num < 2:
        raise RnnmfError(f"num={cfg.num}: need at least 2 grid points per axis")
    valid = axes_valid(cfg.cell)
    for axis in (cfg.x, cfg.y):
        if axis.name not in valid:
            raise RnnmfError(f"unknown axis {axis.name!r} for cell {cfg.cell!r}; valid: {', '.join(valid)}")
    if cfg.x.name == cfg.y.name:
        raise RnnmfError(f"x.name and y.name must differ; both are {cfg.x.name!r}")
    resolve(cfg.cell, **_grid(cfg, 2))  # every value's range, on the corners, without solving anything


def maps(cfg, num: int) -> dict:
    """The KEYS of ``rnnmf.theory.phase`` as 2-D arrays (rows: y, columns: x), plus the axes."""
    kw = _grid(cfg, num)
    d = (gru if cfg.cell == "gru" else lstm).diagonal(**kw)
    chi = np.asarray(d["chi_1"], dtype=float)
    ordered = chi <= 1.0
    out = {"chi_1": chi, "q_star": np.asarray(d["Q_star"], dtype=float),
           "c_star": np.where(ordered, 1.0, np.nan), "chi_c_star": np.where(ordered, chi, np.nan),
           "tau": np.where(ordered, timescale(chi), np.nan)}
    out[cfg.x.name], out[cfg.y.name] = kw[cfg.x.name], kw[cfg.y.name]
    return out


def run(cfg, out_dir):
    import pandas as pd

    t0 = time.time()
    m = maps(cfg, int(cfg.num))
    seconds = time.time() - t0
    table = pd.DataFrame({"cell": cfg.cell, "sigma12": 1.0, "x_name": cfg.x.name, "y_name": cfg.y.name,
                          "x": m[cfg.x.name].ravel(), "y": m[cfg.y.name].ravel(), **{k: m[k].ravel() for k in KEYS}})
    write_text_atomic(out_dir / "phase.csv", table.to_csv(index=False))
    draw("gated_phase", out_dir)
    chi = m["chi_1"]
    tau = m["tau"]
    finite = np.isfinite(tau)
    return {"grid": f"{cfg.num} x {cfg.num}", "seconds": round(seconds, 2),
            "fraction_chaotic": float((chi > 1).mean()),
            "tau_max_finite": float(tau[finite].max()) if finite.any() else None,
            "chi_1_range": [float(chi.min()), float(chi.max())]}
