"""Fig. 2's theory: τ at Σ12 = 0 for every column of the trainability sweep, and the dense τ curves of its figure.

The vanilla RNN's and the minimalRNN's τ are closed forms vectorised over a panel (eq. 4, eq. 9); the GRU's and the
LSTM's (beyond the paper, docs/gated-mean-field.md eq. 12 and 25) take ~1-10 s a point, so they are cached per point
(a tied and an untied panel share their columns) and their curves have only the columns and the midpoints.
"""

from __future__ import annotations

import functools

import numpy as np

from experiments.settings.trainability import GATED, input_R, panel_settings

THEORY_COLUMNS = ["panel", "param", "value", "sigma_w", "sigma_v", "mu_b", "R", "tau"]


def theory_tau(cell: str, sigma_w, sigma_v, mu_b, R, population: int = 1 << 16):
    """τ at Σ12 = 0 (σ_b = 0), vectorised over the grid: eq. 4 (vanilla), eq. 9 (minimalRNN), or the gated theory
    (docs/gated-mean-field.md eq. 12, 25; ``mu_b`` is the memory gate's bias), one point at a time and cached."""
    if cell in GATED:
        return np.array([_gated_tau(cell, float(w), float(sigma_v), float(m), float(R), int(population))
                         for w, m in np.broadcast(np.asarray(sigma_w, float), np.asarray(mu_b, float))])
    if cell == "vanilla":
        from rnnmf.theory import vanilla as theory
    else:
        from rnnmf.theory import minimal as theory
    return np.asarray(theory.tau(np.asarray(sigma_w, float), np.asarray(sigma_v, float), R, sigma_b=0.0,
                                 mu_b=np.asarray(mu_b, float), sigma12=0.0), dtype=float)


@functools.lru_cache(maxsize=512)
def _gated_tau(cell: str, sigma_w: float, sigma_v: float, mu: float, R: float, population: int) -> float:
    """One gated column's τ (tied and untied panels share it; the LSTM's population has a fixed seed, 0)."""
    if cell == "gru":
        from rnnmf.theory import gru

        return float(gru.tau(R=R, sigma_w=sigma_w, sigma_v=sigma_v, sigma_b=0.0, mu_z=mu, sigma12=0.0))
    from rnnmf.theory import lstm

    return float(lstm.tau(R=R, sigma_w=sigma_w, sigma_v=sigma_v, sigma_b=0.0, mu_f=mu, sigma12=0.0,
                          population=population, seed=0))


def theory_curves(cfg, num: int = 200):
    """τ on a dense axis per panel (for the white curves of the figure); the gated panels' τ costs ~1-10 s a point,
    so theirs has the columns and the midpoints between them."""
    import pandas as pd

    rows = []
    for panel in cfg.panels:
        s = panel_settings(cfg, panel)
        R = input_R(s["cell"], cfg.task.sigma_x, cfg.init.sigma_wx)
        n = 2 * len(s["values"]) - 1 if s["cell"] in GATED else num
        axis = np.linspace(min(s["values"]), max(s["values"]), n)
        if s["cell"] in GATED:  # the columns' own values, rounded as they are, so their cached τ serves the curve
            axis = np.round(axis, 6)
        sw = axis if s["sigma_w"] is None else np.full(axis.size, s["sigma_w"])
        mb = axis if s["mu_b"] is None else np.full(axis.size, s["mu_b"])
        taus = theory_tau(s["cell"], sw, s["sigma_v"], mb, R, int(cfg.gated.population))
        rows += [{"panel": panel, "param": s["vary"], "value": float(v), "sigma_w": float(w), "sigma_v": s["sigma_v"],
                  "mu_b": float(m), "R": R, "tau": float(t)} for v, w, m, t in zip(axis, sw, mb, taus, strict=True)]
    return pd.DataFrame(rows, columns=THEORY_COLUMNS)
