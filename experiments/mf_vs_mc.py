"""Fig. 1 (Sec. 3.2.1): the minimalRNN's pre-activation cosine c^t, mean-field theory against Monte Carlo.

Two input sequences with Σ12^t = 0 for t < 10 and 1 from t = 10 enter one random minimalRNN (σ_w = 6.88,
σ_v = 1.39, R = 0.46, μ_b over [−4, 8]). For every μ_b of the grid (one unit of work; a re-run skips finished ones):

* the theory trajectory (``rnnmf.theory.minimal.c_trajectory``, eq. 8 generalised to σ_b) and Monte-Carlo averages
  over networks with untied weights (exact O(N) sampler) and tied weights (real matrices), ``rnnmf.sim``;
* c* from the last ``fixed_points.window`` steps of each simulation;
* τ fitted from untied runs at constant Σ12 ∈ ``timescales.sigma12``, started off c* (C^0 = 0 if c* > 0.5, else
  C^0 = 1): log|c^t − c*| (theory c*) is fitted by weighted least squares against t over the first window where the
  theory's own one-step decay rate is within ``linear_tol`` of 1/τ (the linear regime) and the simulated distance
  exceeds ``noise`` standard errors. The same fit on the hidden-state cosine C^t is reported too: c^t − c* =
  (σ_w² Q*/q*)(C^{t−1} − C*) in mean field (eq. 38), so it has the same τ, and it keeps a signal where that
  prefactor is tiny (μ_b ≥ 5, where Q* → 0 and c barely moves).

Outputs in the run folder: ``dynamics.csv`` (mu_b, t, source, c, c_se), ``fixed_points.csv``, ``timescales.csv``,
``schedule.csv`` (Σ12^t) and ``fig1.png``/``fig1.pdf`` with panels (a)-(e) as in the paper, drawn from the CSVs alone
by ``experiments.figures.fig1``.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np

from experiments.figures import draw
from experiments.figures.fig1 import switch_step
from experiments.settings.mf_vs_mc import sim_sizes
from rnnmf.io import append_rows, finished_keys, read_rows, row_key, write_text_atomic
from rnnmf.progress import progress
from rnnmf.runtime import pick_device
from rnnmf.seeds import derive_seed
from rnnmf.sim.montecarlo import fit_timescale, linear_regime, simulate_minimal
from rnnmf.theory import minimal

DYNAMICS = ["mu_b", "t", "source", "c", "c_se"]
FIXED_POINTS = ["mu_b", "source", "c_star", "c_star_se", "t_from", "t_to", "converged"]
TIMESCALES = ["mu_b", "sigma12", "source", "observable", "tau", "tau_se", "c_star", "chi_c_star", "C0", "t_from",
              "t_to", "points"]
FILES = {  # file: (columns, key columns of one row)
    "dynamics.csv": (DYNAMICS, ("mu_b", "t", "source")),
    "fixed_points.csv": (FIXED_POINTS, ("mu_b", "source")),
    "timescales.csv": (TIMESCALES, ("mu_b", "sigma12", "source", "observable")),
}
SOURCES = ("theory", "mc_untied", "mc_tied")
NEAR_ONE = 0.99  # "c* ≈ 1": theory c* at Σ12 = 1 at least this, for the tied-vs-untied comparison


# ------------------------------------------------------------------------------------------------------ config
def _axis(spec) -> list[float]:
    """mu_b grid from {start, stop, num}, rounded so that its CSV text is short and stable."""
    start, stop, num = float(spec.start), float(spec.stop), int(spec.num)
    return [round(float(x), 10) for x in np.linspace(start, stop, num)]


def mu_grid(cfg) -> list[float]:
    return _axis(cfg.mu_b)


def theory_grid(cfg) -> list[float]:
    fine = np.linspace(float(cfg.mu_b.start), float(cfg.mu_b.stop), int(cfg.theory_points))
    return sorted({round(float(x), 10) for x in fine} | set(mu_grid(cfg)))


def schedule(cfg) -> np.ndarray:
    """Σ12^t for t = 1..T: ``before`` for t < switch, ``after`` from t = switch."""
    t = np.arange(1, int(cfg.schedule.steps) + 1)
    return np.where(t < int(cfg.schedule.switch), float(cfg.schedule.before), float(cfg.schedule.after))


def timescale_sigmas(cfg) -> list[float]:
    """Σ12 values of the τ panel, plus the schedule's final Σ12 (panel d needs its τ)."""
    values = [float(s) for s in cfg.timescales.sigma12]
    after = float(cfg.schedule.after)
    return values if after in values else values + [after]


