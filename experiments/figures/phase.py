"""`rnnmf theory phase`: the τ and χ₁ maps over two hyper-parameters (vanilla, minimalRNN, and torch's GRU and
LSTM), from ``phase.csv`` alone (jobs ``theory_phase`` and ``gated_phase`` write the same columns)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rnnmf.io import read_rows

LABELS = {"sigma_w": r"$\sigma_w$", "sigma_v": r"$\sigma_v$", "sigma_b": r"$\sigma_b$", "mu_b": r"$\mu_b$",
          "R": r"$R$", "sigma12": r"$\Sigma_{12}$"}


def plot(out_dir) -> list[Path]:
    """log10 tau heat map with the chi_1 = 1 contour, from phase.csv only."""
    from rnnmf.plots import SEQUENTIAL_CMAP, figure, panel_label, save

    out_dir = Path(out_dir)
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
    return save(fig, out_dir / "phase")
