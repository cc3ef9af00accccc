"""Dynamical isometry (Sec. 3.2.2, issue #9): measured Jacobian spectra of random RNNs against χ₁ᵀ and eq. 12.

For every condition (cell × initialisation × W distribution × weight tying × μ_b × width N) a batch of random networks
is started at the mean-field fixed point and J = ∂hᵀ/∂h⁰ is accumulated exactly (``rnnmf.sim.jacobian``); at each
recorded T the singular values of J give the mean, second moment and variance of the eigenvalues of JJᵀ, pooled over
networks with jackknife errors over networks, and nvar = var/mean² (scale-free; the comparisons use it because the
overall gain of a network, which dominates the error of var, drops out). They are set beside

- χ₁ᵀ (eq. 11-13) for the mean,
- eq. 12 as printed, read as the second moment (``eq12_m2``) and as the variance (``eq12_var`` = printed − χ₁^{2T}),
- the derived untied theory (``rnnmf.sim.jacobian``): at N → ∞ (``theory_nvar``), at the row's width with its
  first-order 1/N terms (``theory_nvar_N``, trusted where ``finite_N_shift`` ≤ 0.25), and the free product of the
  same one-step factors (``theory_nvar_free``). Tied networks are compared with the untied theory: the departure.

Outputs (tidy CSVs, one append per finished row; a re-run recomputes only conditions with missing rows, which are
deterministic, so the result equals an uninterrupted run): ``spectra.csv`` one row per (condition, T);
``density.csv`` histograms of log10 s at the ``density.T`` steps; ``slopes.csv`` one row per condition: the growth of
nvar per step (least squares over the recorded T, jackknife error) against the theories; figures ``density`` and
``variance`` (PNG + PDF) and ``note.md`` (the verdicts), drawn from the CSVs only.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from experiments.settings.isometry import CELLS, TYINGS, hyper
from rnnmf.io import append_rows, finished_keys, read_rows, row_key, write_text_atomic
from rnnmf.progress import progress
from rnnmf.runtime import flush_denormals, pick_device
from rnnmf.sim.jacobian import (
    RandomRNN,
    log_density,
    minimal_theory,
    pooled_stats,
    singular_values,
    spectral_moments,
    sv_quantiles,
    vanilla_theory,
)
from rnnmf.sim.montecarlo import derive_seed

COND = ("cell", "init", "weights", "tying", "mu_b", "hidden")
KEY = (*COND, "T")
QUANT = ("s_min", "s_q05", "s_q25", "s_median", "s_q75", "s_q95", "s_max")
COLUMNS = (
    *COND, "networks", "T", "sigma_w", "sigma_v", "sigma_b", "R", "h0_var", "chi_1",
    "mean", "mean_se", "m2", "m2_se", "var", "var_se", "nvar", "nvar_se",
    "theory_mean", "theory_var", "theory_nvar", "theory_nvar_N", "finite_N_shift", "theory_nvar_free", "eq12_m2",
    "eq12_var",
    "eq12_nvar", "z_mean", "z_nvar", "z_nvar_inf", "z_nvar_free", "z_nvar_eq12", "z_m2_eq12",
    *QUANT, "seed", "status", "wall_s",
)
DENSITY_COLUMNS = (*COND, "T", "bin", "log10_s_lo", "log10_s_hi", "density", "count")
SLOPE_COLUMNS = (
    *COND, "networks", "T_min", "T_max", "slope", "slope_se", "slope_theory", "slope_theory_N", "finite_N_shift",
    "slope_free", "slope_eq12", "slope_theory_asymptotic", "z_slope", "z_slope_inf", "z_slope_eq12", "seed", "wall_s",
)
#: |z| at or below this is "agrees within the Monte-Carlo error" (3 jackknife standard errors, ~99.7% two-sided)
TOLERANCE_Z = 3.0
#: the width-N theory is first order in 1/N; it is trusted (and a row counts in the verdicts) where its own correction
#: to the N → ∞ value, finite_N_shift = nvar(N)/nvar(∞) − 1, is at most this; beyond, higher orders matter (and
#: nvar can never exceed N − 1, while the N → ∞ theory grows without bound)
MAX_FINITE_N_SHIFT = 0.25


@dataclass(frozen=True)
class Condition:
    cell: str
    init: str
    weights: str
    tying: str
    mu_b: float
    hidden: int
    networks: int

    def key(self) -> tuple:
        return (self.cell, self.init, self.weights, self.tying, self.mu_b, self.hidden)

    def label(self) -> str:
        mu = f" mu_b={self.mu_b:g}" if self.cell == "minimal" and self.init == "critical" else ""
        return f"{self.cell} {self.init}{mu} {self.weights} {self.tying} N={self.hidden}"


# ------------------------------------------------------------------------------------------------ the config
def _conditions(cfg) -> list[Condition]:
    """Every condition of the grid; the μ_b sweep applies to critical minimalRNNs, the rest use μ_b = 0."""
    hidden = sorted({int(n) for n in cfg.hidden}, reverse=True)
    out = []
    for cell in cfg.cells:
        for init in cfg.inits:
            mus = [float(m) for m in cfg.minimal.mu_b] if (cell, init) == ("minimal", "critical") else [0.0]
            for mu_b in mus:
                for weights in cfg.weights:
                    for tying in cfg.tying:
                        for n in hidden:
                            out.append(Condition(cell, init, weights, tying, mu_b, n,
                                                 int(cfg.networks) * hidden[0] // n))
    return out


# ------------------------------------------------------------------------------------------------ the work
def _theory(cond: Condition, hp: dict, R: float, T: int, N: int | None):
    """The untied theory at width N (None: N → ∞)."""
    if cond.cell == "minimal":
        return minimal_theory(hp["sigma_w"], hp["sigma_v"], R, cond.mu_b, T, cond.weights, hp["sigma_b"], N=N,
                              Q_star=hp["h0_var"])
    return vanilla_theory(hp["sigma_w"], hp["sigma_v"], R, T, cond.weights, hp["sigma_b"], N=N)


def _z(x: float, ref: float, se: float) -> float:
    return float((x - ref) / se) if se > 0 else float("nan")


def _plain(row: dict) -> dict:
    """Python scalars only: numpy floats would be written as 'np.float64(...)' by rnnmf.io.format_value."""
    return {k: (v.item() if isinstance(v, np.generic) else v) for k, v in row.items()}


def _slope(Ts: np.ndarray, r: np.ndarray) -> float:
    """Least-squares slope of r against T (with an intercept)."""
    if Ts.size < 2:
        return float("nan")
    return float(np.polyfit(Ts, r, 1)[0])


def _slope_row(sv: dict, th, thN, Ts: list[int]) -> dict:
    """The growth of var/mean² per step: measured (pooled over networks, jackknife error) and in theory."""
    T = np.array(Ts, dtype=float)
    m = np.stack([spectral_moments(sv[t])[0] for t in Ts])  # (T, networks)
    p = np.stack([spectral_moments(sv[t])[1] for t in Ts])
    k = m.shape[1]

    def nvar(mm, pp):
        return (pp - mm**2) / mm**2

    slope = _slope(T, nvar(m.mean(1), p.mean(1)))
    mj = (m.sum(1, keepdims=True) - m) / (k - 1)
    pj = (p.sum(1, keepdims=True) - p) / (k - 1)
    sj = np.array([_slope(T, nvar(mj[:, i], pj[:, i])) for i in range(k)])
    se = float(math.sqrt((k - 1) / k * np.sum((sj - sj.mean()) ** 2))) if len(Ts) > 1 else float("nan")
    idx = np.array(Ts)
    s_inf, s_N = _slope(T, th.nvar[idx]), _slope(T, thN.nvar[idx])
    s_eq = _slope(T, th.eq12_centered[idx] / th.mean[idx] ** 2)
    t_max = int(max(Ts))
    return {"T_min": int(min(Ts)), "T_max": t_max, "slope": slope, "slope_se": se, "slope_theory": s_inf,
            "slope_theory_N": s_N, "finite_N_shift": float(thN.nvar[t_max] / th.nvar[t_max] - 1.0),
            "slope_free": _slope(T, th.var_free[idx] / th.mean[idx] ** 2),
            "slope_eq12": s_eq, "slope_theory_asymptotic": th.slope, "z_slope": _z(slope, s_N, se),
            "z_slope_inf": _z(slope, s_inf, se), "z_slope_eq12": _z(slope, s_eq, se)}


def _run_condition(cfg, cond: Condition, out_dir: Path, device, done: dict) -> float:
    t0 = time.time()
    Ts = sorted({int(t) for t in cfg.T})
    dTs = sorted({int(t) for t in cfg.density.T})
    R = float(cfg.R)
    hp = hyper(cfg, cond.cell, cond.init, cond.mu_b)
    net = RandomRNN(cond.cell, hp["sigma_w"], hp["sigma_v"], hp["sigma_b"], cond.mu_b, R, hp["h0_var"],
                    cond.weights, cond.tying == "tied")
    seed = derive_seed(int(cfg.seed), "isometry", *cond.key())
    sv = singular_values(net, hidden=cond.hidden, networks=cond.networks, record=Ts, seed=seed, chunk=cfg.chunk,
                         device=device)
    th, thN = _theory(cond, hp, R, max(Ts), None), _theory(cond, hp, R, max(Ts), cond.hidden)
    wall = round(time.time() - t0, 3)
    base = dict(zip(COND, cond.key(), strict=True))
    for t in Ts:
        row = {**base, "networks": cond.networks, "T": t}
        if row_key(row, KEY) in done["spectra"]:
            continue
        st = pooled_stats(sv[t])
        norm = th.mean[t] ** 2
        eq12_nvar, eq12_nm2 = th.eq12_centered[t] / norm, th.eq12[t] / norm
        row.update(sigma_w=hp["sigma_w"], sigma_v=hp["sigma_v"], sigma_b=hp["sigma_b"], R=R, h0_var=hp["h0_var"],
                   chi_1=th.chi_1, **st, theory_mean=th.mean[t], theory_var=th.var[t], theory_nvar=th.nvar[t],
                   theory_nvar_N=thN.nvar[t], finite_N_shift=thN.nvar[t] / th.nvar[t] - 1.0,
                   theory_nvar_free=th.var_free[t] / norm, eq12_m2=th.eq12[t],
                   eq12_var=th.eq12_centered[t], eq12_nvar=eq12_nvar,
                   z_mean=_z(st["mean"], th.mean[t], st["mean_se"]),
                   z_nvar=_z(st["nvar"], thN.nvar[t], st["nvar_se"]),
                   z_nvar_inf=_z(st["nvar"], th.nvar[t], st["nvar_se"]),
                   z_nvar_free=_z(st["nvar"], th.var_free[t] / norm, st["nvar_se"]),
                   z_nvar_eq12=_z(st["nvar"], eq12_nvar, st["nvar_se"]),
                   z_m2_eq12=_z(1.0 + st["nvar"], eq12_nm2, st["nvar_se"]),  # m2/mean² against eq. 12 as printed
                   **sv_quantiles(sv[t]), seed=int(cfg.seed),
                   status="ok" if np.isfinite(sv[t]).all() else "nonfinite", wall_s=wall)
        append_rows(out_dir / "spectra.csv", [_plain(row)], COLUMNS)
    for t in dTs:
        edges, dens, counts = log_density(sv[t], int(cfg.density.bins))
        rows = [{**base, "T": t, "bin": i, "log10_s_lo": float(edges[i]), "log10_s_hi": float(edges[i + 1]),
                 "density": float(dens[i]), "count": int(counts[i])} for i in range(len(dens))]
        rows = [r for r in rows if row_key(r, (*KEY, "bin")) not in done["density"]]
        append_rows(out_dir / "density.csv", [_plain(r) for r in rows], DENSITY_COLUMNS)
    if row_key(base, COND) not in done["slopes"]:
        row = {**base, "networks": cond.networks, **_slope_row(sv, th, thN, Ts), "seed": int(cfg.seed), "wall_s": wall}
        append_rows(out_dir / "slopes.csv", [_plain(row)], SLOPE_COLUMNS)
    return wall


def _missing(cfg, cond: Condition, done: dict) -> bool:
    base = dict(zip(COND, cond.key(), strict=True))
    if row_key(base, COND) not in done["slopes"]:
        return True
    if any(row_key({**base, "T": int(t)}, KEY) not in done["spectra"] for t in cfg.T):
        return True
    return any(row_key({**base, "T": int(t), "bin": b}, (*KEY, "bin")) not in done["density"]
               for t in cfg.density.T for b in range(int(cfg.density.bins)))


def run(cfg, out_dir) -> dict:
    out_dir = Path(out_dir)
    flush_denormals()
    device = pick_device(cfg.run.device)
    done = {"spectra": finished_keys(out_dir / "spectra.csv", KEY),
            "density": finished_keys(out_dir / "density.csv", (*KEY, "bin")),
            "slopes": finished_keys(out_dir / "slopes.csv", COND)}
    todo = [c for c in _conditions(cfg) if _missing(cfg, c, done)]
    for cond in progress(todo, desc="isometry", quiet=cfg.run.quiet, unit="condition"):
        _run_condition(cfg, cond, out_dir, device, done)
    plot(out_dir, mu_b_ref=float(cfg.minimal.mu_b_ref))
    return summarize(out_dir)


# ------------------------------------------------------------------------------------------- summary, note
def _largest_n(df):
    return df[df["hidden"] == df["hidden"].max()] if len(df) else df


def _within(z) -> str:
    z = z.dropna()
    return f"{int((z.abs() <= TOLERANCE_Z).sum())}/{len(z)}"


def _trusted(df):
    """Rows where the first-order finite-N theory is trusted (its own correction at most MAX_FINITE_N_SHIFT)."""
    return df[df["finite_N_shift"].abs() <= MAX_FINITE_N_SHIFT]


def summarize(out_dir) -> dict:
    """Headline numbers from the CSVs (largest N): the untied critical measurements against the theories, over the
    rows where the finite-N theory is trusted, and how far tied weights depart."""
    out_dir = Path(out_dir)
    sp, sl = read_rows(out_dir / "spectra.csv"), read_rows(out_dir / "slopes.csv")
    if not len(sp):
        return {}
    big = _largest_n(sp)
    crit = big[(big["tying"] == "untied") & (big["init"] == "critical")]
    un = _trusted(crit)
    out = {"conditions": int(len(sl)), "hidden": int(big["hidden"].max()), "T_max": int(sp["T"].max()),
           "untied_mean_within_3se": _within(big[big["tying"] == "untied"]["z_mean"]),
           "critical_rows_trusted": f"{len(un)}/{len(crit)}",
           "critical_nvar_within_3se": _within(un["z_nvar"]),
           "critical_nvar_inf_within_3se": _within(un["z_nvar_inf"]),
           "critical_nvar_free_within_3se": _within(un["z_nvar_free"]),
           "critical_nvar_eq12_within_3se": _within(un["z_nvar_eq12"]),
           "critical_m2_eq12_within_3se": _within(un["z_m2_eq12"])}
    slb = _largest_n(sl)
    slc = _trusted(slb[(slb["init"] == "critical") & (slb["tying"] == "untied")])
    if len(slc):
        out["critical_slope_within_3se"] = _within(slc["z_slope"])
        out["critical_slope_eq12_within_3se"] = _within(slc["z_slope_eq12"])
    tied = _tied_departure(big)
    if tied is not None:
        out["tied_over_untied_nvar_median"] = round(float(tied["ratio"].median()), 3)
    out["wall_s"] = round(float(sl["wall_s"].sum()), 1) if len(sl) else 0.0
    return out


def _tied_departure(big):
    """nvar(tied)/nvar(untied) at the largest T for every critical condition measured both ways (None if none)."""
    last = big[(big["T"] == big["T"].max()) & (big["init"] == "critical")]
    keys = ["cell", "weights", "mu_b"]
    t = last[last["tying"] == "tied"].set_index(keys)
    u = last[last["tying"] == "untied"].set_index(keys)
    both = t.index.intersection(u.index)
    if not len(both):
        return None
    t, u = t.loc[both], u.loc[both]
    df = (t["nvar"] / u["nvar"]).rename("ratio").to_frame()
    df["ratio_se"] = df["ratio"] * np.hypot(t["nvar_se"] / t["nvar"], u["nvar_se"] / u["nvar"])
    df["nvar_tied"], df["nvar_untied"], df["theory_nvar_N"], df["z_tied"] = (
        t["nvar"], u["nvar"], t["theory_nvar_N"], t["z_nvar"])
    return df.reset_index()


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
    big = _largest_n(sp)
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
    slb = _largest_n(sl)
    for _, r in slb[slb["tying"] == "untied"].iterrows():
        lines.append(f"| {r['cell']} | {r['init']} | {r['weights']} | {r['mu_b']:g} | {_fmt(r['slope'])} "
                     f"± {_fmt(r['slope_se'], 2)} | {_fmt(r['slope_theory_N'])} | {_fmt(r['finite_N_shift'], 2)} | "
                     f"{_fmt(r['slope_theory'])} | "
                     f"{_fmt(r['slope_theory_asymptotic'])} | {_fmt(r['slope_free'])} | {_fmt(r['slope_eq12'])} | "
                     f"{_fmt(r['z_slope'], 2)} | {_fmt(r['z_slope_eq12'], 2)} |")
    tied = _tied_departure(big)
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
        un = _trusted(sp[(sp["tying"] == "untied") & (sp["init"] == "critical")])
        lines += ["", "Finite N, untied critical rows where the width-N theory is trusted: within tolerance of the "
                  "width-N theory / of the N -> infinity theory:", ""]
        for n in ns:
            d = un[un["hidden"] == n]
            lines.append(f"- N = {n}: {_within(d['z_nvar'])} / {_within(d['z_nvar_inf'])}")
    write_text_atomic(path, "\n".join(lines) + "\n")
    return path


# --------------------------------------------------------------------------------------------------- figures
def plot(out_dir, mu_b_ref: float | None = None) -> list[Path]:
    """Figures ``density`` and ``variance`` (PNG + PDF) and ``note.md``, from the CSVs only."""
    out_dir = Path(out_dir)
    sp, dn, sl = (read_rows(out_dir / f) for f in ("spectra.csv", "density.csv", "slopes.csv"))
    paths: list[Path] = []
    if not len(sp):
        return paths
    n_max = int(sp["hidden"].max())
    if mu_b_ref is None:
        crit = sp[(sp["cell"] == "minimal") & (sp["init"] == "critical")]
        mu_b_ref = float(crit["mu_b"].median()) if len(crit) else 0.0

    def pick(df, cell, init, weights, tying):
        mu = mu_b_ref if (cell, init) == ("minimal", "critical") else 0.0
        return df[(df["cell"] == cell) & (df["init"] == init) & (df["weights"] == weights) & (df["tying"] == tying)
                  & (df["hidden"] == n_max) & np.isclose(df["mu_b"], mu)]

    if len(dn):
        paths += _plot_density(out_dir, dn, mu_b_ref, pick)
    paths += _plot_variance(out_dir, sp, sl, n_max, mu_b_ref, pick)
    paths.append(write_note(out_dir))
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