# ------------------------------------------------------------------------------------------------ the work units
def _model(cfg) -> dict:
    m = cfg.model
    return {"sigma_w": float(m.sigma_w), "sigma_v": float(m.sigma_v), "R": float(m.R), "sigma_b": float(m.sigma_b)}


def theory_rows(cfg) -> dict[str, list[dict]]:
    """c* at the schedule's final Σ12 and τ, χ_c*, c* at every Σ12 of the τ panel, on the fine μ_b grid."""
    p = _model(cfg)
    mu = np.array(theory_grid(cfg))
    sig = np.array(timescale_sigmas(cfg))
    s = minimal.summary(p["sigma_w"], p["sigma_v"], p["R"], mu_b=mu[None, :], sigma_b=p["sigma_b"],
                        sigma12=sig[:, None])
    after = minimal.c_star(p["sigma_w"], p["sigma_v"], p["R"], mu_b=mu, sigma_b=p["sigma_b"],
                           sigma12=float(cfg.schedule.after))
    fixed = [{"mu_b": float(m), "source": "theory", "c_star": float(c), "c_star_se": 0.0, "converged": True}
             for m, c in zip(mu, np.atleast_1d(after), strict=True)]
    scales = [{"mu_b": float(mu[j]), "sigma12": float(sig[i]), "source": "theory", "observable": "c",
               "tau": float(s["tau"][i, j]), "tau_se": 0.0, "c_star": float(s["c_star"][i, j]),
               "chi_c_star": float(s["chi_c_star"][i, j])}
              for i in range(sig.size) for j in range(mu.size)]
    return {"fixed_points.csv": fixed, "timescales.csv": scales}


def _window_mean(values: np.ndarray, window: int) -> tuple[float, float]:
    """Mean over networks of each network's mean over the last ``window`` steps, and its standard error."""
    per_net = values[-window:].mean(axis=0)
    se = per_net.std(ddof=1) / math.sqrt(per_net.size) if per_net.size > 1 else 0.0
    return float(per_net.mean()), float(se)


def _timescale_rows(cfg, mu_b: float, device, dtype: str) -> list[dict]:
    """Untied runs at constant Σ12, started off c*; τ fitted on c^t and on C^t (see the module docstring)."""
    p, ts = _model(cfg), cfg.timescales
    sw2, sv2, sb2, R = p["sigma_w"] ** 2, p["sigma_v"] ** 2, p["sigma_b"] ** 2, p["R"]
    steps = int(ts.steps)
    t = np.arange(1, steps + 1, dtype=float)
    rows = []
    for S in [float(s) for s in ts.sigma12]:
        s = minimal.summary(p["sigma_w"], p["sigma_v"], R, mu_b=mu_b, sigma_b=p["sigma_b"], sigma12=S)
        Q, q, c_star, chi = s["Q_star"], s["q_star"], s["c_star"], s["chi_c_star"]
        C0 = 0.0 if c_star > 0.5 else 1.0
        c_th = minimal.c_trajectory(np.full(steps + 1, S), p["sigma_w"], p["sigma_v"], R, mu_b=mu_b,
                                    sigma_b=p["sigma_b"], C0=C0)
        sim = simulate_minimal(Q_star=Q, sigma_w=p["sigma_w"], sigma_v=p["sigma_v"], sigma_b=p["sigma_b"], mu_b=mu_b,
                               R=R, sigma12=[S] * steps, C0=C0, hidden=int(ts.hidden), networks=int(ts.networks),
                               seed=derive_seed(cfg.seed, "timescale", mu_b, S), dtype=dtype, device=device)
        kw = dict(noise=float(ts.noise), min_points=int(ts.min_points))
        fits = {"c": fit_timescale(t, sim.c_mean(), sim.c_se(), c_star,
                                   linear_regime(np.abs(c_th[:steps] - c_star), chi, float(ts.linear_tol)), **kw)}
        if sw2 * Q > 0:  # C^{t-1} = (q* c^t - σ_v² R Σ12 - σ_b²) / (σ_w² Q*), eq. 38 at the diagonal fixed point
            C_th = (q * c_th[1:] - sv2 * R * S - sb2) / (sw2 * Q)
            C_star = (q * c_star - sv2 * R * S - sb2) / (sw2 * Q)
            C_se = sim.C.std(axis=1, ddof=1) / math.sqrt(sim.networks) if sim.networks > 1 else 0 * t
            fits["C"] = fit_timescale(t, sim.C.mean(axis=1), C_se, C_star,
                                      linear_regime(np.abs(C_th - C_star), chi, float(ts.linear_tol)), **kw)
        for observable, fit in fits.items():
            rows.append({"mu_b": mu_b, "sigma12": S, "source": "mc_untied", "observable": observable,
                         "c_star": c_star, "chi_c_star": chi, "C0": C0, **fit})
    return rows


