"""Fig. 2 at initialisation: the linear probe's held-out accuracy over (hyper-parameter, T) with τ, k·τ and T_max
over it, from the CSVs of job ``memory_probe`` alone: ``curves.csv``, ``tmax.csv`` and (where it exists)
``fit.csv``."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from experiments.figures.fig2 import LABEL, _edges
from experiments.settings.trainability import PANELS
from rnnmf.io import read_rows


def plot(out_dir: str | Path) -> list[Path]:
    """From the CSVs: per width (rows) and panel (columns) a heat map of the probe's held-out accuracy over
    (hyper-parameter, T), T on a log axis, with τ (white dashed), the fitted k·τ (white dotted) and T_max (black;
    ▲ censored above). Seed 0 of each width."""
    from matplotlib.ticker import NullLocator

    from rnnmf import plots

    out_dir = Path(out_dir)
    curves, tmax, fits = (read_rows(out_dir / f) for f in ("curves.csv", "tmax.csv", "fit.csv"))
    if curves.empty:
        return []
    seed = int(curves["seed"].min())
    curves, tmax = curves[curves["seed"] == seed], tmax[tmax["seed"] == seed]
    widths, panels = sorted(set(curves["hidden"])), sorted(set(curves["panel"]))
    fig, axes = plots.figure(len(widths), len(panels), width=3.0, height=2.4)
    image = None
    for i, hidden in enumerate(widths):
        for j, panel in enumerate(panels):
            ax = axes[i, j]
            c = curves[(curves["hidden"] == hidden) & (curves["panel"] == panel)]
            t = tmax[(tmax["hidden"] == hidden) & (tmax["panel"] == panel)].sort_values("value")
            if c.empty:
                ax.set_visible(False)
                continue
            grid = c.pivot_table(index="T", columns="value", values="acc")
            depths, values = grid.index.to_numpy(float), grid.columns.to_numpy(float)
            edges_T = np.sqrt(depths[1:] * depths[:-1])
            edges_T = np.concatenate([[depths[0] ** 2 / edges_T[0]], edges_T, [depths[-1] ** 2 / edges_T[-1]]])
            image = ax.pcolormesh(_edges(values), edges_T, grid.to_numpy(), cmap=plots.HEATMAP_CMAP, vmin=0.1,
                                  vmax=1.0, shading="flat")
            ax.set_yscale("log")
            ax.plot(t["value"], t["tau"], label="τ", **plots.THEORY_STYLE)
            f = fits[(fits["hidden"] == hidden) & (fits["panel"] == panel) & (fits["seed"] == seed)] \
                if len(fits) else fits  # a run interrupted before its fit.csv: no k·τ, no R²
            k = float(f["k"].iloc[0]) if len(f) else math.nan
            if math.isfinite(k):
                ax.plot(t["value"], k * t["tau"], label="k·τ (fit)", **{**plots.THEORY_STYLE, "linestyle": ":"})
            ok, up = t[t["censored"] == "none"], t[t["censored"] == "above"]
            ax.plot(ok["value"], ok["T_max"], "o", ms=2.5, color="black", label="T_max (probe)")
            ax.plot(up["value"], up["T_max"], "^", ms=3, color="black")
            ax.set_ylim(edges_T[0], edges_T[-1])
            ticks = [x for x in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000) if depths[0] <= x <= depths[-1]]
            ax.set_yticks(ticks, [str(x) for x in ticks])
            ax.yaxis.set_minor_locator(NullLocator())
            ax.set_xlabel(LABEL[PANELS[panel]["vary"]])
            if j == 0:
                ax.set_ylabel(f"T (N = {hidden})")
            r2 = float(f["r2"].iloc[0]) if len(f) else math.nan
            ax.set_title(f"{PANELS[panel]['weights']}, N={hidden}" + (f", R²={r2:.2f}" if math.isfinite(r2) else ""),
                         fontsize=8, loc="right")
            plots.panel_label(ax, panel)
            if i == 0 and j == 0:
                handles, labels = ax.get_legend_handles_labels()
                fig.legend(handles, labels, loc="outside lower center", ncols=3, fontsize=7, facecolor="0.6",
                           frameon=True)
    if image is not None:
        fig.colorbar(image, ax=axes, shrink=0.8, label="probe accuracy (held out)")
    return plots.save(fig, out_dir / "probe")
