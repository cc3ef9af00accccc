"""`rnnmf theory phase`: tau and chi_1 over a 2-D grid of two hyper-parameters (the theory behind Fig. 1e and Fig. 2).

Writes ``phase.csv`` (tidy: one row per grid point) and ``phase.png/pdf`` (log10 tau with the chi_1 = 1 contour).
The map is one vectorised call to :func:`rnnmf.theory.phase_map`, so it is recomputed rather than resumed.
"""

from __future__ import annotations

import time

import numpy as np

from experiments.settings.theory_phase import fixed
from rnnmf.io import read_rows, write_text_atomic
from rnnmf.theory.phase import KEYS, phase_map

LABELS = {"sigma_w": r"$\sigma_w$", "sigma_v": r"$\sigma_v$", "sigma_b": r"$\sigma_b$", "mu_b": r"$\mu_b$",
          "R": r"$R$", "sigma12": r"$\Sigma_{12}$"}


def run(cfg, out_dir):
    xs = np.linspace(cfg.x.start, cfg.x.stop, cfg.num)
    ys = np.linspace(cfg.y.start, cfg.y.stop, cfg.num)
    t0 = time.time()
    maps = phase_map(cfg.cell, cfg.x.name, xs, cfg.y.name, ys, fixed(cfg), sigma12=cfg.sigma12)
    seconds = time.time() - t0
    import pandas as pd

    table = pd.DataFrame({"cell": cfg.cell, "sigma12": cfg.sigma12, "x_name": cfg.x.name, "y_name": cfg.y.name,
                          "x": maps[cfg.x.name].ravel(), "y": maps[cfg.y.name].ravel(),
                          **{k: maps[k].ravel() for k in KEYS}})
    write_text_atomic(out_dir / "phase.csv", table.to_csv(index=False))
    plot(out_dir)
    tau = maps["tau"]
    finite = np.isfinite(tau)
    return {"grid": f"{cfg.num} x {cfg.num}", "seconds": round(seconds, 2),
            "tau_max_finite": float(tau[finite].max()) if finite.any() else None,
            "fraction_tau_infinite": float(1 - finite.mean()),
            "chi_1_range": [float(maps["chi_1"].min()), float(maps["chi_1"].max())]}


def plot(out_dir) -> None:
    """log10 tau heat map with the chi_1 = 1 contour, from phase.csv only."""
    from rnnmf.plots import SEQUENTIAL_CMAP, figure, panel_label, save

    df = read_rows(out_dir / "phase.csv")
    x_name, y_name = df.x_name.iloc[0], df.y_name.iloc[0]
    xs, ys = np.unique(df.x), np.unique(df.y)
    grid = df.pivot_table(index="y", columns="x", values="tau", aggfunc="first").reindex(index=ys, columns=xs)
    chi = df.pivot_table(index="y", columns="x", values="chi_1", aggfunc="first").reindex(index=ys, columns=xs)
    log_tau = np.log10(np.clip(grid.to_numpy(dtype=float), 1e-3, 1e6))  # tau = inf is drawn at the top of the scale
    fig, axes = figure(1, 2, width=3.6, height=2.9)
    mesh = axes[0, 0].pcolormesh(xs, ys, log_tau, shading="auto", cmap=SEQUENTIAL_CMAP)
    fig.colorbar(mesh, ax=axes[0, 0], label=r"$\log_{10}\tau$")
    mesh = axes[0, 1].pcolormesh(xs, ys, chi.to_numpy(dtype=float), shading="auto", cmap="coolwarm",
                                 vmin=0.0, vmax=2.0)
    fig.colorbar(mesh, ax=axes[0, 1], label=r"$\chi_1$")
    for ax, label in zip(axes[0], "ab", strict=True):
        if np.nanmin(chi.to_numpy()) < 1 < np.nanmax(chi.to_numpy()):
            ax.contour(xs, ys, chi.to_numpy(dtype=float), levels=[1.0], colors="white", linestyles="--")
        ax.set_xlabel(LABELS.get(x_name, x_name))
        ax.set_ylabel(LABELS.get(y_name, y_name))
        panel_label(ax, label)
    fig.suptitle(f"{df.cell.iloc[0]} RNN, $\\Sigma_{{12}}$ = {df.sigma12.iloc[0]:g} (dashed: $\\chi_1 = 1$)")
    save(fig, out_dir / "phase")