def mu_rows(cfg, mu_b: float, device) -> dict[str, list[dict]]:
    """All rows of one μ_b: the Fig. 1 schedule (theory, untied, tied), c* from each simulation, fitted τ."""
    p, sizes, dtype = _model(cfg), sim_sizes(cfg), str(cfg.sim.dtype)
    sched = schedule(cfg)
    Q = minimal.Q_star(p["sigma_w"], p["sigma_v"], p["R"], mu_b=mu_b, sigma_b=p["sigma_b"]).Q_star
    c_th = minimal.c_trajectory(sched, p["sigma_w"], p["sigma_v"], p["R"], mu_b=mu_b, sigma_b=p["sigma_b"], C0=1.0)
    c_star = minimal.c_star(p["sigma_w"], p["sigma_v"], p["R"], mu_b=mu_b, sigma_b=p["sigma_b"],
                            sigma12=float(cfg.schedule.after))
    common = dict(Q_star=Q, mu_b=mu_b, sigma12=sched, dtype=dtype, device=device, sigma_w=p["sigma_w"],
                  sigma_v=p["sigma_v"], sigma_b=p["sigma_b"], R=p["R"])
    sims = {
        "mc_untied": simulate_minimal(**common, hidden=sizes["hidden"], networks=sizes["networks"],
                                      seed=derive_seed(cfg.seed, "untied", mu_b)),
        "mc_tied": simulate_minimal(**common, tied=True, hidden=sizes["tied_hidden"], networks=sizes["tied_networks"],
                                    chunk=cfg.sim.chunk, seed=derive_seed(cfg.seed, "tied", mu_b)),
    }
    T = sched.size
    dynamics = [{"mu_b": mu_b, "t": t + 1, "source": "theory", "c": float(c_th[t]), "c_se": 0.0} for t in range(T)]
    window = int(cfg.fixed_points.window)
    converged = bool(abs(float(np.mean(c_th[-window:])) - c_star) < float(cfg.fixed_points.tolerance))
    fixed = []
    for source, sim in sims.items():
        mean, se = sim.c_mean(), sim.c_se()
        dynamics += [{"mu_b": mu_b, "t": t + 1, "source": source, "c": float(mean[t]), "c_se": float(se[t])}
                     for t in range(T)]
        c_fp, c_fp_se = _window_mean(sim.c, window)
        fixed.append({"mu_b": mu_b, "source": source, "c_star": c_fp, "c_star_se": c_fp_se, "t_from": T - window + 1,
                      "t_to": T, "converged": converged})
    return {"timescales.csv": _timescale_rows(cfg, mu_b, device, dtype), "fixed_points.csv": fixed,
            "dynamics.csv": dynamics}


def _append_new(out_dir: Path, rows_by_file: dict[str, list[dict]]) -> None:
    """Append each file's rows whose keys it does not hold yet (a unit cut short by a crash is redone, not doubled)."""
    for name, rows in rows_by_file.items():
        columns, keys = FILES[name]
        path = out_dir / name
        done = finished_keys(path, keys)
        append_rows(path, [r for r in rows if row_key(r, keys) not in done], columns)


