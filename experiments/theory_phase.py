"""`rnnmf theory phase`: tau and chi_1 over a 2-D grid of two hyper-parameters (the theory behind Fig. 1e and Fig. 2).

Writes ``phase.csv`` (tidy: one row per grid point) and ``phase.png/pdf`` (log10 tau with the chi_1 = 1 contour).
The map is one vectorised call to :func:`rnnmf.theory.phase_map`, so it is recomputed rather than resumed.
"""

from __future__ import annotations

import time

import numpy as np

from experiments.figures import draw
from experiments.settings.theory_phase import fixed
from rnnmf.io import write_text_atomic
from rnnmf.theory.phase import KEYS, phase_map


def run(cfg, out_dir):
    xs = np.linspace(cfg.x.start, cfg.x.stop, cfg.num)
    ys = np.linspace(cfg.y.start, cfg.y.stop, cfg.num)
    t0 = time.time()
    maps = phase_map(cfg.cell, cfg.x.name, xs, cfg.y.name, ys, fixed=fixed(cfg), sigma12=cfg.sigma12)
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
