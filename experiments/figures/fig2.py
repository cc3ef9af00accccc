"""Fig. 2, trainable depth against τ: accuracy heat maps with τ, k·τ and T_max over them, from the CSVs of job
``trainability`` alone: ``points.csv``, and where they exist ``theory.csv`` and ``boundary.csv``."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from rnnmf.io import read_rows

#: where each panel of the paper's Fig. 2 sits, (row, column): top row untied weights, bottom row tied; columns the
#: vanilla RNN over σ_w (a, b), the minimalRNN over μ_b (c, d), over σ_w at μ_b = 4 (e, f) and at μ_b = 6 (g, h).
#: A figure of fewer panels keeps their order and drops the empty rows and columns.
#: The gated panels (beyond the paper) continue the grid: GRU over μ_z (i, j) and σ_w (k, l), LSTM over μ_f (m, n)
#: and σ_w (o, p); their points keep the memory gate's bias in ``mu_b``.
PLACE = {"a": (0, 0), "b": (1, 0), "c": (0, 1), "d": (1, 1), "e": (0, 2), "f": (1, 2), "g": (0, 3), "h": (1, 3),
         "i": (0, 4), "j": (1, 4), "k": (0, 5), "l": (1, 5), "m": (0, 6), "n": (1, 6), "o": (0, 7), "p": (1, 7)}
LABEL = {"sigma_w": "σ_w", "mu_b": "μ_b", "mu_z": "μ_z (GRU)", "mu_f": "μ_f (LSTM)"}


def plot(out_dir: str | Path, rows_per_octave: int = 8) -> list[Path]:
    """Fig. 2 from the CSVs: per panel a heat map of the boundary's metric (``boundary.csv``; training accuracy until
    it exists) over (hyper-parameter, T), T on a log axis; each column's accuracy (mean over seeds) is interpolated
    linearly in log T between the depths its bisection trained and held constant beyond them. Over it: τ (white
    dashed), the fitted k·τ (white dotted) and T_max with its bracket (black; ▲ trainable at the deepest depth, ▼ at
    none). Panels sit as in the paper (:data:`PLACE`)."""
    from matplotlib.ticker import NullLocator

    from rnnmf import plots

    out_dir = Path(out_dir)
    pts, theory, bound = (read_rows(out_dir / f) for f in ("points.csv", "theory.csv", "boundary.csv"))
    if pts.empty:
        return []
    metric = str(bound["metric"].iloc[0]) if len(bound) and "metric" in bound.columns else "train_acc"
    panels = sorted(set(pts["panel"]), key=lambda p: PLACE[p])  # row by row: a, c, e, g, then b, d, f, h
    rows = sorted({PLACE[p][0] for p in panels})
    cols = {c: i for i, c in enumerate(sorted({PLACE[p][1] for p in panels}))}
    fig, axes = plots.figure(len(rows), len(cols), width=3.0, height=2.6)
    image = None
    for panel in panels:
        row, col = rows.index(PLACE[panel][0]), cols[PLACE[panel][1]]
        ax = axes[row, col]
        df = pts[pts["panel"] == panel].assign(_acc=lambda d: d[metric].fillna(0.1))  # diverged: chance level
        th = theory[theory["panel"] == panel] if not theory.empty else theory
        b = bound[bound["panel"] == panel] if not bound.empty else bound
        vary = _swept(df, th, b)
        column = "sigma_w" if vary == "sigma_w" else "mu_b"  # the points.csv column that holds it
        values = np.sort(df[column].unique())
        t_lo = float(b["T_first"].min()) if len(b) else float(df["T"].min())  # the lattice's ends
        t_hi = float(b["T_last"].max()) if len(b) else float(df["T"].max())
        n_rows = max(2, int(round(rows_per_octave * math.log2(t_hi / t_lo))) if t_hi > t_lo else 2)
        edges_T = np.geomspace(t_lo / 2 ** (0.5 / rows_per_octave), t_hi * 2 ** (0.5 / rows_per_octave), n_rows + 1)
        centres = np.sqrt(edges_T[1:] * edges_T[:-1])
        grid = np.full((n_rows, len(values)), np.nan)
        for j, v in enumerate(values):
            mean = df[df[column] == v].groupby("T")["_acc"].mean()
            grid[:, j] = np.interp(np.log(centres), np.log(mean.index.to_numpy(float)), mean.to_numpy())
        image = ax.pcolormesh(_edges(values), edges_T, grid, cmap=plots.HEATMAP_CMAP, vmin=0.1, vmax=1.0,
                              shading="flat")
        ax.set_yscale("log")
        if len(th):
            ax.plot(th["value"], th["tau"], label="τ", **plots.THEORY_STYLE)
            k = float(b["k"].iloc[0]) if len(b) else math.nan
            if math.isfinite(k):
                ax.plot(th["value"], k * th["tau"], label="k·τ (fit)", **{**plots.THEORY_STYLE, "linestyle": ":"})
        if len(b):
            cens = b["censored"].astype(str)
            ok = b[np.isfinite(b["T_max"])]
            if len(ok):
                ax.errorbar(ok["value"], ok["T_max"], yerr=[ok["T_max"] - ok["T_lo"], ok["T_hi"] - ok["T_max"]],
                            fmt="o", ms=2.5, lw=0.8, color="black", label="T_max [T_lo, T_hi]")
            up, down = b[cens == "above"], b[cens == "below"]
            ax.plot(up["value"], np.full(len(up), edges_T[-1] / 1.1), "^", ms=3, color="black")
            ax.plot(down["value"], np.full(len(down), edges_T[0] * 1.1), "v", ms=3, color="black")
        ax.set_ylim(edges_T[0], edges_T[-1])
        ticks = [t for t in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000) if t_lo <= t <= t_hi]
        ax.set_yticks(ticks, [str(t) for t in ticks])
        ax.yaxis.set_minor_locator(NullLocator())
        ax.set_xlim(_edges(values)[0], _edges(values)[-1])
        ax.set_xlabel(LABEL[vary])
        if col == 0:
            ax.set_ylabel("T")
        r2 = float(b["r2"].iloc[0]) if len(b) else math.nan
        fit = f", R²={r2:.2f}" if math.isfinite(r2) else ""
        cell = "" if df["cell"].iloc[0] in ("vanilla", "minimal") else f"{df['cell'].iloc[0].upper()} "
        ax.set_title(f"{cell}{df['weights'].iloc[0]}{fit}", fontsize=8, loc="right")
        plots.panel_label(ax, panel)
        if panel == panels[0]:
            handles, labels = ax.get_legend_handles_labels()
            fig.legend(handles, labels, loc="outside lower center", ncols=4, fontsize=7, facecolor="0.6",
                       frameon=True)
    for ax in axes.flat:
        if not ax.has_data():
            ax.set_visible(False)
    if image is not None:
        fig.colorbar(image, ax=axes, shrink=0.8, label=metric.replace("_", " "))
    return plots.save(fig, out_dir / "fig2")


def _swept(points, theory, boundary) -> str:
    """The hyper-parameter a panel sweeps: the ``param`` its theory curve or boundary rows name (a folder from before
    theory.csv: the one of σ_w, μ_b its points vary)."""
    for df in (theory, boundary):
        if len(df) and "param" in df.columns:
            return str(df["param"].iloc[0])
    return "mu_b" if points["mu_b"].nunique() > 1 else "sigma_w"


def _edges(centres: np.ndarray) -> np.ndarray:
    """Cell edges around sorted centres (midpoints; half a step beyond the ends)."""
    c = np.asarray(centres, dtype=float)
    if len(c) == 1:
        return np.array([c[0] - 0.5, c[0] + 0.5])
    mid = (c[1:] + c[:-1]) / 2
    return np.concatenate([[c[0] - (mid[0] - c[0])], mid, [c[-1] + (c[-1] - mid[-1])]])


