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
nvar per step (least squares over the recorded T, jackknife error) against the theories; ``conditions.csv`` the grid;
figures ``density`` and ``variance`` (PNG + PDF) and ``note.md`` (the verdicts), drawn from the CSVs alone by
``experiments.figures.isometry``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from experiments.figures import draw
from experiments.settings.isometry import hyper
from rnnmf.io import append_rows, finished_keys, read_rows, row_key, write_text_atomic
from rnnmf.progress import progress
from rnnmf.runtime import flush_denormals, pick_device
from rnnmf.seeds import derive_seed
from rnnmf.sim.jacobian import (
    RandomRNN,
    log_density,
    pooled_stats,
    singular_values,
    spectral_moments,
    sv_quantiles,
)
from rnnmf.stats import delete_one_means, jackknife_se
from rnnmf.theory.jacobian import minimal_theory, vanilla_theory

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
        return minimal_theory(hp["sigma_w"], hp["sigma_v"], R, mu_b=cond.mu_b, T=T, weights=cond.weights,
                              sigma_b=hp["sigma_b"], N=N, Q_star=hp["h0_var"])
    return vanilla_theory(hp["sigma_w"], hp["sigma_v"], R, T=T, weights=cond.weights, sigma_b=hp["sigma_b"], N=N)


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
    mj, pj = delete_one_means(m, axis=1), delete_one_means(p, axis=1)
    sj = np.array([_slope(T, nvar(mj[:, i], pj[:, i])) for i in range(k)])
    se = jackknife_se(sj) if len(Ts) > 1 else float("nan")
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


def write_conditions(out_dir: Path, conditions: list[Condition], mu_b_ref: float) -> None:
    """``conditions.csv``: the grid, one row per condition, with ``shown``: whether the figures' single-μ_b panels
    (density, tied against untied) show it (μ_b = ``minimal.mu_b_ref`` for the critical minimalRNN)."""
    rows = [[*COND, "networks", "shown"], *([*c.key(), c.networks, (c.cell, c.init) != ("minimal", "critical")
                                              or c.mu_b == mu_b_ref] for c in conditions)]
    text = "".join(",".join(map(str, r)) + "\n" for r in rows)
    if not (out_dir / "conditions.csv").exists() or (out_dir / "conditions.csv").read_text() != text:
        write_text_atomic(out_dir / "conditions.csv", text)  # a resumed run leaves it untouched


def run(cfg, out_dir) -> dict:
    out_dir = Path(out_dir)
    flush_denormals()
    device = pick_device(cfg.run.device)
    done = {"spectra": finished_keys(out_dir / "spectra.csv", KEY),
            "density": finished_keys(out_dir / "density.csv", (*KEY, "bin")),
            "slopes": finished_keys(out_dir / "slopes.csv", COND)}
    conditions = _conditions(cfg)
    write_conditions(out_dir, conditions, float(cfg.minimal.mu_b_ref))
    todo = [c for c in conditions if _missing(cfg, c, done)]
    for cond in progress(todo, desc="isometry", quiet=cfg.run.quiet, unit="condition"):
        _run_condition(cfg, cond, out_dir, device, done)
    draw("isometry", out_dir)
    return summarize(out_dir)


# ------------------------------------------------------------------------------------------------- summary
def largest_n(df):
    return df[df["hidden"] == df["hidden"].max()] if len(df) else df


def within(z) -> str:
    z = z.dropna()
    return f"{int((z.abs() <= TOLERANCE_Z).sum())}/{len(z)}"


def trusted(df):
    """Rows where the first-order finite-N theory is trusted (its own correction at most MAX_FINITE_N_SHIFT)."""
    return df[df["finite_N_shift"].abs() <= MAX_FINITE_N_SHIFT]


def summarize(out_dir) -> dict:
    """Headline numbers from the CSVs (largest N): the untied critical measurements against the theories, over the
    rows where the finite-N theory is trusted, and how far tied weights depart."""
    out_dir = Path(out_dir)
    sp, sl = read_rows(out_dir / "spectra.csv"), read_rows(out_dir / "slopes.csv")
    if not len(sp):
        return {}
    big = largest_n(sp)
    crit = big[(big["tying"] == "untied") & (big["init"] == "critical")]
    un = trusted(crit)
    out = {"conditions": int(len(sl)), "hidden": int(big["hidden"].max()), "T_max": int(sp["T"].max()),
           "untied_mean_within_3se": within(big[big["tying"] == "untied"]["z_mean"]),
           "critical_rows_trusted": f"{len(un)}/{len(crit)}",
           "critical_nvar_within_3se": within(un["z_nvar"]),
           "critical_nvar_inf_within_3se": within(un["z_nvar_inf"]),
           "critical_nvar_free_within_3se": within(un["z_nvar_free"]),
           "critical_nvar_eq12_within_3se": within(un["z_nvar_eq12"]),
           "critical_m2_eq12_within_3se": within(un["z_m2_eq12"])}
    slb = largest_n(sl)
    slc = trusted(slb[(slb["init"] == "critical") & (slb["tying"] == "untied")])
    if len(slc):
        out["critical_slope_within_3se"] = within(slc["z_slope"])
        out["critical_slope_eq12_within_3se"] = within(slc["z_slope_eq12"])
    tied = tied_departure(big)
    if tied is not None:
        out["tied_over_untied_nvar_median"] = round(float(tied["ratio"].median()), 3)
    out["wall_s"] = round(float(sl["wall_s"].sum()), 1) if len(sl) else 0.0
    return out


def tied_departure(big):
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