def unit_keys(cfg, mu_b: float) -> dict[str, list[dict]]:
    """The key columns of every row one μ_b unit writes (``mu_rows``), per file, without computing them."""
    T = int(cfg.schedule.steps)
    observables = ("c", "C") if float(cfg.model.sigma_w) > 0 else ("c",)  # τ on C^t needs σ_w² Q* > 0
    return {
        "dynamics.csv": [{"mu_b": mu_b, "t": t, "source": s} for s in SOURCES for t in range(1, T + 1)],
        "fixed_points.csv": [{"mu_b": mu_b, "source": s} for s in SOURCES[1:]],
        "timescales.csv": [{"mu_b": mu_b, "sigma12": float(S), "source": "mc_untied", "observable": o}
                           for S in cfg.timescales.sigma12 for o in observables],
    }


def unfinished_mu(cfg, out_dir: Path) -> list[float]:
    """μ_b values of the grid whose unit lacks any of its rows: a unit counts as finished only when every row of
    every file is there (a crash mid-unit, or a file cut mid-row, leaves it to be redone; ``_append_new`` then
    writes only the missing rows)."""
    have = {name: finished_keys(Path(out_dir) / name, keys) for name, (_, keys) in FILES.items()}
    return [mu for mu in mu_grid(cfg)
            if any(row_key(r, FILES[name][1]) not in have[name] for name, rows in unit_keys(cfg, mu).items()
                   for r in rows)]


def write_schedule(out_dir: Path, cell: str, sigma12: np.ndarray) -> None:
    """``schedule.csv``: Σ12^t of the Fig. 1 schedule, one row per step (cell, t, sigma12), for the figures; written
    whole when missing or different (a resumed run leaves it untouched)."""
    text = "cell,t,sigma12\n" + "".join(f"{cell},{t},{s!r}\n" for t, s in enumerate(map(float, sigma12), start=1))
    if not (out_dir / "schedule.csv").exists() or (out_dir / "schedule.csv").read_text() != text:
        write_text_atomic(out_dir / "schedule.csv", text)


def run(cfg, out_dir) -> dict:
    out_dir = Path(out_dir)
    device = pick_device(cfg.run.device)
    start = time.perf_counter()
    write_schedule(out_dir, "minimal", schedule(cfg))
    _append_new(out_dir, theory_rows(cfg))
    todo = unfinished_mu(cfg, out_dir)
    for mu_b in progress(todo, desc="mf-vs-mc mu_b", quiet=cfg.run.quiet):
        _append_new(out_dir, mu_rows(cfg, mu_b, device))
    draw("mf_vs_mc", out_dir)
    out = summarize(out_dir, tolerance=float(cfg.tolerance), switch=int(cfg.schedule.switch))
    out["mu_b_computed"] = len(todo)
    out["wall_s"] = round(time.perf_counter() - start, 1)
    return out


# ------------------------------------------------------------------------------------------------------ summary
def _pivot(dyn, value: str):
    return dyn.pivot_table(index=["mu_b", "t"], columns="source", values=value)


