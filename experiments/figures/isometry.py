"""Sec. 3.2.2, dynamical isometry: ``note.md`` (the verdicts in words) and the figures ``density`` and ``variance``,
from the CSVs of job ``isometry`` alone: ``spectra.csv``, ``slopes.csv``, ``density.csv`` and ``conditions.csv``."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from experiments.isometry import (
    MAX_FINITE_N_SHIFT,
    TOLERANCE_Z,
    largest_n,
    summarize,
    tied_departure,
    trusted,
    within,
)
from experiments.settings.isometry import CELLS, TYINGS
from rnnmf.io import read_rows, write_text_atomic


def _fmt(x, nd=3):
    return "nan" if x is None or (isinstance(x, float) and not math.isfinite(x)) else f"{x:.{nd}g}"


def write_note(out_dir) -> Path:
    """note.md: the verdicts in words and tables, from the CSVs only."""
    out_dir = Path(out_dir)
    sp, sl = read_rows(out_dir / "spectra.csv"), read_rows(out_dir / "slopes.csv")
    path = out_dir / "note.md"
    lines = ["# Dynamical isometry: measured Jacobian spectra against eq. 12", ""]
    if not len(sp):
        write_text_atomic(path, "\n".join(lines + ["(no rows yet)", ""]))
        return path
    s = summarize(out_dir)
    big = largest_n(sp)
    lines += [
        f"Width N = {s['hidden']}, T up to {s['T_max']}. nvar = var/mean^2 of the eigenvalues of JJ^T (pooled over "
        f"networks). Tolerance: |z| <= {TOLERANCE_Z:g}, z = (measured - theory) / jackknife standard error over "
        "networks; rows at different T share networks, so they are correlated. The derived theory at width N is "
        f"first order in 1/N and counted only where its correction is <= {MAX_FINITE_N_SHIFT:g} of the N -> infinity "
        f"value ({s['critical_rows_trusted']} untied critical rows).", "",
        "Untied rows (largest N):", "",
        f"- mean eigenvalue against chi_1^T (all untied rows): {s['untied_mean_within_3se']}",
        f"- critical nvar against the derived theory at width N: {s['critical_nvar_within_3se']}",
        f"- ... against the derived theory at N -> infinity: {s['critical_nvar_inf_within_3se']}",
        f"- ... against the free product of the same one-step factors: {s['critical_nvar_free_within_3se']}",
        f"- ... against eq. 12 read as the variance (printed - chi_1^2T): {s['critical_nvar_eq12_within_3se']}",
        f"- m2/mean^2 against eq. 12 read as the second moment (as printed): {s['critical_m2_eq12_within_3se']}",
        "", "Slopes of nvar per step (least squares over the recorded T; untied, largest N). The derived slope is at "
        "width N (shift: its finite-N correction at the largest T); its N -> infinity value and the asymptotic one "
        "are beside it. Off-critical minimalRNNs grow geometrically, not linearly (their slope is only a summary).", "",
        "| cell | init | weights | mu_b | measured | derived (N) | shift | derived (inf) | asymptotic | free | eq. 12 "
        "| z | z eq. 12 |", "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    slb = largest_n(sl)
    for _, r in slb[slb["tying"] == "untied"].iterrows():
        lines.append(f"| {r['cell']} | {r['init']} | {r['weights']} | {r['mu_b']:g} | {_fmt(r['slope'])} "
                     f"± {_fmt(r['slope_se'], 2)} | {_fmt(r['slope_theory_N'])} | {_fmt(r['finite_N_shift'], 2)} | "
                     f"{_fmt(r['slope_theory'])} | "
                     f"{_fmt(r['slope_theory_asymptotic'])} | {_fmt(r['slope_free'])} | {_fmt(r['slope_eq12'])} | "
                     f"{_fmt(r['z_slope'], 2)} | {_fmt(r['z_slope_eq12'], 2)} |")
    tied = tied_departure(big)
    if tied is not None:
        lines += ["", f"Tied weights at T = {int(big['T'].max())} (critical): nvar(tied) / nvar(untied), and tied "
                  "against the untied theory at width N:", "",
                  "| cell | weights | mu_b | nvar tied | nvar untied | ratio | z tied |",
                  "|---|---|---|---|---|---|---|"]
        for _, r in tied.iterrows():
            lines.append(f"| {r['cell']} | {r['weights']} | {r['mu_b']:g} | {_fmt(r['nvar_tied'])} | "
                         f"{_fmt(r['nvar_untied'])} | {_fmt(r['ratio'])} ± {_fmt(r['ratio_se'], 2)} | "
                         f"{_fmt(r['z_tied'], 2)} |")
        lines.append("")
        for cell, d in tied.groupby("cell"):
            r = d["ratio"]
            lines.append(f"Tied {cell}: nvar(tied)/nvar(untied) median {_fmt(float(r.median()))}, range "
                         f"{_fmt(float(r.min()))} to {_fmt(float(r.max()))} over {len(d)} conditions.")
    ns = sorted(sp["hidden"].unique())
    if len(ns) > 1:
        un = trusted(sp[(sp["tying"] == "untied") & (sp["init"] == "critical")])
        lines += ["", "Finite N, untied critical rows where the width-N theory is trusted: within tolerance of the "
                  "width-N theory / of the N -> infinity theory:", ""]
        for n in ns:
            d = un[un["hidden"] == n]
            lines.append(f"- N = {n}: {within(d['z_nvar'])} / {within(d['z_nvar_inf'])}")
    write_text_atomic(path, "\n".join(lines) + "\n")
    return path


# --------------------------------------------------------------------------------------------------- figures
def shown_mu_b(out_dir: Path, sp) -> float:
    """The μ_b of the critical minimalRNN that the density and tied-vs-untied panels show: the one ``conditions.csv``
    marks ``shown`` (the config's ``minimal.mu_b_ref``); in a folder without that file, the median measured μ_b."""
    cond = read_rows(out_dir / "conditions.csv")
    if len(cond):
        crit = cond[(cond["cell"] == "minimal") & (cond["init"] == "critical")
                    & cond["shown"].astype(str).str.lower().eq("true")]
        if len(crit):
            return float(crit["mu_b"].iloc[0])
    crit = sp[(sp["cell"] == "minimal") & (sp["init"] == "critical")]
    return float(crit["mu_b"].median()) if len(crit) else 0.0


def plot(out_dir) -> list[Path]:
    """Figures ``density`` and ``variance`` (PNG + PDF), from the CSVs only."""
    out_dir = Path(out_dir)
    sp, dn, sl = (read_rows(out_dir / f) for f in ("spectra.csv", "density.csv", "slopes.csv"))
    paths: list[Path] = []
    if not len(sp):
        return paths
    n_max = int(sp["hidden"].max())
    mu_b_ref = shown_mu_b(out_dir, sp)

    def pick(df, cell, init, weights, tying):
        mu = mu_b_ref if (cell, init) == ("minimal", "critical") else 0.0
        return df[(df["cell"] == cell) & (df["init"] == init) & (df["weights"] == weights) & (df["tying"] == tying)
                  & (df["hidden"] == n_max) & np.isclose(df["mu_b"], mu)]

    if len(dn):
        paths += _plot_density(out_dir, dn, mu_b_ref, pick)
    paths += _plot_variance(out_dir, sp, sl, n_max, mu_b_ref, pick)
    return paths


def _plot_density(out_dir: Path, dn, mu_b_ref, pick) -> list[Path]:
    from rnnmf import plots

    cells = [c for c in CELLS if c in set(dn["cell"])]
    tyings = [t for t in TYINGS if t in set(dn["tying"])]
    t_d = int(dn["T"].max())
    fig, axes = plots.figure(len(tyings), len(cells), width=3.4, height=2.6)
    for i, tying in enumerate(tyings):
        for j, cell in enumerate(cells):
            ax = axes[i][j]
            for (init, weights), style in plots.CONDITION_STYLE.items():
                d = pick(dn[dn["T"] == t_d], cell, init, weights, tying)
                if len(d):
                    x = np.append(d["log10_s_lo"].to_numpy(), d["log10_s_hi"].to_numpy()[-1])
                    ax.stairs(d["density"].to_numpy(), x, label=f"{init.replace('_', '-')}, {weights}", **style)
            mu = f", $\\mu_b$={mu_b_ref:g}" if cell == "minimal" else ""
            ax.set_title(f"{cell}{mu}, {tying}, T={t_d}", fontsize=8)
            ax.set_xlabel("log$_{10}$ singular value of J")
            ax.set_ylabel("density")
            plots.panel_label(ax, "abcdefgh"[i * len(cells) + j])
    axes[0][0].legend(loc="upper left", fontsize=6)
    fig.text(0.01, -0.02, "singular values below ~1e-16 of the largest are float64 round-off (the left bumps)",
             fontsize=7)
    return plots.save(fig, out_dir / "density")


def _errorbar(ax, x, d, **kw):
    ax.errorbar(x, d["nvar"], yerr=d["nvar_se"], fmt=kw.pop("fmt", "o"), ms=3, **kw)


def _plot_variance(out_dir: Path, sp, sl, n_max, mu_b_ref, pick) -> list[Path]:
    from rnnmf import plots

    fig, axes = plots.figure(2, 3, width=3.2, height=2.6)
    crit_g, crit_o = plots.CONDITION_STYLE[("critical", "gaussian")], plots.CONDITION_STYLE[("critical", "orthogonal")]
    ax = axes[0][0]  # (a) minimalRNN, critical, untied, Gaussian W: nvar against T for each mu_b
    crit = sp[(sp["cell"] == "minimal") & (sp["init"] == "critical") & (sp["tying"] == "untied")
              & (sp["weights"] == "gaussian") & (sp["hidden"] == n_max)]
    cmap = plots.plt.get_cmap(plots.SEQUENTIAL_CMAP)
    mus = sorted(crit["mu_b"].unique())
    for k, mu in enumerate(mus):
        d = crit[np.isclose(crit["mu_b"], mu)].sort_values("T")
        c = cmap(0.9 * k / max(len(mus) - 1, 1))
        _errorbar(ax, d["T"], d, color=c, label=f"$\\mu_b$={mu:g}")
        ax.plot(d["T"], d["theory_nvar_N"], "-", color=c, lw=1)
        ax.plot(d["T"], d["eq12_nvar"], "--", color=c, lw=0.8)
    ax.set_yscale("log")
    ax.set_title("minimal, critical, Gaussian W, untied", fontsize=8)
    ax = axes[0][1]  # (b) the vanilla RNN, critical, untied: Gaussian against orthogonal
    for weights, style in (("gaussian", crit_g), ("orthogonal", crit_o)):
        d = pick(sp, "vanilla", "critical", weights, "untied").sort_values("T")
        if len(d):
            _errorbar(ax, d["T"], d, color=style["color"], label=weights)
            ax.plot(d["T"], d["theory_nvar_N"], "-", color=style["color"], lw=1)
            ax.plot(d["T"], d["theory_nvar"], ":", color=style["color"], lw=0.8)
            ax.plot(d["T"], d["eq12_nvar"], "--", color=style["color"], lw=0.8)
    ax.set_title("vanilla, critical, untied", fontsize=8)
    ax = axes[0][2]  # (c) the mean against chi_1^T for every untied condition
    un = sp[(sp["tying"] == "untied") & (sp["hidden"] == n_max)]
    for (cell, init), d in un.groupby(["cell", "init"]):
        ax.errorbar(d["T"], d["mean"] / d["theory_mean"], yerr=d["mean_se"] / d["theory_mean"], fmt=".", ms=3,
                    label=f"{cell}, {init.replace('_', '-')}", alpha=0.7)
    ax.axhline(1.0, color="k", lw=0.8, ls="--")
    ax.set_xlabel("T")
    ax.set_ylabel("mean eigenvalue / $\\chi_1^T$")
    ax.set_title("untied: the mean is $\\chi_1^T$", fontsize=8)
    ax = axes[1][0]  # (d) slope against mu_b
    slb = sl[(sl["hidden"] == n_max) & (sl["cell"] == "minimal") & (sl["init"] == "critical")
             & (sl["tying"] == "untied")] if len(sl) else sl
    for weights, style in (("gaussian", crit_g), ("orthogonal", crit_o)):
        d = slb[slb["weights"] == weights].sort_values("mu_b") if len(slb) else slb
        if len(d):
            ax.errorbar(d["mu_b"], d["slope"], yerr=d["slope_se"], fmt="o", ms=3, color=style["color"],
                        label=f"measured, {weights}")
            ax.plot(d["mu_b"], d["slope_theory"], "-", color=style["color"], lw=1)
            ax.plot(d["mu_b"], d["slope_theory_N"], ":", color=style["color"], lw=0.8)
            ax.plot(d["mu_b"], d["slope_eq12"], "--", color=style["color"], lw=0.8)
    ax.set_xlabel("$\\mu_b$")
    ax.set_ylabel("d nvar / dT")
    ax.set_title("minimal, critical, untied: slope", fontsize=8)
    ax = axes[1][1]  # (e) tied against untied
    for cell, color in (("minimal", "tab:red"), ("vanilla", "tab:blue")):
        for tying, fill in (("untied", None), ("tied", "none")):
            d = pick(sp, cell, "critical", "gaussian", tying).sort_values("T")
            if len(d):
                _errorbar(ax, d["T"], d, fmt="o" if cell == "minimal" else "s", mfc=fill, color=color,
                          label=f"{cell}, {tying}")
        d = pick(sp, cell, "critical", "gaussian", "untied").sort_values("T")
        if len(d):
            ax.plot(d["T"], d["theory_nvar_N"], "-", lw=1, color=color)
    ax.set_title(f"critical, Gaussian W (minimal $\\mu_b$={mu_b_ref:g})", fontsize=8)
    ax = axes[1][2]  # (f) measured against predicted nvar, all untied critical rows
    lo, hi = np.inf, -np.inf
    for cell, d in un[un["init"] == "critical"].groupby("cell"):
        _errorbar(ax, d["theory_nvar_N"], d, fmt=".", alpha=0.7, label=cell)
        lo, hi = min(lo, d["theory_nvar_N"].min(), d["nvar"].min()), max(hi, d["theory_nvar_N"].max(), d["nvar"].max())
    if np.isfinite(lo) and lo > 0:
        ax.plot([lo, hi], [lo, hi], "k--", lw=0.8)
        ax.set_xscale("log")
        ax.set_yscale("log")
    ax.set_xlabel("derived nvar (width N)")
    ax.set_ylabel("measured nvar")
    ax.set_title("untied, critical", fontsize=8)
    for ax in (axes[0][0], axes[0][1], axes[1][1]):
        ax.set_xlabel("T")
        ax.set_ylabel("var / mean$^2$")
    for k, ax in enumerate([a for row in axes for a in row]):
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=6)
        plots.panel_label(ax, "abcdef"[k])
    fig.text(0.01, -0.02, "points: measured (± jackknife SE); solid: derived theory at width N (in (d): N → ∞); "
             "dotted: N → ∞ (in (d): width N); dashed: eq. 12 read as the variance", fontsize=7)
    return plots.save(fig, out_dir / "variance")
