"""Beyond the paper: Fig. 1's panels for torch's GRU or LSTM, from the CSVs of job ``gated_mf_vs_mc``:
``dynamics.csv``, ``fixed_points.csv``, ``jacobian.csv`` and ``schedule.csv`` (the cell and its Σ12^t)."""

from __future__ import annotations

from pathlib import Path

from experiments.figures.fig1 import switch_step
from rnnmf.io import read_rows
from rnnmf.theory.gated import MEMORY_GATE


def plot(out_dir) -> list[Path]:
    """(a) c^t theory vs untied MC, (b) tied vs untied, (c) c* against the bias, (d) Jacobian mean vs theory."""
    import matplotlib as mpl

    from rnnmf.plots import SEQUENTIAL_CMAP, THEORY_STYLE, figure, panel_label, save

    out_dir = Path(out_dir)
    cell, switch = str(read_rows(out_dir / "schedule.csv").cell.iloc[0]), switch_step(out_dir)
    dyn = read_rows(out_dir / "dynamics.csv")
    fp = read_rows(out_dir / "fixed_points.csv")
    jac = read_rows(out_dir / "jacobian.csv")
    biases = sorted(dyn.bias.unique())
    norm = mpl.colors.Normalize(min(biases), max(biases) if max(biases) > min(biases) else min(biases) + 1)
    cmap = mpl.colormaps[SEQUENTIAL_CMAP]
    gate = MEMORY_GATE[cell]
    fig, axes = figure(1, 4, width=3.3, height=2.8)
    ax_a, ax_b, ax_c, ax_d = axes.ravel()
    sw0 = sorted(dyn.sigma_w.unique())[-1]
    for b in biases:
        col = cmap(norm(b))
        sel = dyn[(dyn.bias == b) & (dyn.sigma_w == sw0)]
        for source, ax, style in (("mc_untied", ax_a, dict(color=col, lw=2.4)), ("theory", ax_a, THEORY_STYLE),
                                  ("mc_untied", ax_b, dict(color=col)), ("mc_tied", ax_b, dict(color=col, ls="--"))):
            d = sel[sel.source == source].sort_values("t")
            ax.plot(d.t, d.c, **style)
    for ax, label in ((ax_a, "a"), (ax_b, "b")):
        ax.set(xlabel="t", ylabel="$c^t$ (hidden-state cosine)", title=f"{cell.upper()}, $\\sigma_w$ = {sw0:g}")
        ax.axvline(switch, color="0.85", lw=0.8, zorder=0)
        panel_label(ax, label)
    for i, sw in enumerate(sorted(fp.sigma_w.unique())):
        for source, style in (("theory", dict(ls="-", marker="")), ("mc_untied", dict(ls="", marker="o")),
                              ("mc_tied", dict(ls="", marker="s", mfc="white"))):
            d = fp[(fp.sigma_w == sw) & (fp.source == source)].sort_values("bias")
            ax_c.plot(d.bias, d.c_star, color=f"C{i}", label=f"{source}, $\\sigma_w$={sw:g}", **style)
    ax_c.set(xlabel=f"$\\mu_{gate}$", ylabel="$c^*$")
    ax_c.legend(fontsize=6)
    panel_label(ax_c, "c")
    if len(jac):
        for tied, marker in ((False, "o"), (True, "s")):
            d = jac[jac.tied.astype(str).str.lower().eq(str(tied).lower())]
            ax_d.errorbar(d.theory, d["mean"], 3 * d.mean_se, fmt=marker, ms=3, mfc="white" if tied else None,
                          label="tied" if tied else "untied (±3 SE)")
        lim = [float(jac.theory.min()) * 0.8, float(jac.theory.max()) * 1.25]
        ax_d.plot(lim, lim, **THEORY_STYLE)
        ax_d.set(xscale="log", yscale="log", xlabel="theory mean eigenvalue of $JJ^T$", ylabel="measured")
        ax_d.legend(fontsize=7)
    panel_label(ax_d, "d")
    return save(fig, out_dir / "gated")