def summarize(out_dir: Path, tolerance: float = 0.02, switch: int | None = None) -> dict:
    """Headline numbers, from the CSVs only. Tied against untied is compared from the switch on (the approach to c*
    and c* itself; default: the switch ``schedule.csv`` shows, else step 1), split into μ_b where the theory's c* ≈ 1
    and the rest (the chaotic phase)."""
    out_dir = Path(out_dir)
    if switch is None:
        switch = switch_step(out_dir) if (out_dir / "schedule.csv").exists() else 1
    dyn, fp, ts = (read_rows(out_dir / name) for name in FILES)
    c, se = _pivot(dyn, "c"), _pivot(dyn, "c_se")
    diff = (c["theory"] - c["mc_untied"]).abs()
    fp_th = fp[fp.source == "theory"].set_index("mu_b")["c_star"]
    mus = sorted(dyn.mu_b.unique())
    near_one = [m for m in mus if fp_th.get(m, np.nan) >= NEAR_ONE]
    chaotic = [m for m in mus if m not in near_one]
    after = c.index.get_level_values("t") >= switch
    tied_gap = (c["mc_tied"] - c["mc_untied"]).abs()
    tied_noise = np.sqrt(se["mc_tied"] ** 2 + se["mc_untied"] ** 2)
    fpm = fp[fp.source != "theory"].pivot_table(index="mu_b", columns="source", values="c_star")
    star_gap = (fpm["mc_tied"] - fpm["mc_untied"]).abs()

    def worst(series, group, rows=None):
        level = series.index.get_level_values("mu_b") if series.index.nlevels > 1 else series.index
        sel = series[level.isin(group) & (True if rows is None else rows)]
        return round(float(sel.max()), 4) if len(sel) else None

    out = {
        "max_abs_c_theory_minus_untied": round(float(diff.max()), 4),
        "at_mu_b": float(diff.idxmax()[0]),
        "max_c_se_untied": round(float(se["mc_untied"].max()), 4),
        "untied_within_tolerance": bool(diff.max() <= tolerance),
        "tied_vs_untied_max_abs_c_near_one": worst(tied_gap, near_one, after),
        "tied_vs_untied_max_abs_c_chaotic": worst(tied_gap, chaotic, after),
        "tied_vs_untied_max_abs_c_any_t": worst(tied_gap, mus),
        "tied_vs_untied_c_star_gap_near_one": worst(star_gap, near_one),
        "tied_vs_untied_c_star_gap_chaotic": worst(star_gap, chaotic),
        "tied_vs_untied_noise_2se": round(2 * float(tied_noise.max()), 4),
    }
    mc = ts[ts.source == "mc_untied"].merge(
        ts[ts.source == "theory"][["mu_b", "sigma12", "tau"]].rename(columns={"tau": "tau_theory"}),
        on=["mu_b", "sigma12"])
    for obs in ("c", "C"):
        sel = mc[(mc.observable == obs) & np.isfinite(mc.tau) & np.isfinite(mc.tau_theory)]
        rel = (sel.tau / sel.tau_theory - 1).abs()
        out[f"tau_fits_{obs}"] = f"{len(sel)}/{int((mc.observable == obs).sum())}"
        out[f"tau_median_rel_err_{obs}"] = round(float(rel.median()), 3) if len(sel) else None
    return {**out, **_claims(fp, ts, out)}


def _claims(fp, ts, out: dict) -> dict:
    """Fig. 1's claim numbers (experiments.claims): theory c* against untied MC; the tied-vs-untied c* gap, chaotic
    over c* ≈ 1; the μ_b ≤ 3 where the theory's τ(Σ12 = 1) peaks, and how many grid steps that is from 0."""
    claims: dict = {}
    piv = fp.pivot_table(index="mu_b", columns="source", values="c_star").dropna()
    if {"theory", "mc_untied"} <= set(piv.columns) and len(piv):
        claims["max_abs_c_star_theory_minus_untied"] = float((piv.theory - piv.mc_untied).abs().max())
        claims["c_star_mu_b_compared"] = len(piv)
    near, deep = out["tied_vs_untied_c_star_gap_near_one"], out["tied_vs_untied_c_star_gap_chaotic"]
    if near is not None and deep is not None:
        claims["tied_vs_untied_c_star_gap_ratio"] = deep / near if near > 0 else math.inf if deep > 0 else math.nan
    th = ts[(ts.source == "theory") & np.isclose(ts.sigma12, 1.0) & (ts.get("observable", "c") == "c")
            & (ts.mu_b <= 3.0)].sort_values("mu_b")
    if len(th) > 1:
        at = float(th.mu_b.iloc[int(np.argmax(th.tau.replace(np.inf, 1e300).to_numpy()))])
        step = float(np.diff(th.mu_b.to_numpy()).min())
        claims.update(tau_peak_mu_b=at, tau_peak=float(th.tau.max()),
                      tau_peak_grid_steps_from_zero=round(abs(at) / step, 6))  # rounding: the grid's own 1e-10
    return claims
