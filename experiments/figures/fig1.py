"""Fig. 1 (a)-(e), the minimalRNN's c^t, mean field against Monte Carlo, from the CSVs of job ``mf_vs_mc``:
``dynamics.csv``, ``fixed_points.csv``, ``timescales.csv`` and ``schedule.csv`` (the Σ12^t the inputs followed)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from rnnmf.io import read_rows


def switch_step(out_dir) -> int:
    """The step from which Σ12 takes its final value, from ``schedule.csv`` (the first step whose Σ12 differs from
    step 1's; 1 when the schedule is constant). Fig. 1 switches from 0 to 1 at t = 10."""
    s = read_rows(Path(out_dir) / "schedule.csv").sort_values("t")
    changed = s[s.sigma12 != s.sigma12.iloc[0]]
    return int(changed.t.iloc[0]) if len(changed) else int(s.t.iloc[0])


def _legend(ax, entries) -> None:
    import matplotlib as mpl

    ax.legend(handles=[mpl.lines.Line2D([], [], label=label, **style) for label, style in entries], loc="best")


def plot(out_dir) -> list[Path]:
    """Fig. 1 (a)-(e) from the CSVs; the vertical line is where Σ12 switches (``schedule.csv``)."""
    import matplotlib as mpl

    from rnnmf.plots import SEQUENTIAL_CMAP, THEORY_STYLE, figure, panel_label, save

    out_dir = Path(out_dir)
    switch = switch_step(out_dir)
    dyn, fp, ts = (read_rows(out_dir / name) for name in ("dynamics.csv", "fixed_points.csv", "timescales.csv"))
    mus = sorted(dyn.mu_b.unique())
    norm = mpl.colors.Normalize(min(mus), max(mus) if max(mus) > min(mus) else min(mus) + 1)
    cmap = mpl.colormaps[SEQUENTIAL_CMAP]
    fig, axes = figure(2, 3, width=3.3, height=2.8)
    ax_a, ax_b, ax_c, ax_d, ax_e, ax_bar = axes.ravel()

    def curve(mu, source):
        d = dyn[(dyn.mu_b == mu) & (dyn.source == source)].sort_values("t")
        return d.t.to_numpy(), d.c.to_numpy(), d.c_se.to_numpy()

    for mu in mus:  # (a) theory (white dashed) over untied MC (solid); (b) tied (dashed) against untied (solid)
        col = cmap(norm(mu))
        t, cu, _ = curve(mu, "mc_untied")
        ax_a.plot(t, cu, color=col, lw=2.4)
        ax_a.plot(*curve(mu, "theory")[:2], **THEORY_STYLE)
        ax_b.plot(t, cu, color=col)
        ax_b.plot(*curve(mu, "mc_tied")[:2], color=col, ls="--")
    _legend(ax_a, [("MC untied", dict(color="0.4", lw=2.4)), ("theory", {**THEORY_STYLE, "color": "0.75"})])
    _legend(ax_b, [("untied", dict(color="0.4")), ("tied", dict(color="0.4", ls="--"))])
    for ax, label in ((ax_a, "a"), (ax_b, "b")):
        ax.set(xlabel="t", ylabel="$c^t$")
        ax.axvline(switch, color="0.85", lw=0.8, zorder=0)
        panel_label(ax, label)

    th = fp[fp.source == "theory"].sort_values("mu_b")  # (c) c* against mu_b
    ax_c.plot(th.mu_b, th.c_star, color="0.6", lw=3.0, label="theory")
    ax_c.plot(th.mu_b, th.c_star, **THEORY_STYLE)
    for source, color, ls, marker in (("mc_untied", "black", "-", "o"), ("mc_tied", "0.5", "--", "s")):
        d = fp[fp.source == source].sort_values("mu_b")
        conv = d.converged.astype(str).str.lower().eq("true").to_numpy()
        ax_c.plot(d.mu_b, d.c_star, color=color, ls=ls, lw=1.0, label=source.replace("mc_", "MC "))
        ax_c.errorbar(d.mu_b[conv], d.c_star[conv], d.c_star_se[conv], fmt=marker, color=color, ms=3.5)
        ax_c.plot(d.mu_b[~conv], d.c_star[~conv], marker, mfc="white", color=color, ms=3.5)
    ax_c.set(xlabel=r"$\mu_b$", ylabel="$c^*$")
    ax_c.legend(loc="lower left", title="open: not converged by T", title_fontsize=7)
    panel_label(ax_c, "c")

    by_sigma = ts[ts.source == "theory"].groupby("sigma12")  # (d) |c^t - c*| after the switch, vs A e^{-t/tau}
    tau_after = by_sigma.get_group(max(by_sigma.groups)).set_index("mu_b")["tau"]
    star_of = th.set_index("mu_b").c_star
    picked = []
    for mu in mus:
        tau, star = float(tau_after.get(mu, np.nan)), float(star_of.get(mu, np.nan))
        t, cu, se = curve(mu, "mc_untied")
        start = np.abs(cu[t == switch] - star)
        if 1.0 < tau < (t.max() - switch) / 3 and start.size and start[0] > 0.05:  # decays visibly within the run
            picked.append((mu, tau, star))
    if len(picked) > 5:
        picked = [picked[i] for i in np.linspace(0, len(picked) - 1, 5).round().astype(int)]
    for mu, tau, star in picked:
        col = cmap(norm(mu))
        t, cu, se = curve(mu, "mc_untied")
        eps = np.abs(cu - star)
        keep = (t >= switch) & (eps > np.maximum(3 * se, 1e-6))  # above the MC noise and float32 rounding
        if not keep.any():
            continue
        ax_d.semilogy(t[keep] - switch, eps[keep], color=col, lw=2.0)
        tt, ct, _ = curve(mu, "theory")
        eps_th = np.abs(ct - star)
        late = np.flatnonzero((tt >= switch) & (eps_th > 1e-6))
        if late.size:
            k = late[-1]  # A from the theory trajectory where it is deepest in the linear regime
            A = eps_th[k] * math.exp((tt[k] - switch) / tau)
            x = np.linspace(0, (t[keep] - switch).max(), 50)
            ax_d.semilogy(x, A * np.exp(-x / tau), color=col, ls="--", lw=1.0)
    ax_d.set(xlabel=f"t - {switch}", ylabel=r"$|c^t - c^*|$")
    _legend(ax_d, [("MC untied", dict(color="0.4", lw=2.0)), (r"$A e^{-t/\tau}$", dict(color="0.4", ls="--"))])
    panel_label(ax_d, "d")

    colors = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple")
    handles = []
    for i, (s12, g) in enumerate(ts[ts.source == "theory"].groupby("sigma12", sort=False)):  # (e) tau against mu_b
        col = colors[i % len(colors)]
        g = g.sort_values("mu_b")
        handles += ax_e.semilogy(g.mu_b, g.tau, color=col, label=rf"$\Sigma_{{12}}$ = {s12:g}")
        mc = ts[(ts.source == "mc_untied") & (ts.sigma12 == s12)]
        for obs, mfc, ms in (("C", "white", 6.0), ("c", col, 3.0)):  # a dot inside a ring where both fits exist
            d = mc[mc.observable == obs]
            ax_e.plot(d.mu_b, d.tau, "o", color=col, mfc=mfc, ms=ms)
    handles += [mpl.lines.Line2D([], [], color="0.4", ls="", marker="o", ms=3.0, label="MC fit on $c^t$"),
                mpl.lines.Line2D([], [], color="0.4", ls="", marker="o", mfc="white", ms=6.0, label="MC fit on $C^t$")]
    ax_e.set(xlabel=r"$\mu_b$", ylabel=r"$\tau$")
    ax_e.legend(handles=handles, loc="upper left")
    panel_label(ax_e, "e")

    ax_bar.axis("off")
    fig.colorbar(mpl.cm.ScalarMappable(norm=norm, cmap=cmap), ax=ax_bar, location="left", label=r"$\mu_b$ (a, b, d)",
                 fraction=0.12)
    return save(fig, out_dir / "fig1")
