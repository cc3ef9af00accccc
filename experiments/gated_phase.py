"""Beyond the paper: `rnnmf theory phase --cell gru|lstm`, chi_1 and tau at Sigma12 = 1 over a 2-D grid.

The same CSV and figure as ``experiments.theory_phase`` (``phase.csv``, ``phase.png/pdf``: log10 tau with the
chi_1 = 1 contour, and chi_1), for torch's gated cells (docs/gated-mean-field.md). In the ordered phase c* = 1,
chi_c* = chi_1 and tau = -1/log chi_1 exactly (eq. 15, 23); in the chaotic phase (chi_1 > 1) c* < 1 needs the pair law
point by point, so c_star, chi_c_star and tau are left empty there. The q_star column holds the state's Q* = E[h^2].
"""

from __future__ import annotations

import time

import numpy as np

from experiments.figures import draw
from experiments.settings.gated_phase import grid
from rnnmf.io import write_text_atomic
from rnnmf.theory import gru, lstm
from rnnmf.theory._common import timescale
from rnnmf.theory.phase import KEYS


def maps(cfg, num: int) -> dict:
    """The KEYS of ``rnnmf.theory.phase`` as 2-D arrays (rows: y, columns: x), plus the axes."""
    kw = grid(cfg, num)
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
